// Package clickhouse is the scale profile's analytics engine
// (clickhouse-go/v2 over the native protocol): connection setup, health and
// the migrator. SQL here must run on Debian's ClickHouse 18.16 and on a
// current release: inserts go through batches with an explicit column list
// (18.16 hangs on Exec("INSERT … VALUES")); no DateTime64, Map or table TTL.
package clickhouse

import (
	"context"
	"fmt"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ejazz/ejazz/internal/storage"
)

// Options configures the connection.
type Options struct {
	Addr     string
	Database string
	Username string
	Password string
}

// DB is a native-protocol connection pool bound to the Ejazz database.
type DB struct {
	Conn     driver.Conn
	Database string
	mu       sync.Mutex
}

// Open creates the database when missing and connects to it.
func Open(ctx context.Context, o Options) (*DB, error) {
	if !storage.ValidIdentifier(o.Database) {
		return nil, fmt.Errorf("clickhouse: clickhouse.database %q must be letters, digits and underscores", o.Database)
	}
	open := func(db string) (driver.Conn, error) {
		return ch.Open(&ch.Options{
			Addr:        []string{o.Addr},
			Auth:        ch.Auth{Database: db, Username: o.Username, Password: o.Password},
			DialTimeout: 5 * time.Second,
			ReadTimeout: 30 * time.Second,
		})
	}
	boot, err := open("default")
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", o.Addr, err)
	}
	err = boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+o.Database)
	_ = boot.Close()
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: create database %s: %w", o.Addr, o.Database, err)
	}
	conn, err := open(o.Database)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", o.Addr, err)
	}
	return &DB{Conn: conn, Database: o.Database}, nil
}

// Close closes the pool.
func (d *DB) Close() error { return d.Conn.Close() }

// Ping runs SELECT 1.
func (d *DB) Ping(ctx context.Context) error {
	var one uint8
	if err := d.Conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	return nil
}

// Lock serializes migrations within the process; statements are idempotent.
func (d *DB) Lock(ctx context.Context) (func(), error) {
	d.mu.Lock()
	if err := d.Conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS ejazz_schema_migrations (
		component String, version UInt32, name String, applied_at DateTime
	) ENGINE = ReplacingMergeTree ORDER BY (component, version)`); err != nil {
		d.mu.Unlock()
		return nil, err
	}
	return d.mu.Unlock, nil
}

// Applied returns the applied versions of component.
func (d *DB) Applied(ctx context.Context, component string) (map[int]bool, error) {
	rows, err := d.Conn.Query(ctx, `SELECT DISTINCT version FROM ejazz_schema_migrations WHERE component = ?`, component)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out[int(v)] = true
	}
	return out, rows.Err()
}

// Apply runs m's statements, then records it with a batch insert.
func (d *DB) Apply(ctx context.Context, component string, m storage.Migration) error {
	for _, s := range m.Statements {
		if err := d.Conn.Exec(ctx, s); err != nil {
			return err
		}
	}
	b, err := d.Conn.PrepareBatch(ctx, `INSERT INTO ejazz_schema_migrations (component, version, name, applied_at)`)
	if err != nil {
		return err
	}
	if err := b.Append(component, uint32(m.Version), m.Name, time.Now().UTC()); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

var _ storage.Engine = (*DB)(nil)
