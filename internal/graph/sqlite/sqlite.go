// Package sqlite implements the graph store port on SQLite (embedded profile).
package sqlite

import (
	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the graph store on SQLite.
type Store struct {
	storage.Component
}

var _ graph.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: graph.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "edges", Statements: []string{
		`CREATE TABLE IF NOT EXISTS edges (
	kind       TEXT NOT NULL,
	from_id    TEXT NOT NULL,
	to_id      TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (kind, from_id, to_id)
)`,
		"CREATE INDEX IF NOT EXISTS edges_to ON edges (kind, to_id, from_id)",
	}},
}
