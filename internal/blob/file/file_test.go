package file_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/blob"
	"github.com/ejazz/ejazz/internal/blob/file"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.BlobStore(t, func(t *testing.T) blob.Store { return file.New(t.TempDir()) })
}
