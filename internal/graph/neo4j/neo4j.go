// Package neo4j implements the graph store port on Neo4j (scale profile).
package neo4j

import (
	engine "github.com/ejazz/ejazz/internal/engine/neo4j"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the graph store on Neo4j.
type Store struct {
	storage.Component
}

var _ graph.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: graph.Component, EngineName: "neo4j", Engine: db, Migrations: migrations},
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "user constraint", Statements: []string{
		"CREATE CONSTRAINT user_id IF NOT EXISTS FOR (u:User) REQUIRE u.id IS UNIQUE",
	}},
}
