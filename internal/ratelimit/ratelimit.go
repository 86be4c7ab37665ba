// Package ratelimit limits the rate of calls the gateway admits, per user, per
// client IP and per expensive procedure, with limits shared by every gateway
// replica.
//
// # Algorithm: GCRA
//
// Each key (a user, an IP, a user's budget for one procedure) is a token
// bucket of Burst tokens refilled at Rate tokens per second, implemented as
// the Generic Cell Rate Algorithm: the store keeps one instant per key, the
// "theoretical arrival time" (TAT), instead of a token count and a refill
// timestamp. Taking n tokens at instant now:
//
//	debt     = max(TAT - now, 0)          // time the bucket needs to be full again
//	allowed  = debt + n/Rate <= Burst/Rate
//	TAT      = now + debt + n/Rate        // only when allowed
//	Remaining  = floor((Burst/Rate - debt) / (1/Rate))
//	RetryAfter = debt + n/Rate - Burst/Rate  // when refused
//
// One value per key means one read-modify-write per take: a single SQL
// statement on PostgreSQL, a short critical section in memory. A refused take
// consumes nothing. A key whose TAT has passed is a full bucket, exactly like
// a key that was never seen, so idle keys can be deleted at any time
// (Store.Sweep) without changing any decision. When the Rule of a key changes
// (a policy reload), the stored debt is rescaled from the old emission
// interval to the new one, so "tokens used" carries over and a raised rate or
// burst takes effect at once.
//
// # Stores
//
// Store is the port; ratelimit/postgres is the scale profile's adapter and
// ratelimit/memory the embedded profile's. PostgreSQL was chosen because it
// is already the scale profile's account store: every gateway replica reaches
// it, so limits are global without running another engine (Redis) just for
// counters. Each take is one INSERT … ON CONFLICT DO UPDATE … RETURNING that
// reads the clock with clock_timestamp() on the server, so replicas with
// skewed clocks still agree on every bucket. The storetest.RateLimitStore
// suite proves both adapters decide alike.
//
// # Policy, Limiter, Middleware
//
// Policy holds the limits as data (per-user, per-IP and per-procedure
// "expensive" budgets); Limiter applies the current Policy (swappable at run
// time with SetPolicy) to one call; Middleware refuses over-limit Connect,
// gRPC and gRPC-Web calls with `resource_exhausted` and a Retry-After header.
//
// When the store fails (PostgreSQL down or slow), the Limiter fails open: the
// call is allowed, the error counted and logged. Rate limiting protects
// capacity; refusing every call because its bookkeeping is unavailable would
// turn a degraded dependency into a full outage of the public API, which is
// worse than briefly running without limits (the services behind still have
// their own protections: sign-in failure lockout, request timeouts).
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ejazz/ejazz/internal/storage"
)

// Component is the rate-limit store's name in migrations and probes.
const Component = "ratelimit"

// ErrInvalid marks a take that can never be decided: an invalid Rule, or n
// outside 1..Burst.
var ErrInvalid = errors.New("invalid rate-limit take")

// MaxRate is the highest Rate a Rule may have: one token per microsecond, the
// resolution of PostgreSQL timestamps (a finer emission interval would be
// rounded away on every take).
const MaxRate = 1e6

// Rule is one token bucket: Burst tokens, refilled at Rate tokens per second.
// The zero Rule means "no limit" where a Policy holds rules.
type Rule struct {
	// Rate is the refill rate in tokens per second (> 0).
	Rate float64 `json:"rate" koanf:"rate"`
	// Burst is the bucket's capacity: how many tokens a full bucket admits at once (>= 1).
	Burst int `json:"burst" koanf:"burst"`
}

// PerSecond returns a Rule of n tokens per second with the given burst.
func PerSecond(n float64, burst int) Rule { return Rule{Rate: n, Burst: burst} }

// Every returns a Rule refilling one token every d, with the given burst.
func Every(d time.Duration, burst int) Rule {
	return Rule{Rate: float64(time.Second) / float64(d), Burst: burst}
}

// IsZero reports whether r is the zero Rule (no limit).
func (r Rule) IsZero() bool { return r == Rule{} }

// Validate reports whether r can be applied.
func (r Rule) Validate() error {
	if !(r.Rate > 0) || r.Rate > MaxRate || r.Burst < 1 {
		return fmt.Errorf("%w: rule %v/s burst %d: want a rate in (0, %g] and a burst >= 1", ErrInvalid, r.Rate, r.Burst, MaxRate)
	}
	return nil
}

// Interval is the emission interval 1/Rate: the time one token takes to refill.
func (r Rule) Interval() time.Duration {
	return time.Duration(float64(time.Second) / r.Rate)
}

// CheckTake validates a take of n tokens under r; adapters call it first.
func CheckTake(r Rule, n int) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if n < 1 || n > r.Burst {
		return fmt.Errorf("%w: take %d tokens from a bucket of burst %d", ErrInvalid, n, r.Burst)
	}
	return nil
}

// Decision is the outcome of a take.
type Decision struct {
	// Allowed: the tokens were taken.
	Allowed bool
	// Remaining is how many tokens the bucket still holds after the take (or,
	// when refused, holds now).
	Remaining int
	// RetryAfter is, when refused, how long until the same take would be
	// allowed; zero when allowed.
	RetryAfter time.Duration
}

// Store is the rate-limit port: token buckets by key, shared by every process
// using the same store.
type Store interface {
	storage.Store
	// Take atomically takes n tokens (1..r.Burst) from key's bucket under
	// rule r, or takes none and says when to retry. A key never seen, or idle
	// long enough to refill, is a full bucket. When r differs from the rule
	// of the key's previous take, the tokens used so far carry over to the
	// new rule. An invalid rule or n is ErrInvalid.
	Take(ctx context.Context, key string, r Rule, n int) (Decision, error)
	// Sweep deletes the keys whose buckets are full again (idle past their
	// refill time), which changes no decision, and returns how many it
	// deleted. Run it periodically (SweepEvery) so the store does not grow
	// with every key ever seen.
	Sweep(ctx context.Context) (int64, error)
}

// SweepEvery calls s.Sweep every interval until ctx ends, reporting failures
// to onError (when not nil). Run it in one goroutine per process; running it
// on several replicas at once is harmless.
func SweepEvery(ctx context.Context, s Store, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Sweep(ctx); err != nil && onError != nil && ctx.Err() == nil {
				onError(fmt.Errorf("ratelimit sweep %s: %w", s.Name(), err))
			}
		}
	}
}

// Decide turns the outcome of a take of n tokens under r into a Decision,
// given whether it was allowed and the bucket's debt after it (how long, in
// seconds, until the bucket is full again). Adapters share it so Remaining
// and RetryAfter are computed alike everywhere.
func Decide(r Rule, n int, allowed bool, debt float64) Decision {
	interval := 1 / r.Rate
	dvt := float64(r.Burst) * interval
	debt = max(debt, 0)
	remaining := int(math.Floor((dvt-debt)/interval + 1e-6))
	d := Decision{Allowed: allowed, Remaining: min(max(remaining, 0), r.Burst)}
	if !allowed {
		wait := debt + float64(n)*interval - dvt
		d.RetryAfter = max(time.Duration(wait*float64(time.Second)), time.Microsecond)
	}
	return d
}
