package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Procedures with their own default budgets (see DefaultPolicy).
const (
	ProcedureSignUp               = "/ejazz.auth.v1.AuthService/SignUp"
	ProcedureSignIn               = "/ejazz.auth.v1.AuthService/SignIn"
	ProcedureVerifyEmail          = "/ejazz.auth.v1.AuthService/VerifyEmail"
	ProcedureRequestPasswordReset = "/ejazz.auth.v1.AuthService/RequestPasswordReset"
	ProcedureResetPassword        = "/ejazz.auth.v1.AuthService/ResetPassword"
	ProcedureConfirmTotp          = "/ejazz.auth.v1.AuthService/ConfirmTotp"
	ProcedureCreatePost           = "/ejazz.post.v1.PostService/CreatePost"
	ProcedureCreateComment        = "/ejazz.post.v1.PostService/CreateComment"
	ProcedureCreateUpload         = "/ejazz.media.v1.MediaService/CreateUpload"
	ProcedureSearchUsers          = "/ejazz.user.v1.UserService/SearchUsers"
)

// Policy is the set of limits, as data: load it from config and swap it at
// run time with Limiter.SetPolicy. A zero Rule disables that limit.
//
// Every call takes one token from its caller's general bucket: an anonymous
// call from its IP's Anonymous bucket; an authenticated call from the user's
// User bucket and from its IP's UserIP bucket. A call to a procedure listed in
// Expensive also takes one token from that procedure's budget of the user (or
// of the IP, when anonymous).
type Policy struct {
	// Anonymous limits each client IP's calls that carry no authenticated user.
	Anonymous Rule `json:"anonymous" koanf:"anonymous"`
	// User limits each authenticated user's calls, whatever their address.
	User Rule `json:"user" koanf:"user"`
	// UserIP limits each client IP's authenticated calls. It should be looser
	// than Anonymous and User: many users may share one address (NAT,
	// offices, mobile carriers); it bounds an attacker cycling through stolen
	// or fresh accounts from one address.
	UserIP Rule `json:"user_ip" koanf:"user_ip"`
	// Expensive holds extra budgets by Connect procedure
	// ("/ejazz.auth.v1.AuthService/SignIn"), taken per user, or per IP for
	// anonymous calls.
	Expensive map[string]Rule `json:"expensive" koanf:"expensive"`
}

// DefaultPolicy returns the limits the gateway starts with.
func DefaultPolicy() *Policy {
	return &Policy{
		Anonymous: PerSecond(5, 40),
		User:      PerSecond(20, 100),
		UserIP:    PerSecond(100, 400),
		Expensive: map[string]Rule{
			// Credential guessing and account farming.
			ProcedureSignIn:               Every(6*time.Second, 10), // 10/min
			ProcedureSignUp:               Every(2*time.Minute, 5),  // 30/h
			ProcedureVerifyEmail:          Every(6*time.Second, 10), // codes are short: 10/min
			ProcedureRequestPasswordReset: Every(time.Minute, 3),    // each one sends a mail
			ProcedureResetPassword:        Every(6*time.Second, 10), // 10/min
			ProcedureConfirmTotp:          Every(12*time.Second, 5), // 5/min
			ProcedureCreatePost:           Every(2*time.Second, 20), // each one starts a fan-out
			ProcedureCreateComment:        Every(time.Second, 30),   //
			ProcedureCreateUpload:         Every(6*time.Second, 10), // each one starts a media pipeline
			ProcedureSearchUsers:          Every(200*time.Millisecond, 20),
		},
	}
}

// Validate reports the first invalid non-zero rule of p.
func (p *Policy) Validate() error {
	if p == nil {
		return errors.New("ratelimit: nil policy")
	}
	for name, r := range map[string]Rule{"anonymous": p.Anonymous, "user": p.User, "user_ip": p.UserIP} {
		if !r.IsZero() {
			if err := r.Validate(); err != nil {
				return fmt.Errorf("ratelimit policy %s: %w", name, err)
			}
		}
	}
	for proc, r := range p.Expensive {
		if !r.IsZero() {
			if err := r.Validate(); err != nil {
				return fmt.Errorf("ratelimit policy expensive %s: %w", proc, err)
			}
		}
	}
	return nil
}

func (p *Policy) clone() *Policy {
	c := *p
	c.Expensive = maps.Clone(p.Expensive)
	return &c
}

// ErrFailedOpen wraps the store error of a Check that was allowed because the
// store failed.
var ErrFailedOpen = errors.New("rate-limit store failed: call allowed")

// Options tune a Limiter; the zero value is usable.
type Options struct {
	// Logger receives store failures, at most one line per LogEvery
	// (default slog.Default()).
	Logger *slog.Logger
	// LogEvery spaces failure logs (default 10s).
	LogEvery time.Duration
	// Timeout bounds the store calls of one Check (default 250ms); past it the
	// call fails open.
	Timeout time.Duration
	// Registerer, when set, receives the limiter's Prometheus counters:
	// ejazz_ratelimit_refused_total{scope} and ejazz_ratelimit_store_errors_total.
	Registerer prometheus.Registerer
}

// Limiter applies the current Policy to calls, with buckets in a Store. It is
// safe for concurrent use.
type Limiter struct {
	store    Store
	policy   atomic.Pointer[Policy]
	log      *slog.Logger
	logEvery time.Duration
	timeout  time.Duration

	storeErrors atomic.Uint64
	lastLog     atomic.Int64 // unix nanoseconds of the last failure log
	refused     *prometheus.CounterVec
	errCounter  prometheus.Counter
}

// NewLimiter returns a Limiter on s applying p.
func NewLimiter(s Store, p *Policy, o Options) (*Limiter, error) {
	l := &Limiter{store: s, log: o.Logger, logEvery: o.LogEvery, timeout: o.Timeout}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.logEvery <= 0 {
		l.logEvery = 10 * time.Second
	}
	if l.timeout <= 0 {
		l.timeout = 250 * time.Millisecond
	}
	if err := l.SetPolicy(p); err != nil {
		return nil, err
	}
	if o.Registerer != nil {
		l.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejazz_ratelimit_refused_total",
			Help: "Calls refused by the rate limiter, by the bucket that refused them (anonymous, user, user_ip, expensive).",
		}, []string{"scope"})
		l.errCounter = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ejazz_ratelimit_store_errors_total",
			Help: "Rate-limit checks allowed because the store failed (fail-open).",
		})
		if err := o.Registerer.Register(l.refused); err != nil {
			return nil, fmt.Errorf("ratelimit metrics: %w", err)
		}
		if err := o.Registerer.Register(l.errCounter); err != nil {
			return nil, fmt.Errorf("ratelimit metrics: %w", err)
		}
	}
	return l, nil
}

// SetPolicy validates p and makes it the policy of the following checks; an
// invalid p is refused and the current policy stays. The Limiter keeps a copy,
// so the caller may reuse p.
func (l *Limiter) SetPolicy(p *Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	l.policy.Store(p.clone())
	return nil
}

// Policy returns a copy of the current policy.
func (l *Limiter) Policy() *Policy { return l.policy.Load().clone() }

// StoreErrors returns how many checks failed open since the Limiter started.
func (l *Limiter) StoreErrors() uint64 { return l.storeErrors.Load() }

// take is one bucket a call draws from.
type take struct {
	scope string
	key   string
	rule  Rule
}

// Check takes one token from each bucket of the call to procedure by userID
// ("" when anonymous) from ip, in order: the procedure's expensive budget, the
// user's bucket, the IP's bucket. It stops at the first refusal, which is the
// Decision returned (its RetryAfter is that bucket's); tokens taken from the
// earlier buckets are not given back. When every bucket allows, Remaining is
// the smallest remaining. A call no rule applies to is allowed with
// Remaining -1.
//
// When the store fails, the call is allowed (fail-open) and the error is
// returned wrapped in ErrFailedOpen, counted and logged; callers act on the
// Decision alone.
func (l *Limiter) Check(ctx context.Context, procedure, userID, ip string) (Decision, error) {
	p := l.policy.Load()
	var takes [3]take
	n := 0
	add := func(scope, key string, r Rule) {
		if !r.IsZero() {
			takes[n] = take{scope, key, r}
			n++
		}
	}
	addr := ipKey(ip)
	if userID != "" {
		add("expensive", "x:"+procedure+":u:"+userID, p.Expensive[procedure])
		add("user", "u:"+userID, p.User)
		add("user_ip", "uip:"+addr, p.UserIP)
	} else {
		add("expensive", "x:"+procedure+":ip:"+addr, p.Expensive[procedure])
		add("anonymous", "ip:"+addr, p.Anonymous)
	}
	out := Decision{Allowed: true, Remaining: -1}
	if n == 0 {
		return out, nil
	}
	tctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	for _, t := range takes[:n] {
		d, err := l.store.Take(tctx, t.key, t.rule, 1)
		if err != nil {
			if ctx.Err() != nil { // the caller went away: not the store's failure
				return Decision{Allowed: true, Remaining: -1}, fmt.Errorf("%w: %w", ErrFailedOpen, ctx.Err())
			}
			return Decision{Allowed: true, Remaining: -1}, l.failOpen(ctx, t.scope, err)
		}
		if !d.Allowed {
			if l.refused != nil {
				l.refused.WithLabelValues(t.scope).Inc()
			}
			return d, nil
		}
		if out.Remaining < 0 || d.Remaining < out.Remaining {
			out.Remaining = d.Remaining
		}
	}
	return out, nil
}

func (l *Limiter) failOpen(ctx context.Context, scope string, err error) error {
	total := l.storeErrors.Add(1)
	if l.errCounter != nil {
		l.errCounter.Inc()
	}
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last >= int64(l.logEvery) && l.lastLog.CompareAndSwap(last, now) {
		l.log.WarnContext(ctx, "rate-limit store failed; allowing calls unlimited until it recovers",
			"store", l.store.Name(), "scope", scope, "failures_total", total, "error", err)
	}
	return fmt.Errorf("%w: %s bucket: %w", ErrFailedOpen, scope, err)
}

// ipKey is the bucket key of an address: IPv4 addresses as they are, IPv6
// ones by their /64 (one host commonly owns a whole /64, so per-address
// buckets would not limit it). Unparsable input is used verbatim.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}
