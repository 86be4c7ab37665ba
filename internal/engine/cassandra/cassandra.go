// Package cassandra is the scale profile's Cassandra engine (gocql): a session
// with token-aware routing, LOCAL_QUORUM reads/writes by default, the keyspace
// created by Migrate, and the migrator (versions recorded in
// ejazz_schema_migrations; CQL DDL is not transactional, so every statement is
// written to be re-runnable with IF NOT EXISTS).
package cassandra

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/telemetry"
)

// Options configures the session.
type Options struct {
	Hosts             []string // host:port
	Keyspace          string
	ReplicationFactor int
	Username          string
	Password          string
	Timeout           time.Duration
}

// DB is a gocql session bound to the Ejazz keyspace.
type DB struct {
	Session  *gocql.Session
	Keyspace string
	mu       sync.Mutex
}

func clusterConfig(o Options) (*gocql.ClusterConfig, error) {
	if len(o.Hosts) == 0 {
		return nil, fmt.Errorf("cassandra: cassandra.hosts is empty")
	}
	hosts := make([]string, 0, len(o.Hosts))
	port := 9042
	for _, h := range o.Hosts {
		host, p, err := net.SplitHostPort(h)
		if err != nil {
			return nil, fmt.Errorf("cassandra: cassandra.hosts: %q: %w", h, err)
		}
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("cassandra: cassandra.hosts: %q: bad port", h)
		}
		hosts = append(hosts, host)
	}
	c := gocql.NewCluster(hosts...)
	c.Port = port
	c.Consistency = gocql.LocalQuorum
	c.SerialConsistency = gocql.LocalSerial
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	c.Timeout = o.Timeout
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	c.ConnectTimeout = c.Timeout
	c.ProtoVersion = 4
	c.QueryObserver = observer{}
	c.BatchObserver = observer{}
	if o.Username != "" {
		c.Authenticator = gocql.PasswordAuthenticator{Username: o.Username, Password: o.Password}
	}
	return c, nil
}

// Open creates the keyspace when missing and opens a session on it.
func Open(ctx context.Context, o Options) (*DB, error) {
	if !storage.ValidIdentifier(o.Keyspace) {
		return nil, fmt.Errorf("cassandra: cassandra.keyspace %q must be letters, digits and underscores", o.Keyspace)
	}
	if o.ReplicationFactor < 1 {
		o.ReplicationFactor = 1
	}
	c, err := clusterConfig(o)
	if err != nil {
		return nil, err
	}
	boot, err := c.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra %v: %w", o.Hosts, err)
	}
	err = boot.Query(fmt.Sprintf(`CREATE KEYSPACE IF NOT EXISTS %s WITH replication = {'class': 'SimpleStrategy', 'replication_factor': %d}`,
		o.Keyspace, o.ReplicationFactor)).WithContext(ctx).Exec()
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("cassandra: create keyspace %s: %w", o.Keyspace, err)
	}
	c.Keyspace = o.Keyspace
	// A token-aware policy cannot be shared between sessions.
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	s, err := c.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra %v keyspace %s: %w", o.Hosts, o.Keyspace, err)
	}
	return &DB{Session: s, Keyspace: o.Keyspace}, nil
}

// Close closes the session.
func (d *DB) Close() { d.Session.Close() }

// Ping reads the local node's release version.
func (d *DB) Ping(ctx context.Context) error {
	var v string
	if err := d.Session.Query(`SELECT release_version FROM system.local`).WithContext(ctx).Scan(&v); err != nil {
		return fmt.Errorf("cassandra: %w", err)
	}
	return nil
}

// Lock serializes migrations within the process; statements are idempotent.
func (d *DB) Lock(ctx context.Context) (func(), error) {
	d.mu.Lock()
	if err := d.Session.Query(`CREATE TABLE IF NOT EXISTS ejazz_schema_migrations (
		component text, version int, name text, applied_at timestamp,
		PRIMARY KEY (component, version))`).WithContext(ctx).Exec(); err != nil {
		d.mu.Unlock()
		return nil, err
	}
	return d.mu.Unlock, nil
}

// Applied returns the applied versions of component.
func (d *DB) Applied(ctx context.Context, component string) (map[int]bool, error) {
	it := d.Session.Query(`SELECT version FROM ejazz_schema_migrations WHERE component = ?`, component).WithContext(ctx).Iter()
	out := map[int]bool{}
	var v int
	for it.Scan(&v) {
		out[v] = true
	}
	return out, it.Close()
}

// Apply runs m's statements, then records it.
func (d *DB) Apply(ctx context.Context, component string, m storage.Migration) error {
	for _, s := range m.Statements {
		if err := d.Session.Query(s).WithContext(ctx).Exec(); err != nil {
			return err
		}
	}
	return d.Session.Query(`INSERT INTO ejazz_schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)`,
		component, m.Version, m.Name, time.Now().UTC()).WithContext(ctx).Idempotent(true).Exec()
}

var _ storage.Engine = (*DB)(nil)

// observer makes a span of every query and batch run inside a trace.
type observer struct{}

func (observer) ObserveQuery(ctx context.Context, q gocql.ObservedQuery) {
	telemetry.SpanAt(ctx, "cassandra.query", q.Start, q.End, q.Err, telemetry.Statement("cassandra", q.Statement)...)
}

func (observer) ObserveBatch(ctx context.Context, b gocql.ObservedBatch) {
	first := ""
	if len(b.Statements) > 0 {
		first = b.Statements[0]
	}
	telemetry.SpanAt(ctx, "cassandra.batch", b.Start, b.End, b.Err, telemetry.Statement("cassandra", first)...)
}
