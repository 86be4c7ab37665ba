package ratelimit_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/ratelimit"
	"github.com/ejazz/ejazz/internal/ratelimit/memory"
	"github.com/ejazz/ejazz/internal/ratelimit/postgres"
	"github.com/ejazz/ejazz/internal/storetest"
)

// BenchmarkLimiterMemory measures Limiter.Check on the embedded profile's store.
func BenchmarkLimiterMemory(b *testing.B) {
	benchLimiter(b, memory.New(), 1)
}

// BenchmarkLimiterPostgres measures Limiter.Check on the scale profile's store
// (EJAZZ_POSTGRES_DSN; one round trip per bucket taken). The parallel case
// runs 8 goroutines per CPU, as a gateway serves many requests at once.
func BenchmarkLimiterPostgres(b *testing.B) {
	s := postgres.New(storetest.Postgres(b))
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	benchLimiter(b, s, 8)
}

// benchLimiter runs Check for calls spread over 1000 users and addresses, with
// limits never reached so every call takes from all its buckets: anonymous (1
// bucket), authenticated (2), authenticated to an expensive procedure (3).
func benchLimiter(b *testing.B, s ratelimit.Store, parallelism int) {
	high := ratelimit.PerSecond(100_000, 1_000_000)
	l, err := ratelimit.NewLimiter(s, &ratelimit.Policy{
		Anonymous: high, User: high, UserIP: high,
		Expensive: map[string]ratelimit.Rule{ratelimit.ProcedureCreatePost: high},
	}, ratelimit.Options{Timeout: time.Minute}) // measure the store, never fail open
	if err != nil {
		b.Fatal(err)
	}
	const population = 1000
	users, ips := make([]string, population), make([]string, population)
	for i := range population {
		users[i] = "user" + strconv.Itoa(i)
		ips[i] = "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250)
	}
	for _, c := range []struct {
		name, procedure string
		anonymous       bool
	}{
		{"anonymous", getFoo, true},
		{"user", getFoo, false},
		{"user-expensive", ratelimit.ProcedureCreatePost, false},
	} {
		check := func(i int) {
			user := users[i%population]
			if c.anonymous {
				user = ""
			}
			d, err := l.Check(context.Background(), c.procedure, user, ips[i%population])
			if err != nil || !d.Allowed {
				b.Fatalf("Check = %+v, %v", d, err)
			}
		}
		b.Run(c.name+"/serial", func(b *testing.B) {
			i := 0
			for b.Loop() {
				check(i)
				i++
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			var next atomic.Int64
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					check(int(next.Add(1)))
				}
			})
		})
	}
}
