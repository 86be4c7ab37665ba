package file_test

import (
	"net/http/httptest"
	"testing"

	"github.com/ejazz/ejazz/internal/blob"
	"github.com/ejazz/ejazz/internal/blob/file"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.BlobStore(t, func(t *testing.T) blob.Store { return file.New(t.TempDir()) })
	storetest.BlobURLs(t, func(t *testing.T) blob.Store {
		s := file.New(t.TempDir())
		srv := httptest.NewServer(s.Handler())
		t.Cleanup(srv.Close)
		return s.WithURLs(srv.URL, []byte("0123456789abcdef0123456789abcdef"))
	})
}
