package cassandra_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/storetest"
	"github.com/ejazz/ejazz/internal/timeline"
	"github.com/ejazz/ejazz/internal/timeline/cassandra"
)

// latencies collects per-operation durations and reports percentiles.
type latencies []time.Duration

func (l *latencies) time(f func()) {
	start := time.Now()
	f()
	*l = append(*l, time.Since(start))
}

func (l latencies) report(b *testing.B) {
	b.Helper()
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	at := func(p float64) float64 {
		i := min(int(float64(len(l))*p), len(l)-1)
		return float64(l[i].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

const (
	fanOut   = 1000 // owners of one fan-out batch
	pool     = 100  // prefilled timelines for Page, Trim and RemoveAuthor
	poolLen  = timeline.MaxEntries
	pageSize = 20
	authors  = 50
)

// BenchmarkStore measures the adapter on the dev stack's Cassandra (one
// keyspace for all sub-benchmarks; about 15 s in all on the dev stack):
//
//	go test -run x -bench . ./internal/timeline/cassandra
//
// Add is one fan-out batch: one entry to 1,000 owners. Page, Trim and
// RemoveAuthor run on 100 timelines prefilled with timeline.MaxEntries
// entries each (50 authors; every fifth entry a repost). Trim is the
// fan-out's steady state: one entry more than the bound (written with the
// timer stopped), trimmed back to it.
func BenchmarkStore(b *testing.B) {
	s := cassandra.New(storetest.Cassandra(b))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	seq := 0
	entry := func() timeline.Entry {
		seq++
		e := timeline.Entry{PostID: fmt.Sprintf("p%08d", seq), AuthorID: fmt.Sprintf("a%02d", seq%authors), At: base.Add(time.Duration(seq) * time.Millisecond)}
		if seq%5 == 0 {
			e.RepostedBy = fmt.Sprintf("a%02d", (seq/5)%authors)
		}
		return e
	}
	add := func(b *testing.B, owners []string, e timeline.Entry) {
		if err := s.Add(ctx, owners, e); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("Add1000", func(b *testing.B) {
		owners := make([]string, fanOut)
		for i := range owners {
			owners[i] = fmt.Sprintf("fan-%04d", i)
		}
		var l latencies
		for b.Loop() {
			e := entry()
			l.time(func() { add(b, owners, e) })
		}
		l.report(b)
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/batch")
		b.ReportMetric(float64(fanOut*b.N)/b.Elapsed().Seconds(), "rows/s")
	})

	// The pool is filled by the first sub-benchmark that needs it, so that
	// -bench Add alone does not wait for it.
	owners := make([]string, pool)
	for i := range owners {
		owners[i] = fmt.Sprintf("tl-%03d", i)
	}
	var cursors []string // a cursor halfway down each pool timeline
	prefill := func(b *testing.B) {
		if cursors != nil {
			return
		}
		start := time.Now()
		for range poolLen {
			add(b, owners, entry())
		}
		b.Logf("prefilled %d timelines of %d entries in %v", pool, poolLen, time.Since(start).Round(time.Millisecond))
		for _, o := range owners {
			_, next, err := s.Page(ctx, o, "", poolLen/2)
			if err != nil || next == "" {
				b.Fatalf("Page = %q, %v", next, err)
			}
			cursors = append(cursors, next)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))

	b.Run("Page20", func(b *testing.B) {
		prefill(b)
		var l latencies
		for b.Loop() {
			o := owners[rnd.IntN(pool)]
			l.time(func() {
				if es, next, err := s.Page(ctx, o, "", pageSize); err != nil || len(es) != pageSize || next == "" {
					b.Fatalf("Page = %d entries, %q, %v", len(es), next, err)
				}
			})
		}
		l.report(b)
	})

	// A page from the middle of a timeline, after a cursor.
	b.Run("Page20Cursor", func(b *testing.B) {
		prefill(b)
		var l latencies
		for b.Loop() {
			i := rnd.IntN(pool)
			l.time(func() {
				if es, _, err := s.Page(ctx, owners[i], cursors[i], pageSize); err != nil || len(es) != pageSize {
					b.Fatalf("Page = %d entries, %v", len(es), err)
				}
			})
		}
		l.report(b)
	})

	b.Run("Trim", func(b *testing.B) {
		prefill(b)
		var l latencies
		i := 0
		for b.Loop() {
			o := owners[i%pool]
			i++
			b.StopTimer()
			add(b, []string{o}, entry())
			b.StartTimer()
			l.time(func() {
				if err := s.Trim(ctx, o, poolLen); err != nil {
					b.Fatal(err)
				}
			})
		}
		l.report(b)
		es, _, err := s.Page(ctx, owners[0], "", 2*poolLen)
		if err != nil || len(es) != poolLen {
			b.Fatalf("after Trim: %d entries, %v", len(es), err)
		}
	})

	// RemoveAuthor reads a whole timeline and deletes about 1/50 of it (an
	// author's posts and reposts); each (timeline, author) pair runs once.
	b.Run("RemoveAuthor", func(b *testing.B) {
		prefill(b)
		var l latencies
		removed, i := 0, 0
		for b.Loop() {
			o, a := owners[i%pool], fmt.Sprintf("a%02d", (i/pool)%authors)
			i++
			l.time(func() {
				n, err := s.RemoveAuthor(ctx, o, a)
				if err != nil {
					b.Fatal(err)
				}
				removed += n
			})
		}
		l.report(b)
		b.ReportMetric(float64(removed)/float64(b.N), "removed/op")
	})
}
