// Package account owns accounts and credentials: email, handle, password hash, verification and sessions (the auth service's data). The Store port is implemented by the sqlite (embedded) and postgres (scale) adapters.
package account

import "github.com/ejazz/ejazz/internal/storage"

// Component is the store's name in migrations and probes.
const Component = "accounts"

// Store is the account port. Its domain methods arrive with the feature that
// needs them; every adapter must pass the conformance suite in
// internal/storetest (storetest.AccountStore).
type Store interface {
	storage.Store
}
