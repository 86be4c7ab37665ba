// Package sqlite implements the profile store port on SQLite (embedded profile).
package sqlite

import (
	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the profile store on SQLite.
type Store struct {
	storage.Component
}

var _ profile.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: profile.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "profiles", Statements: []string{
		`CREATE TABLE IF NOT EXISTS profiles (
	user_id         TEXT PRIMARY KEY,
	handle          TEXT NOT NULL,
	display_name    TEXT NOT NULL DEFAULT '',
	bio             TEXT NOT NULL DEFAULT '',
	avatar_media_id TEXT NOT NULL DEFAULT '',
	is_private      INTEGER NOT NULL DEFAULT 0,
	created_at      TEXT NOT NULL
)`,
		"CREATE UNIQUE INDEX IF NOT EXISTS profiles_handle ON profiles (lower(handle))",
	}},
}
