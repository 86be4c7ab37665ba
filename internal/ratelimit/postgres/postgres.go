// Package postgres implements the rate-limit store port on PostgreSQL (scale
// profile), shared by every gateway replica.
//
// Each take is one statement (INSERT … ON CONFLICT DO UPDATE … RETURNING), so
// it costs one round trip and is atomic under any number of concurrent
// replicas: the conflicting row is locked for the update, and the decision is
// computed from its latest version. The clock is the server's
// (clock_timestamp(), read once per statement and stored as seen_at), never a
// replica's, so replicas with skewed clocks agree on every bucket.
//
// The buckets live in an UNLOGGED table: it is written on every request, and
// an unlogged table skips the write-ahead log (several times cheaper writes,
// no WAL volume or replication traffic for counters). What it gives up is
// durability: after a crash PostgreSQL truncates it, which only refills every
// bucket — acceptable for rate limits — and it is not copied to standbys. The
// table is created with fillfactor 70 and no index on tat, so the per-take
// update stays a HOT update; Sweep scans it instead (run periodically, over
// active keys only).
package postgres

import (
	"context"
	"fmt"

	engine "github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/ratelimit"
	"github.com/ejazz/ejazz/internal/storage"
)

// Store is the rate-limit store on PostgreSQL.
type Store struct {
	storage.Component
	db *engine.DB
}

var _ ratelimit.Store = (*Store)(nil)

// New returns the store on a shared connection; call Migrate before use.
func New(db *engine.DB) *Store {
	return &Store{
		Component: storage.Component{ID: ratelimit.Component, EngineName: "postgres", Engine: db, Migrations: migrations},
		db:        db,
	}
}

// migrations are the store's schema versions; append, never edit a released one.
var migrations = []storage.Migration{
	{Version: 1, Name: "ratelimit_buckets", Statements: []string{
		`CREATE UNLOGGED TABLE IF NOT EXISTS ratelimit_buckets (
	key      text PRIMARY KEY,
	tat      timestamptz NOT NULL,
	emission double precision NOT NULL,
	allowed  boolean NOT NULL,
	seen_at  timestamptz NOT NULL
) WITH (fillfactor = 70)`,
	}},
}

// takeSQL takes tokens from one bucket. $1 key, $2 the emission interval
// 1/Rate, $3 the bucket's capacity in time Burst/Rate, $4 the cost n/Rate (all
// seconds). A new key takes at once (n <= Burst is checked before). On an
// existing key: debt is the time until the bucket is full, rescaled when the
// emission interval changed; the take is allowed when debt + cost fits the
// capacity (within 0.1µs, below the timestamp resolution). allowed is stored
// in the row so RETURNING can report it (RETURNING sees only the new row
// before PostgreSQL 18).
const takeSQL = `INSERT INTO ratelimit_buckets AS b (key, tat, emission, allowed, seen_at)
SELECT $1, c.now + make_interval(secs => $4::float8), $2::float8, true, c.now
FROM (SELECT clock_timestamp() AS now) AS c
ON CONFLICT (key) DO UPDATE SET (tat, emission, allowed, seen_at) = (
	SELECT EXCLUDED.seen_at + make_interval(secs => y.debt + CASE WHEN y.ok THEN $4::float8 ELSE 0 END), $2::float8, y.ok, EXCLUDED.seen_at
	FROM (SELECT x.debt, x.debt + $4::float8 <= $3::float8 + 1e-7 AS ok
		FROM (SELECT greatest(extract(epoch FROM b.tat - EXCLUDED.seen_at)::float8, 0) * ($2::float8 / b.emission) AS debt) AS x) AS y)
RETURNING allowed, extract(epoch FROM tat - seen_at)::float8`

// Take implements ratelimit.Store.
func (s *Store) Take(ctx context.Context, key string, r ratelimit.Rule, n int) (ratelimit.Decision, error) {
	if err := ratelimit.CheckTake(r, n); err != nil {
		return ratelimit.Decision{}, err
	}
	interval := 1 / r.Rate
	var (
		allowed bool
		debt    float64
	)
	err := s.db.QueryRow(ctx, takeSQL, key, interval, float64(r.Burst)*interval, float64(n)*interval).Scan(&allowed, &debt)
	if err != nil {
		return ratelimit.Decision{}, fmt.Errorf("ratelimit take: %w", err)
	}
	return ratelimit.Decide(r, n, allowed, debt), nil
}

// Sweep implements ratelimit.Store.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM ratelimit_buckets WHERE tat <= clock_timestamp()`)
	if err != nil {
		return 0, fmt.Errorf("ratelimit sweep: %w", err)
	}
	return tag.RowsAffected(), nil
}
