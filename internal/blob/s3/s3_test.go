package s3_test

import (
	"testing"

	"github.com/ejazz/ejazz/internal/blob"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.BlobStore(t, func(t *testing.T) blob.Store { return storetest.S3(t) })
	storetest.BlobURLs(t, func(t *testing.T) blob.Store { return storetest.S3(t) })
}
