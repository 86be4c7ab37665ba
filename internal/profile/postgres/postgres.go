// Package postgres implements the profile store port on PostgreSQL (scale profile).
package postgres

import (
	engine "github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/profile"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the profile store on PostgreSQL.
type Store struct {
	storage.Component
}

var _ profile.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: profile.Component, EngineName: "postgres", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "profiles", Statements: []string{
		`CREATE TABLE IF NOT EXISTS profiles (
	user_id         text PRIMARY KEY,
	handle          text NOT NULL,
	display_name    text NOT NULL DEFAULT '',
	bio             text NOT NULL DEFAULT '',
	avatar_media_id text NOT NULL DEFAULT '',
	is_private      boolean NOT NULL DEFAULT false,
	created_at      timestamptz NOT NULL DEFAULT now()
)`,
		"CREATE UNIQUE INDEX IF NOT EXISTS profiles_handle ON profiles (lower(handle))",
	}},
}
