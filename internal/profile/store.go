// Package profile owns user profiles (display name, bio, avatar, privacy) and user search. The Store port is implemented by the sqlite (embedded) and postgres (scale) adapters.
package profile

import "github.com/ejazz/ejazz/internal/storage"

// Component is the store's name in migrations and probes.
const Component = "profiles"

// Store is the profile port. Its domain methods arrive with the feature that
// needs them; every adapter must pass the conformance suite in
// internal/storetest (storetest.ProfileStore).
type Store interface {
	storage.Store
}
