package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/ratelimit"
	"github.com/ejazz/ejazz/internal/storage"
)

// RateLimitStore is the conformance suite of the rate-limit port: a full
// bucket admits exactly Burst takes then refuses with RetryAfter about one
// emission interval and nothing consumed; buckets refill with real time;
// keys are independent; concurrent takes never over-admit (exactly Burst of
// 10*Burst); n>1 takes and invalid takes; a changed Rule takes effect on an
// existing key with its used tokens carried over; Sweep deletes the idle keys
// and only those.
func RateLimitStore(t *testing.T, open func(t *testing.T) ratelimit.Store) {
	Lifecycle(t, ratelimit.Component, func(t *testing.T) storage.Store { return open(t) })
	setup := func(t *testing.T) (ratelimit.Store, context.Context) { return migrated(t, open) }
	take := func(t *testing.T, c context.Context, s ratelimit.Store, key string, r ratelimit.Rule, n int) ratelimit.Decision {
		t.Helper()
		d, err := s.Take(c, key, r, n)
		if err != nil {
			t.Fatalf("Take(%q, %+v, %d): %v", key, r, n, err)
		}
		return d
	}
	// slow refills one token every 2s: no refill within a fast test step.
	slow := ratelimit.Rule{Rate: 0.5, Burst: 5}

	t.Run("burst then refused", func(t *testing.T) {
		s, c := setup(t)
		for i := range slow.Burst {
			d := take(t, c, s, "k", slow, 1)
			if !d.Allowed || d.Remaining != slow.Burst-1-i || d.RetryAfter != 0 {
				t.Fatalf("take %d = %+v, want allowed, remaining %d, no RetryAfter", i+1, d, slow.Burst-1-i)
			}
		}
		for i := range 3 {
			d := take(t, c, s, "k", slow, 1)
			if d.Allowed || d.Remaining != 0 {
				t.Fatalf("take %d past the burst = %+v, want refused with 0 remaining", slow.Burst+i+1, d)
			}
			// One token refills in 2s; a little of it has passed already.
			if d.RetryAfter <= 1500*time.Millisecond || d.RetryAfter > 2*time.Second+time.Millisecond {
				t.Errorf("RetryAfter = %v, want just under the 2s emission interval", d.RetryAfter)
			}
		}
	})

	t.Run("refill over time", func(t *testing.T) {
		s, c := setup(t)
		fast := ratelimit.Rule{Rate: 20, Burst: 2} // a token every 50ms
		var refused ratelimit.Decision
		for range 20 { // a slow machine may refill between takes: take until refused
			if refused = take(t, c, s, "k", fast, 1); !refused.Allowed {
				break
			}
		}
		if refused.Allowed {
			t.Fatalf("20 quick takes of a 20/s burst-2 bucket were all allowed")
		}
		if refused.RetryAfter <= 0 || refused.RetryAfter > 50*time.Millisecond+time.Millisecond {
			t.Fatalf("RetryAfter = %v, want in (0, 50ms]", refused.RetryAfter)
		}
		time.Sleep(refused.RetryAfter + 5*time.Millisecond)
		if d := take(t, c, s, "k", fast, 1); !d.Allowed {
			t.Fatalf("take after RetryAfter = %+v, want allowed", d)
		}
		time.Sleep(150 * time.Millisecond) // more than a full refill (100ms)
		if d := take(t, c, s, "k", fast, 1); !d.Allowed || d.Remaining != fast.Burst-1 {
			t.Fatalf("take after a full refill = %+v, want allowed with %d remaining", d, fast.Burst-1)
		}
	})

	t.Run("independent keys", func(t *testing.T) {
		s, c := setup(t)
		for range slow.Burst {
			take(t, c, s, "a", slow, 1)
		}
		if d := take(t, c, s, "a", slow, 1); d.Allowed {
			t.Fatalf("key a past its burst = %+v, want refused", d)
		}
		for _, k := range []string{"b", "A", "a ", "u:a"} {
			if d := take(t, c, s, k, slow, 1); !d.Allowed || d.Remaining != slow.Burst-1 {
				t.Errorf("first take of key %q = %+v, want allowed with %d remaining", k, d, slow.Burst-1)
			}
		}
	})

	t.Run("concurrent takes never over-admit", func(t *testing.T) {
		s, c := setup(t)
		r := ratelimit.Rule{Rate: 0.001, Burst: 20}
		var allowed, refused atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 10*r.Burst)
		for range 10 * r.Burst {
			wg.Go(func() {
				<-start
				d, err := s.Take(c, "shared", r, 1)
				switch {
				case err != nil:
					errs <- err
				case d.Allowed:
					allowed.Add(1)
				default:
					refused.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent Take: %v", err)
		}
		if allowed.Load() != int64(r.Burst) || refused.Load() != int64(9*r.Burst) {
			t.Fatalf("of %d concurrent takes %d were allowed and %d refused, want exactly %d allowed",
				10*r.Burst, allowed.Load(), refused.Load(), r.Burst)
		}
	})

	t.Run("n tokens at once", func(t *testing.T) {
		s, c := setup(t)
		r := ratelimit.Rule{Rate: 1, Burst: 10}
		if d := take(t, c, s, "k", r, 4); !d.Allowed || d.Remaining != 6 {
			t.Fatalf("take 4 of 10 = %+v, want allowed with 6 remaining", d)
		}
		d := take(t, c, s, "k", r, 7)
		if d.Allowed || d.Remaining != 6 {
			t.Fatalf("take 7 with 6 left = %+v, want refused with 6 remaining", d)
		}
		if d.RetryAfter <= 500*time.Millisecond || d.RetryAfter > time.Second+time.Millisecond {
			t.Errorf("take 7 with 6 left: RetryAfter = %v, want about one token's 1s", d.RetryAfter)
		}
		if d := take(t, c, s, "k", r, 6); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("take 6 with 6 left = %+v, want allowed with 0 remaining (a refused take consumes nothing)", d)
		}
		if d := take(t, c, s, "k", r, 1); d.Allowed {
			t.Fatalf("take 1 from an empty bucket = %+v, want refused", d)
		}
		for _, bad := range []struct {
			r ratelimit.Rule
			n int
		}{{r, 0}, {r, -1}, {r, 11}, {ratelimit.Rule{Rate: 0, Burst: 1}, 1}, {ratelimit.Rule{Rate: 1, Burst: 0}, 1}, {ratelimit.Rule{Rate: -1, Burst: 5}, 1}, {ratelimit.Rule{Rate: 2 * ratelimit.MaxRate, Burst: 5}, 1}} {
			if _, err := s.Take(c, "bad", bad.r, bad.n); !errors.Is(err, ratelimit.ErrInvalid) {
				t.Errorf("Take(%+v, %d) = %v, want ratelimit.ErrInvalid", bad.r, bad.n, err)
			}
		}
	})

	t.Run("a changed rule takes effect", func(t *testing.T) {
		s, c := setup(t)
		small := ratelimit.Rule{Rate: 0.01, Burst: 2}
		take(t, c, s, "k", small, 2)
		if d := take(t, c, s, "k", small, 1); d.Allowed {
			t.Fatalf("take from an exhausted bucket = %+v, want refused", d)
		}
		// A larger burst at the same rate: the 2 used tokens carry over.
		bigger := ratelimit.Rule{Rate: 0.01, Burst: 5}
		if d := take(t, c, s, "k", bigger, 1); !d.Allowed || d.Remaining != 2 {
			t.Fatalf("take under a raised burst = %+v, want allowed with 2 remaining (5 - 3 used)", d)
		}
		// Back to the smaller burst: 3 used exceeds it.
		if d := take(t, c, s, "k", small, 1); d.Allowed || d.Remaining != 0 {
			t.Fatalf("take under a lowered burst = %+v, want refused", d)
		}
		// A much faster rate: 3 used tokens refill in 3ms instead of 300s.
		fast := ratelimit.Rule{Rate: 1000, Burst: 5}
		if d := take(t, c, s, "k", fast, 1); !d.Allowed {
			t.Fatalf("take under a raised rate = %+v, want allowed", d)
		}
		time.Sleep(20 * time.Millisecond)
		if d := take(t, c, s, "k", fast, 1); !d.Allowed || d.Remaining != fast.Burst-1 {
			t.Fatalf("take after refilling at the raised rate = %+v, want allowed with %d remaining", d, fast.Burst-1)
		}
	})

	t.Run("sweep removes idle keys", func(t *testing.T) {
		s, c := setup(t)
		fast := ratelimit.Rule{Rate: 100, Burst: 1} // full again 10ms after a take
		for _, k := range []string{"idle1", "idle2", "idle3"} {
			take(t, c, s, k, fast, 1)
		}
		for range slow.Burst {
			take(t, c, s, "busy", slow, 1)
		}
		time.Sleep(30 * time.Millisecond)
		removed, err := s.Sweep(c)
		if err != nil {
			t.Fatalf("Sweep: %v", err)
		}
		if removed != 3 {
			t.Fatalf("Sweep removed %d keys, want the 3 idle ones", removed)
		}
		if d := take(t, c, s, "busy", slow, 1); d.Allowed {
			t.Fatalf("take from the exhausted key after Sweep = %+v, want still refused", d)
		}
		if d := take(t, c, s, "idle1", fast, 1); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("take from a swept key = %+v, want allowed like a new key", d)
		}
		if removed, err := s.Sweep(c); err != nil || removed != 0 {
			t.Fatalf("second Sweep = %d, %v; want 0 (idle1 was just taken from, busy is exhausted)", removed, err)
		}
	})
}
