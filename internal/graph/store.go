// Package graph owns the social graph: follows, follow requests, friendships, blocks and mutes. The Store port is implemented by the sqlite (embedded) and neo4j (scale) adapters.
package graph

import "github.com/ejazz/ejazz/internal/storage"

// Component is the store's name in migrations and probes.
const Component = "graph"

// Store is the graph port. Its domain methods arrive with the feature that
// needs them; every adapter must pass the conformance suite in
// internal/storetest (storetest.GraphStore).
type Store interface {
	storage.Store
}
