// Package analytics owns engagement analytics: the event store port, its schema and the queries behind AnalyticsService. The Store port is implemented by the sqlite (embedded) and clickhouse (scale) adapters.
package analytics

import "github.com/ejazz/ejazz/internal/storage"

// Component is the store's name in migrations and probes.
const Component = "analytics"

// Store is the analytics port. Its domain methods arrive with the feature that
// needs them; every adapter must pass the conformance suite in
// internal/storetest (storetest.AnalyticsStore).
type Store interface {
	storage.Store
}
