// Package postgres is the scale profile's PostgreSQL engine (pgx/v5 pool):
// connection setup, health, and the migrator (versions recorded in
// ejazz_schema_migrations, serialized across processes by an advisory lock,
// each migration in one transaction).
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ejazz/ejazz/internal/storage"
	"github.com/ejazz/ejazz/internal/telemetry"
)

// DB is a PostgreSQL pool shared by every store on PostgreSQL.
type DB struct {
	*pgxpool.Pool
}

// Open connects to dsn and checks the server answers.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: postgres.dsn: %w", err)
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.ConnConfig.Tracer = tracer{}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{Pool: pool}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Ping runs SELECT 1.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("postgres %s:%d: %w", d.Config().ConnConfig.Host, d.Config().ConnConfig.Port, err)
	}
	return nil
}

// Lock takes a session advisory lock on a dedicated connection.
func (d *DB) Lock(ctx context.Context) (func(), error) {
	conn, err := d.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	const key = 0x656a617a7a // "ejazz"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		conn.Release()
		return nil, err
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS ejazz_schema_migrations (
		component  text        NOT NULL,
		version    integer     NOT NULL,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (component, version))`); err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
		conn.Release()
		return nil, err
	}
	return func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
		conn.Release()
	}, nil
}

// Applied returns the applied versions of component.
func (d *DB) Applied(ctx context.Context, component string) (map[int]bool, error) {
	rows, err := d.Query(ctx, `SELECT version FROM ejazz_schema_migrations WHERE component = $1`, component)
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	out := map[int]bool{}
	for _, v := range versions {
		out[int(v)] = true
	}
	return out, nil
}

// Apply runs m in one transaction.
func (d *DB) Apply(ctx context.Context, component string, m storage.Migration) error {
	return pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		for _, s := range m.Statements {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO ejazz_schema_migrations (component, version, name) VALUES ($1, $2, $3)`, component, m.Version, m.Name)
		return err
	})
}

var _ storage.Engine = (*DB)(nil)

// tracer makes a span of every query run inside a trace.
type tracer struct{}

type spanEnd struct{}

func (tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	ctx, end := telemetry.Span(ctx, "postgres.query", telemetry.Statement("postgresql", data.SQL)...)
	return context.WithValue(ctx, spanEnd{}, end)
}

func (tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	if end, ok := ctx.Value(spanEnd{}).(func(*error)); ok {
		err := data.Err
		end(&err)
	}
}
