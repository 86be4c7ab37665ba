package storage

import (
	"context"
)

// Engine is a shared connection to one engine: adapters of several domains
// may use the same one.
type Engine interface {
	Migrator
	// Ping runs a trivial real query.
	Ping(ctx context.Context) error
}

// Component implements Store for an adapter on a shared Engine: its name, its
// migrations, and Ping/Migrate/Close. Adapters embed it and add their domain
// methods.
type Component struct {
	// ID is the component's name in the migrations table, e.g. "graph".
	ID string
	// EngineName names the engine in Name(), e.g. "neo4j".
	EngineName string
	// Engine is the shared connection.
	Engine Engine
	// Migrations are the component's schema versions.
	Migrations []Migration
	// OnClose, when set, is called by Close (for adapters that own their connection).
	OnClose func() error
}

// Name returns "component/engine".
func (c *Component) Name() string { return c.ID + "/" + c.EngineName }

// Ping checks the engine.
func (c *Component) Ping(ctx context.Context) error { return c.Engine.Ping(ctx) }

// Migrate applies the component's pending migrations.
func (c *Component) Migrate(ctx context.Context) error {
	_, err := Migrate(ctx, c.Engine, c.ID, c.Migrations)
	return err
}

// Close releases what the adapter owns.
func (c *Component) Close() error {
	if c.OnClose != nil {
		return c.OnClose()
	}
	return nil
}
