// Package neo4j is the scale profile's graph engine (neo4j-go-driver/v5 over
// Bolt): driver setup, health, and the migrator (constraints and indexes as
// Cypher with IF NOT EXISTS; applied versions recorded as :EjazzSchemaMigration nodes).
package neo4j

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	neo4jconfig "github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/telemetry"
)

// Options configures the driver.
type Options struct {
	URI      string
	Username string
	Password string
	Database string
}

// DB is a Neo4j driver bound to one database.
type DB struct {
	Driver   neo4j.DriverWithContext
	Database string
	mu       sync.Mutex
}

// Open creates the driver and verifies connectivity.
func Open(ctx context.Context, o Options) (*DB, error) {
	auth := neo4j.NoAuth()
	if o.Username != "" {
		auth = neo4j.BasicAuth(o.Username, o.Password, "")
	}
	drv, err := neo4j.NewDriverWithContext(o.URI, auth, func(c *neo4jconfig.Config) {
		c.SocketConnectTimeout = 5 * time.Second
		c.MaxConnectionPoolSize = 50
	})
	if err != nil {
		return nil, fmt.Errorf("neo4j: neo4j.uri: %w", err)
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := drv.VerifyConnectivity(vctx); err != nil {
		_ = drv.Close(ctx)
		return nil, fmt.Errorf("neo4j %s: %w", o.URI, err)
	}
	return &DB{Driver: drv, Database: o.Database}, nil
}

// Close closes the driver.
func (d *DB) Close(ctx context.Context) error { return d.Driver.Close(ctx) }

// Run executes a Cypher query in an auto-retried transaction of the given mode.
func (d *DB) Run(ctx context.Context, query string, params map[string]any) (_ *neo4j.EagerResult, err error) {
	ctx, end := telemetry.Span(ctx, "neo4j.query", telemetry.Statement("neo4j", query)...)
	defer end(&err)
	return neo4j.ExecuteQuery(ctx, d.Driver, query, params, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(d.Database))
}

// Ping runs RETURN 1.
func (d *DB) Ping(ctx context.Context) error {
	res, err := d.Run(ctx, "RETURN 1 AS one", nil)
	if err != nil {
		return fmt.Errorf("neo4j: %w", err)
	}
	if len(res.Records) != 1 {
		return fmt.Errorf("neo4j: RETURN 1 gave %d records", len(res.Records))
	}
	return nil
}

// Lock serializes migrations within the process; the statements are idempotent.
func (d *DB) Lock(context.Context) (func(), error) {
	d.mu.Lock()
	return d.mu.Unlock, nil
}

// Applied returns the applied versions of component.
func (d *DB) Applied(ctx context.Context, component string) (map[int]bool, error) {
	res, err := d.Run(ctx, `MATCH (m:EjazzSchemaMigration {component: $c}) RETURN m.version AS v`, map[string]any{"c": component})
	if err != nil {
		return nil, err
	}
	out := map[int]bool{}
	for _, r := range res.Records {
		v, _ := r.Get("v")
		if n, ok := v.(int64); ok {
			out[int(n)] = true
		}
	}
	return out, nil
}

// Apply runs m's statements (schema statements cannot share a transaction
// with writes), then records it.
func (d *DB) Apply(ctx context.Context, component string, m storage.Migration) error {
	for _, s := range m.Statements {
		if _, err := d.Run(ctx, s, nil); err != nil {
			return err
		}
	}
	_, err := d.Run(ctx, `MERGE (m:EjazzSchemaMigration {component: $c, version: $v}) SET m.name = $n, m.applied_at = datetime()`,
		map[string]any{"c": component, "v": m.Version, "n": m.Name})
	return err
}

var _ storage.Engine = (*DB)(nil)
