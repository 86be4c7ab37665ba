// Package postgres implements the media store port on PostgreSQL (scale profile).
package postgres

import (
	engine "github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the media store on PostgreSQL.
type Store struct {
	storage.Component
}

var _ media.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: media.Component, EngineName: "postgres", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "media", Statements: []string{
		`CREATE TABLE IF NOT EXISTS media (
	id           text PRIMARY KEY,
	owner_id     text NOT NULL,
	status       smallint NOT NULL,
	content_type text NOT NULL,
	size_bytes   bigint NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT now()
)`,
		"CREATE INDEX IF NOT EXISTS media_owner ON media (owner_id)",
	}},
}
