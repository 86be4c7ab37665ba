// Package cassandra implements the timeline store port on Cassandra (scale profile).
package cassandra

import (
	engine "github.com/ejazz/ejazz/internal/engine/cassandra"
	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/timeline"
)

// Store is the timeline store on Cassandra.
type Store struct {
	storage.Component
}

var _ timeline.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: timeline.Component, EngineName: "cassandra", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "home timeline", Statements: []string{
		`CREATE TABLE IF NOT EXISTS home_timeline (
	user_id     text,
	entry_id    text,
	post_id     text,
	author_id   text,
	reposted_by text,
	PRIMARY KEY (user_id, entry_id)
) WITH CLUSTERING ORDER BY (entry_id DESC)`,
	}},
}
