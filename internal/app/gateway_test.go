package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	enumspb "go.temporal.io/api/enums/v1"

	feedv1 "github.com/ejazz/ejazz/gen/ejazz/feed/v1"
	"github.com/ejazz/ejazz/gen/ejazz/feed/v1/feedv1connect"
	postv1 "github.com/ejazz/ejazz/gen/ejazz/post/v1"
	"github.com/ejazz/ejazz/gen/ejazz/post/v1/postv1connect"
	userv1 "github.com/ejazz/ejazz/gen/ejazz/user/v1"
	"github.com/ejazz/ejazz/gen/ejazz/user/v1/userv1connect"
	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/testenv"
	"github.com/ejazz/ejazz/workflows"
)

// gatewayLimits is the ratelimit section TestDevGateway starts with: room
// for registering one user, then tight budgets.
const gatewayLimits = `
ratelimit:
  enabled: true
  ip: {rate: 0.5, burst: 12}
  user: {rate: 0.5, burst: 8}
  expensive:
    create_post: {rate: 0.01, burst: 2}
`

// TestDevGateway drives the embedded profile's public port, which is the
// in-process gateway: the per-IP and per-user buckets and an expensive
// call's budget refuse with resource_exhausted and Retry-After, a config
// file change lifts the limits without a restart, REST/JSON and the
// OpenAPI document are served, a forged identity header is refused, and
// /metrics carries the series the Grafana dashboard charts.
func TestDevGateway(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ejazz.yaml")
	writeConfig(t, file, gatewayLimits)
	cfg, err := config.Load(nil, []string{
		"EJAZZ_CONFIG=" + file, "EJAZZ_DATA_DIR=" + filepath.Join(dir, "data"), "EJAZZ_HTTP_ADDR=127.0.0.1:0",
		"EJAZZ_TEMPORAL_ADDRESS=" + freeAddr(t), "EJAZZ_TEMPORAL_UI_ADDR=" + freeAddr(t), "EJAZZ_LOG_LEVEL=error",
	})
	if err != nil {
		t.Fatal(err)
	}
	r, stop := startDev(t, cfg)
	defer stop()
	base := "http://" + r.HTTPAddr
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	ana := register(ctx, t, base, devMail(base), "ana")
	posts := postv1connect.NewPostServiceClient(http.DefaultClient, base)
	feed := feedv1connect.NewFeedServiceClient(http.DefaultClient, base)

	// The expensive budget: two posts, then resource_exhausted.
	for i := range 2 {
		if _, err := posts.CreatePost(ctx, by(ana, &postv1.CreatePostRequest{Text: "post #gateway"})); err != nil {
			t.Fatalf("CreatePost %d: %v", i, err)
		}
	}
	_, err = posts.CreatePost(ctx, by(ana, &postv1.CreatePostRequest{Text: "one too many"}))
	assertLimited(t, "third CreatePost", err)

	// The user's bucket (8, some taken by the posts): refused within 8 calls.
	refusedAfter := func(what string, call func() error) int {
		for i := range 20 {
			if err := call(); err != nil {
				assertLimited(t, what, err)
				return i
			}
		}
		t.Fatal("20 calls in a row admitted")
		return 0
	}
	home := func() error {
		_, err := feed.GetHomeTimeline(ctx, by(ana, &feedv1.GetHomeTimelineRequest{}))
		return err
	}
	if n := refusedAfter("GetHomeTimeline", home); n > 8 {
		t.Errorf("user bucket admitted %d calls, burst is 8", n)
	}

	// The anonymous per-IP bucket (12, mostly spent registering).
	users := userv1connect.NewUserServiceClient(http.DefaultClient, base)
	profile := func() error {
		_, err := users.GetProfile(ctx, connect.NewRequest(&userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: ana.id}}))
		return err
	}
	if n := refusedAfter("anonymous GetProfile", profile); n > 12 {
		t.Errorf("IP bucket admitted %d anonymous calls, burst is 12", n)
	}

	// Hot reload: a looser file is applied without a restart.
	writeConfig(t, file, strings.NewReplacer("0.5, burst: 8", "100, burst: 1000", "0.5, burst: 12", "100, burst: 1000",
		"0.01, burst: 2", "100, burst: 1000").Replace(gatewayLimits))
	eventually(t, 15*time.Second, func() string {
		if err := home(); err != nil {
			return "GetHomeTimeline after the reload: " + err.Error()
		}
		return ""
	})
	for i := range 30 {
		if err := home(); err != nil {
			t.Fatalf("call %d after the reload: %v", i, err)
		}
	}
	if _, err := posts.CreatePost(ctx, by(ana, &postv1.CreatePostRequest{Text: "after the reload"})); err != nil {
		t.Fatalf("CreatePost after the reload: %v", err)
	}

	// REST/JSON through the gateway, with the bearer token.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/users/"+ana.id, nil)
	req.Header.Set("Authorization", "Bearer "+ana.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var prof struct {
		Profile struct {
			UserID string `json:"userId"`
			Handle string `json:"handle"`
		} `json:"profile"`
	}
	err = json.NewDecoder(resp.Body).Decode(&prof)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || prof.Profile.UserID != ana.id || !strings.EqualFold(prof.Profile.Handle, ana.handle) {
		t.Errorf("GET /v1/users/{id} = %d %+v (%v)", resp.StatusCode, prof, err)
	}
	if resp, err := http.Get(base + "/v1/users/" + ana.id + "/no-such-thing"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown REST path = %v, %v; want 404", resp, err)
	}
	if body := get(t, base+"/openapi.json"); !strings.Contains(body, `"/v1/users/{userId}"`) || !strings.Contains(body, `"openapi"`) {
		t.Errorf("/openapi.json lacks /v1/users/{userId}: %.200s", body)
	}

	// A client cannot claim an identity: the header is the gateway's.
	forged := connect.NewRequest(&userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: ana.id}})
	forged.Header().Set("Ejazz-Identity", "v1.eyJzdWIiOiJhbmEifQ.c2lnbmF0dXJl")
	if _, err := users.GetProfile(ctx, forged); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("forged identity header = %v, want unauthenticated", err)
	}

	// Workers are discovered through their task queues: each has pollers,
	// as the Temporal UI shows them.
	for _, q := range workflows.Queues {
		tq, err := r.Temporal.DescribeTaskQueue(ctx, q, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil || len(tq.GetPollers()) == 0 {
			t.Errorf("task queue %s: pollers %v, %v", q, tq.GetPollers(), err)
		}
	}

	// /metrics: every series the services dashboard charts, except the
	// gateway's backend pools (remote backends only; internal/gateway tests
	// them), is exposed once traffic has flowed.
	eventually(t, 20*time.Second, func() string {
		body := get(t, base+"/metrics")
		var missing []string
		for _, m := range dashboardSeries(t) {
			if !strings.HasPrefix(m, "ejazz_gateway_") && !regexp.MustCompile(`(?m)^`+m+`[{ ]`).MatchString(body) {
				missing = append(missing, m)
			}
		}
		if len(missing) > 0 {
			return "/metrics lacks " + strings.Join(missing, ", ")
		}
		return ""
	})
}

// assertLimited checks err is the gateway's rate-limit refusal.
func assertLimited(t *testing.T, what string, err error) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted {
		t.Fatalf("%s = %v, want resource_exhausted", what, err)
	}
	if ra := ce.Meta().Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("%s: Retry-After = %q, want seconds", what, ra)
	}
}

// writeConfig replaces the config file the way operators should: write a
// new file, rename it over the old one.
func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// dashboardSeries lists the metric names the services dashboard queries
// (histograms by their _bucket series).
func dashboardSeries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../dev/grafana/dashboards/ejazz-services.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`\b((?:ejazz|temporal|go)_[a-z0-9_]+)\b`)
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				if !slices.Contains(out, m) {
					out = append(out, m)
				}
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("dashboard queries only %v", out)
	}
	return out
}

// TestScaleGateway runs the gateway as its own process in front of service
// processes on the scale profile: two instances of the user service, one
// killed under load without a failed call; identities signed by the
// gateway and forgeries refused by the services; one user's rate limit
// shared by two gateway replicas through PostgreSQL.
func TestScaleGateway(t *testing.T) {
	cfg := scaleConfig(t, "EJAZZ_TEMPORAL_ADDRESS", "EJAZZ_POSTGRES_DSN", "EJAZZ_NEO4J_URI", "EJAZZ_CASSANDRA_HOSTS", "EJAZZ_SMTP_ADDR", "EJAZZ_CLICKHOUSE_ADDR")
	cfg.Gateway.IdentityKeys = []string{strings.Repeat("5e", 32)}
	baseA, _ := startScale(t, cfg, []string{workflows.QueueAccounts}, []string{"auth", "user"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var b *app.Running
	stopB := runUntilCancelled(t, ctx, func(ctx context.Context, ready func(*app.Running)) error {
		return app.Serve(ctx, cfg, log, []string{"user"}, func(r *app.Running) { b = r; ready(r) })
	})
	var stopOnce sync.Once
	t.Cleanup(func() { stopOnce.Do(stopB) })
	baseB := "http://" + b.HTTPAddr

	gatewayAt := func(limits config.RateLimit) string {
		g := *cfg
		g.Gateway.Backends = map[string][]string{"auth": {baseA}, "user": {baseA, baseB}}
		g.Gateway.HealthInterval = 200 * time.Millisecond
		g.RateLimit = limits
		var r *app.Running
		stop := runUntilCancelled(t, ctx, func(ctx context.Context, ready func(*app.Running)) error {
			return app.Gateway(ctx, &g, log, func(x *app.Running) { r = x; ready(x) })
		})
		t.Cleanup(stop)
		return "http://" + r.HTTPAddr
	}
	gw := gatewayAt(config.RateLimit{Enabled: false})
	ana := register(ctx, t, gw, mailpit(testenv.Require(t, "EJAZZ_MAILPIT_URL")), "ana")
	users := userv1connect.NewUserServiceClient(http.DefaultClient, gw)

	// The services see the caller the gateway signed (the token stops at
	// the gateway): a call that needs a caller succeeds through it.
	if _, err := users.ListBlocked(ctx, by(ana, &userv1.ListBlockedRequest{})); err != nil {
		t.Fatalf("ListBlocked through the gateway: %v", err)
	}
	// A forged identity sent straight to a service is refused.
	direct := userv1connect.NewUserServiceClient(http.DefaultClient, baseA)
	forged := connect.NewRequest(&userv1.ListBlockedRequest{})
	forged.Header().Set("Ejazz-Identity", "v1.eyJzdWIiOiJhbmEiLCJleHAiOjQxMDI0NDQ4MDB9.Zm9yZ2Vk")
	if _, err := direct.ListBlocked(ctx, forged); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("forged identity straight to a service = %v, want unauthenticated", err)
	}

	// Two instances share the traffic; one is killed midway; no call fails.
	const workers, calls = 4, 150
	errs := make(chan error, workers*calls)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var sent atomic.Int64
	for range workers {
		wg.Go(func() {
			for range calls {
				_, err := users.GetProfile(ctx, by(ana, &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: ana.id}}))
				if err != nil {
					errs <- err
				}
				sent.Add(1)
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	for sent.Load() < workers*calls/3 {
		time.Sleep(5 * time.Millisecond)
	}
	servedByB := proxiedTo(t, gw, baseB)
	stopOnce.Do(stopB)
	<-done
	close(errs)
	for err := range errs {
		t.Errorf("call failed while an instance went away: %v", err)
	}
	if servedByB == 0 {
		t.Errorf("the second instance served nothing before it was killed")
	}
	eventually(t, 10*time.Second, func() string {
		if m := get(t, gw+"/metrics"); !strings.Contains(m, `ejazz_gateway_backend_healthy{instance="`+baseB+`",service="ejazz.user.v1.UserService"} 0`) {
			return "the killed instance is still marked healthy:\n" + grepLines(m, "ejazz_gateway_backend_healthy")
		}
		return ""
	})

	// One user's budget is shared by two gateway replicas (PostgreSQL).
	tight := config.RateLimit{Enabled: true, User: config.Limit{Rate: 0.01, Burst: 6}, IP: config.Limit{Rate: 100, Burst: 1000}}
	replicas := []userv1connect.UserServiceClient{
		userv1connect.NewUserServiceClient(http.DefaultClient, gatewayAt(tight)),
		userv1connect.NewUserServiceClient(http.DefaultClient, gatewayAt(tight)),
	}
	admitted := 0
	for i := range 20 {
		_, err := replicas[i%2].GetProfile(ctx, by(ana, &userv1.GetProfileRequest{Lookup: &userv1.GetProfileRequest_UserId{UserId: ana.id}}))
		switch {
		case err == nil:
			admitted++
		case connect.CodeOf(err) != connect.CodeResourceExhausted:
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if admitted != 6 {
		t.Errorf("two replicas admitted %d calls of one user, want the shared burst of 6", admitted)
	}
}

// proxiedTo sums the gateway's proxied calls to instance.
func proxiedTo(t *testing.T, gw, instance string) float64 {
	t.Helper()
	var n float64
	re := regexp.MustCompile(`(?m)^ejazz_gateway_proxied_requests_total\{[^}]*instance="` + regexp.QuoteMeta(instance) + `"[^}]*\} (\S+)$`)
	for _, m := range re.FindAllStringSubmatch(get(t, gw+"/metrics"), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		n += v
	}
	return n
}
