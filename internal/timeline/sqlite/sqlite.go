// Package sqlite implements the timeline store port on SQLite (embedded profile).
package sqlite

import (
	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/timeline"
)

// Store is the timeline store on SQLite.
type Store struct {
	storage.Component
}

var _ timeline.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: timeline.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "home timeline", Statements: []string{
		`CREATE TABLE IF NOT EXISTS home_timeline (
	user_id     TEXT NOT NULL,
	entry_id    TEXT NOT NULL,
	post_id     TEXT NOT NULL,
	author_id   TEXT NOT NULL,
	reposted_by TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (user_id, entry_id)
)`,
	}},
}
