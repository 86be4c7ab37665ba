// Package sqlite is the embedded profile's engine: one SQLite file per store
// (modernc.org/sqlite, pure Go) in WAL mode with a busy timeout, plus the
// migrator that records applied versions in the file itself.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/telemetry"
)

// maxConns bounds a file's connection pool (readers run concurrently in WAL
// mode; writers take turns in Write).
const maxConns = 32

// DB is one SQLite database file.
type DB struct {
	*sql.DB
	path string
	mu   sync.Mutex // serializes migrations within the process
	wmu  sync.Mutex // serializes Write transactions within the process
	// cache holds prepared read statements (stmtcache.go).
	cache stmtCache
}

// Open opens (creating if needed) the database at path; ":memory:" gives a
// private in-memory database.
func Open(path string) (*DB, error) {
	dsn := "file::memory:?cache=private"
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("sqlite %s: %w", path, err)
		}
		dsn = "file:" + (&url.URL{Path: path}).EscapedPath()
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	sep := "?"
	if path == ":memory:" {
		sep = "&"
	}
	db, err := sql.Open("sqlite", dsn+sep+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// Keep connections: database/sql's default of 2 idle connections made
	// every burst of concurrent requests open (and configure, and re-prepare
	// statements on) new SQLite connections — a large share of CPU under load.
	db.SetMaxIdleConns(maxConns)
	db.SetMaxOpenConns(maxConns)
	if path == ":memory:" {
		db.SetMaxOpenConns(1) // every connection would be a new empty database
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{DB: db, path: path}, nil
}

// Path is the database file.
func (d *DB) Path() string { return d.path }

// Write runs fn in a transaction, one Write at a time per DB. SQLite allows
// one writer anyway; taking the turn here, before BEGIN, spares concurrent
// read-then-write transactions the SQLITE_BUSY a lock upgrade would give
// them. A transaction that still meets SQLITE_BUSY (another process holds
// the file's write lock past the busy timeout, e.g. a seeder) is retried a
// few times. fn's error (or a failed commit) rolls back and is returned.
func (d *DB) Write(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	ctx, end := telemetry.Span(ctx, "sqlite.write", attribute.String("db.system", "sqlite"))
	defer end(&err)
	d.wmu.Lock()
	defer d.wmu.Unlock()
	for attempt := 0; attempt < 3; attempt++ {
		if err = d.write(ctx, fn); !busy(err) {
			return err
		}
	}
	return err
}

func (d *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// busy reports SQLITE_BUSY (5) and its extended codes.
func busy(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code()&0xff == 5
}

// Ping runs SELECT 1.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite %s: %w", d.path, err)
	}
	return nil
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS ejazz_schema_migrations (
	component  TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	applied_at TEXT    NOT NULL,
	PRIMARY KEY (component, version)
)`

// Lock serializes migrations in this process; SQLite's write lock covers others.
func (d *DB) Lock(ctx context.Context) (func(), error) {
	d.mu.Lock()
	if _, err := d.ExecContext(ctx, migrationsTable); err != nil {
		d.mu.Unlock()
		return nil, err
	}
	return d.mu.Unlock, nil
}

// Applied returns the applied versions of component.
func (d *DB) Applied(ctx context.Context, component string) (map[int]bool, error) {
	rows, err := d.QueryContext(ctx, `SELECT version FROM ejazz_schema_migrations WHERE component = ?`, component)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out[v] = true
	}
	return out, rows.Err()
}

// Apply runs m in one transaction (SQLite has transactional DDL).
func (d *DB) Apply(ctx context.Context, component string, m storage.Migration) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, s := range m.Statements {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ejazz_schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)`,
		component, m.Version, m.Name, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return err
	}
	return tx.Commit()
}

var _ storage.Engine = (*DB)(nil)
