package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	engine "github.com/ejazz/ejazz/internal/engine/sqlite"
	"github.com/ejazz/ejazz/internal/graph/sqlite"
)

// Benchmark graph: one author with benchFollowers followers, and a
// friendship graph of benchFriendsUsers users with about benchDegree friends
// each (friends also follow each other), seeded in bulk outside the timer.
const (
	benchFollowers    = 100_000
	benchFriendsUsers = 10_000
	benchDegree       = 20
)

func seed(b *testing.B) (*sqlite.Store, string) {
	b.Helper()
	ctx := context.Background()
	db, err := engine.Open(b.TempDir() + "/graph.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	s := sqlite.New(db)
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	err = db.Write(ctx, func(tx *sql.Tx) error {
		user, err := tx.PrepareContext(ctx, `INSERT INTO graph_users (id, private) VALUES (?, 0)`)
		if err != nil {
			return err
		}
		edge, err := tx.PrepareContext(ctx, `INSERT INTO graph_edges (kind, from_id, to_id, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		if _, err := user.ExecContext(ctx, "author"); err != nil {
			return err
		}
		t := time.Now().UnixNano()
		for i := 0; i < benchFollowers; i++ {
			id := fmt.Sprintf("f%06d", i)
			if _, err := user.ExecContext(ctx, id); err != nil {
				return err
			}
			if _, err := edge.ExecContext(ctx, "follow", id, "author", t+int64(i)); err != nil {
				return err
			}
		}
		for i := 0; i < benchFriendsUsers; i++ {
			for k := 0; k < benchDegree/2; k++ {
				a, c := fmt.Sprintf("f%06d", i), fmt.Sprintf("f%06d", rng.IntN(benchFriendsUsers))
				if a == c {
					continue
				}
				for _, e := range [][3]string{{"friend", a, c}, {"friend", c, a}, {"follow", a, c}, {"follow", c, a}} {
					if _, err := edge.ExecContext(ctx, e[0], e[1], e[2], t); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d users, ~%d edges in %v", benchFollowers+1, benchFollowers+4*benchFriendsUsers*benchDegree/2, time.Since(start).Round(time.Millisecond))
	return s, "author"
}

// percentiles reports p50 and p99 of ds as metrics.
func percentiles(b *testing.B, ds []time.Duration) {
	b.Helper()
	if len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, "p99-ms")
}

func BenchmarkGraph(b *testing.B) {
	s, author := seed(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func() string { return fmt.Sprintf("f%06d", rng.IntN(benchFollowers)) }

	b.Run("Follow", func(b *testing.B) {
		ds := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			from, to := pick(), pick()
			if from == to {
				continue
			}
			t := time.Now()
			if _, _, err := s.Follow(ctx, from, to); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t))
		}
		percentiles(b, ds)
	})
	b.Run("Relationship", func(b *testing.B) {
		ds := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			t := time.Now()
			if _, err := s.Relationship(ctx, pick(), pick()); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t))
		}
		percentiles(b, ds)
	})
	b.Run("FollowersPage1000", func(b *testing.B) {
		// Pages walk the whole 100k list and start over.
		ds := make([]time.Duration, 0, b.N)
		cursor := ""
		for i := 0; i < b.N; i++ {
			t := time.Now()
			p, err := s.Followers(ctx, author, cursor, 1000)
			if err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t))
			if len(p.Edges) != 1000 && p.Next != "" {
				b.Fatalf("page of %d", len(p.Edges))
			}
			cursor = p.Next
		}
		percentiles(b, ds)
	})
	b.Run("Suggest", func(b *testing.B) {
		ds := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			u := fmt.Sprintf("f%06d", rng.IntN(benchFriendsUsers))
			t := time.Now()
			sg, err := s.Suggest(ctx, u, 20)
			if err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t))
			if len(sg) == 0 {
				b.Fatalf("no suggestions for %s", u)
			}
		}
		percentiles(b, ds)
	})
}
