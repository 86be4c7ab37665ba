// Package post owns posts, edits, reposts, quotes, likes, comments, hashtags and mentions. The Store port is implemented by the sqlite (embedded) and cassandra (scale) adapters.
package post

import "github.com/ejazz/ejazz/internal/storage"

// Component is the store's name in migrations and probes.
const Component = "posts"

// Store is the post port. Its domain methods arrive with the feature that
// needs them; every adapter must pass the conformance suite in
// internal/storetest (storetest.PostStore).
type Store interface {
	storage.Store
}
