// Package media owns media metadata: upload sessions, pipeline status and variants (the bytes live behind the blob port). The Store port is implemented by the sqlite (embedded) and postgres (scale) adapters.
package media

import "github.com/ejazz/ejazz/internal/storage"

// Component is the store's name in migrations and probes.
const Component = "media"

// Store is the media port. Its domain methods arrive with the feature that
// needs them; every adapter must pass the conformance suite in
// internal/storetest (storetest.MediaStore).
type Store interface {
	storage.Store
}
