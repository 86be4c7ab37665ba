// Package notification owns the notification inbox, grouping and preferences. The Store port is implemented by the sqlite (embedded) and cassandra (scale) adapters.
package notification

import "github.com/ejazz/ejazz/internal/storage"

// Component is the store's name in migrations and probes.
const Component = "notifications"

// Store is the notification port. Its domain methods arrive with the feature that
// needs them; every adapter must pass the conformance suite in
// internal/storetest (storetest.NotificationStore).
type Store interface {
	storage.Store
}
