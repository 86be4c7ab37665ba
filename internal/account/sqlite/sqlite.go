// Package sqlite implements the account store port on SQLite (embedded profile).
package sqlite

import (
	"github.com/ejazz/ejazz/internal/account"
	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the account store on SQLite.
type Store struct {
	storage.Component
}

var _ account.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: account.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "accounts", Statements: []string{
		`CREATE TABLE IF NOT EXISTS accounts (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL,
	handle        TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	verified_at   TEXT
)`,
		"CREATE UNIQUE INDEX IF NOT EXISTS accounts_email ON accounts (lower(email))",
		"CREATE UNIQUE INDEX IF NOT EXISTS accounts_handle ON accounts (lower(handle))",
	}},
}
