// Package cassandra implements the post store port on Cassandra (scale profile).
package cassandra

import (
	engine "github.com/ejazz/ejazz/internal/engine/cassandra"
	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the post store on Cassandra.
type Store struct {
	storage.Component
}

var _ post.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: post.Component, EngineName: "cassandra", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "posts", Statements: []string{
		`CREATE TABLE IF NOT EXISTS posts_by_id (
	post_id    text PRIMARY KEY,
	author_id  text,
	body       text,
	visibility int,
	created_at timestamp
)`,
		`CREATE TABLE IF NOT EXISTS posts_by_author (
	author_id text,
	post_id   text,
	PRIMARY KEY (author_id, post_id)
) WITH CLUSTERING ORDER BY (post_id DESC)`,
	}},
}
