// Package sqlite implements the post store port on SQLite (embedded profile).
package sqlite

import (
	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the post store on SQLite.
type Store struct {
	storage.Component
}

var _ post.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: post.Component, EngineName: "sqlite", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "posts", Statements: []string{
		`CREATE TABLE IF NOT EXISTS posts (
	id         TEXT PRIMARY KEY,
	author_id  TEXT NOT NULL,
	body       TEXT NOT NULL,
	visibility INTEGER NOT NULL,
	created_at TEXT NOT NULL
)`,
		"CREATE INDEX IF NOT EXISTS posts_author ON posts (author_id, id DESC)",
	}},
}
