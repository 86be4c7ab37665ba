// Package cassandra implements the notification store port on Cassandra (scale profile).
package cassandra

import (
	engine "github.com/ejazz/ejazz/internal/engine/cassandra"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the notification store on Cassandra.
type Store struct {
	storage.Component
}

var _ notification.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: notification.Component, EngineName: "cassandra", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "inbox", Statements: []string{
		`CREATE TABLE IF NOT EXISTS inbox (
	user_id         text,
	notification_id text,
	kind            int,
	payload         blob,
	read            boolean,
	PRIMARY KEY (user_id, notification_id)
) WITH CLUSTERING ORDER BY (notification_id DESC)`,
	}},
}
