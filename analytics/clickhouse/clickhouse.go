// Package clickhouse implements the analytics store port on ClickHouse (scale profile).
package clickhouse

import (
	"github.com/ejazz/ejazz/analytics"
	engine "github.com/ejazz/ejazz/internal/engine/clickhouse"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the analytics store on ClickHouse.
type Store struct {
	storage.Component
}

var _ analytics.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: analytics.Component, EngineName: "clickhouse", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "events", Statements: []string{
		`CREATE TABLE IF NOT EXISTS events (
	event_id String,
	kind     String,
	user_id  String,
	post_id  String,
	at       DateTime
) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(at) ORDER BY (kind, at, event_id)`,
	}},
}
