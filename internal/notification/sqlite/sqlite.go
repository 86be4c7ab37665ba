// Package sqlite implements the notification store port on SQLite (embedded profile).
package sqlite

import (
	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the notification store on SQLite.
type Store struct {
	storage.Component
}

var _ notification.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: notification.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "inbox", Statements: []string{
		`CREATE TABLE IF NOT EXISTS inbox (
	user_id         TEXT NOT NULL,
	notification_id TEXT NOT NULL,
	kind            INTEGER NOT NULL,
	payload         BLOB NOT NULL,
	read            INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, notification_id)
)`,
	}},
}
