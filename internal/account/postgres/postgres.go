// Package postgres implements the account store port on PostgreSQL (scale profile).
package postgres

import (
	"github.com/ejazz/ejazz/internal/account"
	engine "github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the account store on PostgreSQL.
type Store struct {
	storage.Component
}

var _ account.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: account.Component, EngineName: "postgres", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "accounts", Statements: []string{
		`CREATE TABLE IF NOT EXISTS accounts (
	id            text PRIMARY KEY,
	email         text NOT NULL,
	handle        text NOT NULL,
	password_hash text NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	verified_at   timestamptz
)`,
		"CREATE UNIQUE INDEX IF NOT EXISTS accounts_email ON accounts (lower(email))",
		"CREATE UNIQUE INDEX IF NOT EXISTS accounts_handle ON accounts (lower(handle))",
	}},
}
