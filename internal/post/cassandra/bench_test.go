package cassandra_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ejazz/ejazz/internal/post"
	"github.com/ejazz/ejazz/internal/post/cassandra"
	"github.com/ejazz/ejazz/internal/storetest"
)

// latencies collects per-operation durations and reports percentiles.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) time(f func()) {
	start := time.Now()
	f()
	d := time.Since(start)
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	b.Helper()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	at := func(p float64) float64 {
		i := min(int(float64(len(l.d))*p), len(l.d)-1)
		return float64(l.d[i].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

func throughput(b *testing.B) {
	b.Helper()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}

func newID(b *testing.B) string {
	id, err := uuid.NewV7()
	if err != nil {
		b.Fatal(err)
	}
	return id.String()
}

// BenchmarkStore measures the adapter on the dev stack's Cassandra (one
// keyspace for all sub-benchmarks):
//
//	go test -run x -bench . -benchtime 1000x ./internal/post/cassandra
func BenchmarkStore(b *testing.B) {
	s := cassandra.New(storetest.Cassandra(b))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	mkPost := func(b *testing.B, authors int) post.Post {
		n := seq.Add(1)
		return post.Post{
			ID: newID(b), AuthorID: fmt.Sprintf("bench-author-%d", n%int64(authors)), Text: fmt.Sprintf("post %d #go #bench", n),
			Visibility: post.Public, Hashtags: []string{"go", "bench"}, CreatedAt: time.Now(),
		}
	}
	create := func(b *testing.B, p post.Post, key string) {
		if _, created, err := s.Create(ctx, p, key); err != nil || !created {
			b.Fatalf("Create = %v, %v", created, err)
		}
	}

	// Create: one post at a time (idempotency key, two hashtags, 1000 authors).
	b.Run("Create", func(b *testing.B) {
		var l latencies
		for b.Loop() {
			p := mkPost(b, 1000)
			l.time(func() { create(b, p, "k-"+p.ID) })
		}
		l.report(b)
		throughput(b)
	})
	// Create without an idempotency key: one lightweight transaction less.
	b.Run("CreateNoKey", func(b *testing.B) {
		var l latencies
		for b.Loop() {
			p := mkPost(b, 1000)
			l.time(func() { create(b, p, "") })
		}
		l.report(b)
		throughput(b)
	})
	// Create throughput: 16 goroutines (8 per core), 1000 authors.
	b.Run("CreateParallel", func(b *testing.B) {
		var l latencies
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p := mkPost(b, 1000)
				l.time(func() { create(b, p, "k-"+p.ID) })
			}
		})
		l.report(b)
		throughput(b)
	})

	// GetPost: what the API reads for one post (Get, then Counts and the
	// viewer's state), on 100 posts with a few likes, reposts and comments.
	var ids []string
	for i := range 100 {
		p := mkPost(b, 100)
		create(b, p, "")
		ids = append(ids, p.ID)
		for u := range i % 5 {
			if _, err := s.Like(ctx, p.ID, fmt.Sprint("fan-", u), time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.Repost(ctx, p.ID, "fan-1", time.Now()); err != nil {
			b.Fatal(err)
		}
		c := post.Comment{ID: newID(b), PostID: p.ID, AuthorID: "fan-2", Text: "nice", CreatedAt: time.Now()}
		if err := s.AddComment(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("GetPost", func(b *testing.B) {
		var l latencies
		i := 0
		for b.Loop() {
			id := ids[i%len(ids)]
			i++
			l.time(func() {
				p, err := s.Get(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				cs, err := s.Counts(ctx, []string{p.ID})
				if err != nil || cs[id].Reposts != 1 || cs[id].Comments != 1 {
					b.Fatalf("Counts = %v, %v", cs, err)
				}
				if _, err := s.Viewer(ctx, "fan-1", []string{p.ID}); err != nil {
					b.Fatal(err)
				}
			})
		}
		l.report(b)
		throughput(b)
	})

	// LikeHot: b.N distinct users like ONE post from 100 goroutines; the
	// count must then be exactly b.N.
	b.Run("LikeHot100", func(b *testing.B) {
		p := mkPost(b, 1000)
		create(b, p, "")
		var l latencies
		var next, changes atomic.Int64
		var failed atomic.Value
		var wg sync.WaitGroup
		b.ResetTimer()
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > int64(b.N) {
						return
					}
					l.time(func() {
						changed, err := s.Like(ctx, p.ID, fmt.Sprintf("liker-%07d", i), time.Now())
						if err != nil {
							failed.Store(err)
						}
						if changed {
							changes.Add(1)
						}
					})
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatalf("Like: %v", err)
		}
		cs, err := s.Counts(ctx, []string{p.ID})
		if err != nil {
			b.Fatal(err)
		}
		if got := cs[p.ID].Likes; got != int64(b.N) || changes.Load() != int64(b.N) {
			b.Fatalf("likes = %d (%d reported a change), want %d", got, changes.Load(), b.N)
		}
		l.report(b)
		throughput(b)
	})
}
