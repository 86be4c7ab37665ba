package ratelimit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejazz/ejazz/internal/ratelimit"
	"github.com/ejazz/ejazz/internal/ratelimit/memory"
)

// never refills within a test: one token per 1000s.
func never(burst int) ratelimit.Rule { return ratelimit.Rule{Rate: 0.001, Burst: burst} }

// plenty is a limit the tests do not reach.
var plenty = never(1000)

const (
	signIn = ratelimit.ProcedureSignIn
	getFoo = "/ejazz.feed.v1.FeedService/GetHomeTimeline"
)

func newLimiter(t *testing.T, p *ratelimit.Policy) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.NewLimiter(memory.New(), p, ratelimit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// call is one Check and the outcome a test expects of it.
type call struct {
	procedure, user, ip string
	allowed             bool
}

func runCalls(t *testing.T, l *ratelimit.Limiter, calls []call) {
	t.Helper()
	for i, c := range calls {
		d, err := l.Check(context.Background(), c.procedure, c.user, c.ip)
		if err != nil {
			t.Fatalf("call %d %+v: %v", i, c, err)
		}
		if d.Allowed != c.allowed {
			t.Fatalf("call %d (%s by %q from %s) allowed = %v, want %v (decision %+v)", i, c.procedure, c.user, c.ip, d.Allowed, c.allowed, d)
		}
		if !d.Allowed && d.RetryAfter <= 0 {
			t.Errorf("call %d refused without RetryAfter: %+v", i, d)
		}
	}
}

func TestLimiterScopes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy ratelimit.Policy
		calls  []call
	}{
		{
			name:   "anonymous calls are limited per IP",
			policy: ratelimit.Policy{Anonymous: never(2), User: plenty, UserIP: plenty},
			calls: []call{
				{getFoo, "", "192.0.2.1", true},
				{getFoo, "", "192.0.2.1", true},
				{getFoo, "", "192.0.2.1", false},
				{signIn, "", "192.0.2.1", false}, // the same IP bucket, whatever the procedure
				{getFoo, "", "192.0.2.2", true},
				{getFoo, "ana", "192.0.2.1", true}, // authenticated calls use other buckets
			},
		},
		{
			name:   "authenticated calls are limited per user across addresses",
			policy: ratelimit.Policy{Anonymous: plenty, User: never(2), UserIP: plenty},
			calls: []call{
				{getFoo, "ana", "192.0.2.1", true},
				{getFoo, "ana", "192.0.2.2", true},
				{getFoo, "ana", "192.0.2.3", false},
				{getFoo, "bob", "192.0.2.1", true},
				{getFoo, "", "192.0.2.1", true},
			},
		},
		{
			name:   "authenticated calls are also limited per IP",
			policy: ratelimit.Policy{Anonymous: plenty, User: plenty, UserIP: never(3)},
			calls: []call{
				{getFoo, "u1", "192.0.2.1", true},
				{getFoo, "u2", "192.0.2.1", true},
				{getFoo, "u3", "192.0.2.1", true},
				{getFoo, "u4", "192.0.2.1", false},
				{getFoo, "u4", "192.0.2.2", true},
			},
		},
		{
			name: "expensive procedures have their own budget per IP when anonymous",
			policy: ratelimit.Policy{Anonymous: plenty, User: plenty, UserIP: plenty,
				Expensive: map[string]ratelimit.Rule{signIn: never(2)}},
			calls: []call{
				{signIn, "", "192.0.2.1", true},
				{signIn, "", "192.0.2.1", true},
				{signIn, "", "192.0.2.1", false},
				{getFoo, "", "192.0.2.1", true},
				{signIn, "", "192.0.2.2", true},
				{signIn, "ana", "192.0.2.1", true}, // authenticated: the user's budget
			},
		},
		{
			name: "expensive procedures have their own budget per user when authenticated",
			policy: ratelimit.Policy{Anonymous: plenty, User: plenty, UserIP: plenty,
				Expensive: map[string]ratelimit.Rule{ratelimit.ProcedureCreatePost: never(2)}},
			calls: []call{
				{ratelimit.ProcedureCreatePost, "ana", "192.0.2.1", true},
				{ratelimit.ProcedureCreatePost, "ana", "192.0.2.2", true},
				{ratelimit.ProcedureCreatePost, "ana", "192.0.2.3", false},
				{getFoo, "ana", "192.0.2.3", true},
				{ratelimit.ProcedureCreatePost, "bob", "192.0.2.3", true},
			},
		},
		{
			name:   "IPv6 addresses share a bucket per /64; IPv4-mapped is IPv4",
			policy: ratelimit.Policy{Anonymous: never(2)},
			calls: []call{
				{getFoo, "", "2001:db8:1:2::1", true},
				{getFoo, "", "2001:db8:1:2:ffff::9", true},
				{getFoo, "", "2001:db8:1:2::3", false},
				{getFoo, "", "2001:db8:1:3::1", true},
				{getFoo, "", "192.0.2.9", true},
				{getFoo, "", "::ffff:192.0.2.9", true},
				{getFoo, "", "192.0.2.9", false},
			},
		},
		{
			name:   "zero rules do not limit",
			policy: ratelimit.Policy{},
			calls: []call{
				{getFoo, "", "192.0.2.1", true}, {getFoo, "", "192.0.2.1", true}, {getFoo, "", "192.0.2.1", true},
				{signIn, "ana", "192.0.2.1", true}, {signIn, "ana", "192.0.2.1", true},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runCalls(t, newLimiter(t, &tc.policy), tc.calls)
		})
	}
}

func TestLimiterRemainingIsTheSmallest(t *testing.T) {
	l := newLimiter(t, &ratelimit.Policy{User: never(10), UserIP: never(100),
		Expensive: map[string]ratelimit.Rule{signIn: never(4)}})
	d, err := l.Check(context.Background(), signIn, "ana", "192.0.2.1")
	if err != nil || !d.Allowed || d.Remaining != 3 {
		t.Fatalf("Check = %+v, %v; want allowed with 3 remaining (the expensive budget)", d, err)
	}
	d, err = l.Check(context.Background(), getFoo, "ana", "192.0.2.1")
	if err != nil || !d.Allowed || d.Remaining != 8 {
		t.Fatalf("Check = %+v, %v; want allowed with 8 remaining (the user's bucket)", d, err)
	}
	if d, _ := newLimiter(t, &ratelimit.Policy{}).Check(context.Background(), getFoo, "", "192.0.2.1"); !d.Allowed || d.Remaining != -1 {
		t.Fatalf("Check with no rules = %+v, want allowed with Remaining -1", d)
	}
}

func TestSetPolicy(t *testing.T) {
	p := &ratelimit.Policy{Anonymous: never(1)}
	l := newLimiter(t, p)
	runCalls(t, l, []call{{getFoo, "", "192.0.2.1", true}, {getFoo, "", "192.0.2.1", false}})

	// The limiter keeps a copy: changing p does nothing until SetPolicy.
	p.Anonymous = never(3)
	runCalls(t, l, []call{{getFoo, "", "192.0.2.1", false}})

	if err := l.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	runCalls(t, l, []call{{getFoo, "", "192.0.2.1", true}, {getFoo, "", "192.0.2.1", true}, {getFoo, "", "192.0.2.1", false}})

	// An invalid policy is refused and the current one stays.
	bad := &ratelimit.Policy{Anonymous: never(100), Expensive: map[string]ratelimit.Rule{signIn: {Rate: 1, Burst: 0}}}
	if err := l.SetPolicy(bad); !errors.Is(err, ratelimit.ErrInvalid) {
		t.Fatalf("SetPolicy(invalid) = %v, want ratelimit.ErrInvalid", err)
	}
	if err := l.SetPolicy(nil); err == nil {
		t.Fatal("SetPolicy(nil) succeeded")
	}
	if got := l.Policy().Anonymous; got != never(3) {
		t.Fatalf("policy after refused reloads: Anonymous = %+v, want %+v", got, never(3))
	}
	runCalls(t, l, []call{{getFoo, "", "192.0.2.1", false}})
}

func TestDefaultPolicyIsValid(t *testing.T) {
	p := ratelimit.DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, proc := range []string{ratelimit.ProcedureSignIn, ratelimit.ProcedureSignUp, ratelimit.ProcedureCreatePost, ratelimit.ProcedureCreateUpload} {
		if p.Expensive[proc].IsZero() {
			t.Errorf("DefaultPolicy has no budget for %s", proc)
		}
	}
	if p.UserIP.Rate <= p.User.Rate || p.UserIP.Burst <= p.Anonymous.Burst {
		t.Errorf("DefaultPolicy UserIP %+v should be looser than User %+v and Anonymous %+v", p.UserIP, p.User, p.Anonymous)
	}
}

// A policy is data: it round-trips through JSON (e.g. a reloaded config file).
func TestPolicyJSON(t *testing.T) {
	in := ratelimit.DefaultPolicy()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out ratelimit.Policy
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, &out) {
		t.Fatalf("policy after a JSON round trip = %+v, want %+v", out, *in)
	}
	if !strings.Contains(string(b), `"/ejazz.auth.v1.AuthService/SignIn":{"rate":`) {
		t.Errorf("JSON form = %s, want expensive budgets keyed by procedure", b)
	}
}

// failing is a store whose takes fail, or block until their context ends.
type failing struct {
	*memory.Store
	block bool
}

func (f failing) Take(ctx context.Context, _ string, _ ratelimit.Rule, _ int) (ratelimit.Decision, error) {
	if f.block {
		<-ctx.Done()
		return ratelimit.Decision{}, ctx.Err()
	}
	return ratelimit.Decision{}, errors.New("connection refused")
}

func TestFailOpen(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	l, err := ratelimit.NewLimiter(failing{Store: memory.New()}, &ratelimit.Policy{Anonymous: never(1)}, ratelimit.Options{
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
		LogEvery:   time.Hour,
		Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		d, err := l.Check(context.Background(), getFoo, "", "192.0.2.1")
		if !d.Allowed {
			t.Fatalf("check %d with a failing store = %+v, want allowed (fail-open)", i, d)
		}
		if !errors.Is(err, ratelimit.ErrFailedOpen) || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("check %d error = %v, want ErrFailedOpen wrapping the store's error", i, err)
		}
	}
	if got := l.StoreErrors(); got != 5 {
		t.Errorf("StoreErrors = %d, want 5", got)
	}
	if got := counters(t, reg, "ejazz_ratelimit_store_errors_total"); got[""] != 5 {
		t.Errorf("ejazz_ratelimit_store_errors_total = %v, want 5", got)
	}
	if n := strings.Count(logs.String(), "rate-limit store failed"); n != 1 {
		t.Errorf("%d failure log lines within LogEvery, want 1:\n%s", n, logs.String())
	}
}

func TestFailOpenOnTimeout(t *testing.T) {
	l, err := ratelimit.NewLimiter(failing{Store: memory.New(), block: true}, &ratelimit.Policy{Anonymous: never(1)},
		ratelimit.Options{Timeout: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Check(context.Background(), getFoo, "", "192.0.2.1")
	if !d.Allowed || !errors.Is(err, context.DeadlineExceeded) || l.StoreErrors() != 1 {
		t.Fatalf("Check on a hung store = %+v, %v (store errors %d); want allowed after the timeout, counted", d, err, l.StoreErrors())
	}
}

func TestRefusedMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, err := ratelimit.NewLimiter(memory.New(), &ratelimit.Policy{Anonymous: never(1), User: never(1)}, ratelimit.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	runCalls(t, l, []call{
		{getFoo, "", "192.0.2.1", true}, {getFoo, "", "192.0.2.1", false}, {getFoo, "", "192.0.2.1", false},
		{getFoo, "ana", "192.0.2.1", true}, {getFoo, "ana", "192.0.2.1", false},
	})
	got := counters(t, reg, "ejazz_ratelimit_refused_total")
	if want := map[string]float64{"anonymous": 2, "user": 1}; !maps.Equal(got, want) {
		t.Fatalf("ejazz_ratelimit_refused_total by scope = %v, want %v", got, want)
	}
}

// counters returns the values of the counter name by its first label's value
// ("" when it has none).
func counters(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			label := ""
			if ls := m.GetLabel(); len(ls) > 0 {
				label = ls[0].GetValue()
			}
			out[label] = m.GetCounter().GetValue()
		}
	}
	return out
}

func ExampleLimiter_Check() {
	l, _ := ratelimit.NewLimiter(memory.New(), &ratelimit.Policy{Anonymous: ratelimit.Every(time.Minute, 2)}, ratelimit.Options{})
	for range 3 {
		d, _ := l.Check(context.Background(), ratelimit.ProcedureSignIn, "", "192.0.2.1")
		fmt.Println(d.Allowed, d.Remaining, d.RetryAfter.Round(time.Second))
	}
	// Output:
	// true 1 0s
	// true 0 0s
	// false 0 1m0s
}
