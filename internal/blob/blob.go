// Package blob owns the media bytes port: objects addressed by key, written
// whole and read back as streams. The scale adapter is S3 (aws-sdk-go-v2);
// the embedded adapter keeps files under the data directory.
package blob

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// Component is the store's name in probes.
const Component = "blobs"

// CacheControl is stored with (and served for) every object: keys are never
// rewritten with other content (variant keys carry a hash of their bytes), so
// clients and CDNs may cache them for good.
const CacheControl = "public, max-age=31536000, immutable"

// Info describes a stored object.
type Info struct {
	Key         string
	Size        int64
	ContentType string
}

// Store is the blob port. Keys are slash-separated relative paths
// ("media/<id>/original"); Get/Stat/Delete of a missing key return
// storage.ErrNotFound (Delete of a missing key is not an error).
type Store interface {
	storage.Store
	// Put stores size bytes from r under key, replacing any object there.
	Put(ctx context.Context, key, contentType string, r io.Reader, size int64) error
	// Get opens the object; the caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Stat describes the object.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; deleting a missing key succeeds.
	Delete(ctx context.Context, key string) error
	// PresignPut returns a URL that accepts one PUT of exactly size bytes of
	// contentType under key until ttl passes, and the headers the request
	// must carry. The type and length are part of the signature: a request
	// with others is refused.
	PresignPut(ctx context.Context, key, contentType string, size int64, ttl time.Duration) (string, http.Header, error)
	// PresignGet returns a URL that reads key until ttl passes.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}
