// Package timeline owns home and user timelines: per-user lists of post references, newest first, written by feed fan-out. The Store port is implemented by the sqlite (embedded) and cassandra (scale) adapters.
package timeline

import "github.com/ejazz/ejazz/internal/storage"

// Component is the store's name in migrations and probes.
const Component = "timelines"

// Store is the timeline port. Its domain methods arrive with the feature that
// needs them; every adapter must pass the conformance suite in
// internal/storetest (storetest.TimelineStore).
type Store interface {
	storage.Store
}
