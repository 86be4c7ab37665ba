// Package sqlite implements the analytics store port on SQLite (embedded profile).
package sqlite

import (
	"github.com/ejazz/ejazz/analytics"
	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the analytics store on SQLite.
type Store struct {
	storage.Component
}

var _ analytics.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: analytics.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "events", Statements: []string{
		`CREATE TABLE IF NOT EXISTS events (
	event_id TEXT PRIMARY KEY,
	kind     TEXT NOT NULL,
	user_id  TEXT NOT NULL,
	post_id  TEXT NOT NULL DEFAULT '',
	at       TEXT NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS events_kind_at ON events (kind, at)",
	}},
}
