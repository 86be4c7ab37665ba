// Package sqlite implements the media store port on SQLite (embedded profile).
package sqlite

import (
	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the media store on SQLite.
type Store struct {
	storage.Component
}

var _ media.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: media.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "media", Statements: []string{
		`CREATE TABLE IF NOT EXISTS media (
	id           TEXT PRIMARY KEY,
	owner_id     TEXT NOT NULL,
	status       INTEGER NOT NULL,
	content_type TEXT NOT NULL,
	size_bytes   INTEGER NOT NULL,
	created_at   TEXT NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS media_owner ON media (owner_id)",
	}},
}
