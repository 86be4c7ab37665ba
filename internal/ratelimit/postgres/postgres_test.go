package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	engine "github.com/ejazz/ejazz/internal/engine/postgres"
	"github.com/ejazz/ejazz/internal/ratelimit"
	"github.com/ejazz/ejazz/internal/ratelimit/postgres"
	"github.com/ejazz/ejazz/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RateLimitStore(t, func(t *testing.T) ratelimit.Store { return postgres.New(storetest.Postgres(t)) })
}

// Two replicas (two pools, as two gateway processes would have) share one
// bucket: concurrent takes through both admit exactly Burst in total.
func TestReplicasShareBuckets(t *testing.T) {
	db := storetest.Postgres(t)
	c := context.Background()
	other, err := engine.Open(c, db.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	replicas := []*postgres.Store{postgres.New(db), postgres.New(other)}
	if err := replicas[0].Migrate(c); err != nil {
		t.Fatal(err)
	}
	r := ratelimit.Rule{Rate: 0.001, Burst: 15}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 10 * r.Burst {
		wg.Go(func() {
			d, err := replicas[i%2].Take(c, "shared", r, 1)
			if err != nil {
				t.Error(err)
				return
			}
			if d.Allowed {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != int64(r.Burst) {
		t.Fatalf("two replicas admitted %d of %d takes, want exactly %d", allowed.Load(), 10*r.Burst, r.Burst)
	}
}

// The buckets table is UNLOGGED (see the package comment).
func TestTableIsUnlogged(t *testing.T) {
	db := storetest.Postgres(t)
	c := context.Background()
	if err := postgres.New(db).Migrate(c); err != nil {
		t.Fatal(err)
	}
	var persistence string
	if err := db.QueryRow(c, `SELECT relpersistence::text FROM pg_class WHERE oid = 'ratelimit_buckets'::regclass`).Scan(&persistence); err != nil {
		t.Fatal(err)
	}
	if persistence != "u" {
		t.Fatalf("ratelimit_buckets relpersistence = %q, want u (unlogged)", persistence)
	}
}
