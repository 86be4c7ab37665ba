package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.temporal.io/sdk/client"

	feedv1 "github.com/ejazz/ejazz/gen/ejazz/feed/v1"
	"github.com/ejazz/ejazz/gen/ejazz/feed/v1/feedv1connect"
	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/workflows"
)

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startDev runs app.Dev until the returned stop func is called.
func startDev(t testing.TB, cfg *config.Config) (*app.Running, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	readyc := make(chan *app.Running, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- app.Dev(ctx, cfg, log, func(r *app.Running) { readyc <- r }) }()
	select {
	case r := <-readyc:
		stopped := false
		return r, func() {
			if stopped {
				return
			}
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Dev returned %v on shutdown", err)
			}
		}
	case err := <-done:
		cancel()
		t.Fatalf("Dev failed to start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("Dev not ready in 60s")
	}
	return nil, nil
}

func devConfig(t testing.TB) *config.Config {
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Temporal.Address = freeAddr(t)
	cfg.Temporal.UIAddr = freeAddr(t)
	cfg.Log.Level = "error"
	// Every test user signs up from 127.0.0.1: the gateway's limits are
	// tested on their own (TestDevGateway…).
	cfg.RateLimit.Enabled = false
	cfg.Auth.OIDCRedirectURIs = []string{oidcRedirectURI}
	cfg.Auth.OIDCPostLogoutRedirectURIs = []string{oidcPostLogoutURI}
	return &cfg
}

func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// TestDevServesAPIAndWorkflows is the embedded profile end to end: the API on
// all three protocols, health, CORS, a workflow through Temporal to a worker
// and every store, the workflow listed by the Temporal UI, and all of it still
// there after a restart on the same data directory.
func TestDevServesAPIAndWorkflows(t *testing.T) {
	cfg := devConfig(t)
	r, stop := startDev(t, cfg)
	defer stop()
	base := "http://" + r.HTTPAddr
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// One RPC over Connect (JSON and binary), gRPC (h2c) and gRPC-Web: the
	// service answers each (here: unauthenticated, no token sent).
	protocols := map[string]feedv1connect.FeedServiceClient{
		"connect+json":  feedv1connect.NewFeedServiceClient(http.DefaultClient, base, connect.WithProtoJSON()),
		"connect+proto": feedv1connect.NewFeedServiceClient(http.DefaultClient, base),
		"grpc":          feedv1connect.NewFeedServiceClient(h2cClient(), base, connect.WithGRPC()),
		"grpc-web":      feedv1connect.NewFeedServiceClient(http.DefaultClient, base, connect.WithGRPCWeb()),
	}
	for name, c := range protocols {
		_, err := c.GetTrending(ctx, connect.NewRequest(&feedv1.GetTrendingRequest{PageSize: 5}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("%s: GetTrending error = %v, want unauthenticated", name, err)
		}
	}

	// Health, readiness (every store and Temporal), metrics.
	var ready struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	getJSON(t, base+"/readyz", &ready)
	if !ready.Ready || ready.Checks["temporal"] != "ok" || ready.Checks["graph/sqlite"] != "ok" || len(ready.Checks) != 13 || ready.Checks["mail/devbox"] != "ok" {
		t.Errorf("/readyz = %+v", ready)
	}
	if body := get(t, base+"/metrics"); !strings.Contains(body, `ejazz_rpc_requests_total{code="unauthenticated",procedure="/ejazz.feed.v1.FeedService/GetTrending"} 4`) {
		t.Errorf("/metrics lacks the RPC counter:\n%s", grepLines(body, "ejazz_rpc"))
	}

	// The built-in OpenID Provider publishes its discovery document.
	var disco struct {
		Issuer                string   `json:"issuer"`
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	}
	getJSON(t, base+"/.well-known/openid-configuration", &disco)
	if disco.Issuer != cfg.HTTP.PublicURL || !strings.HasSuffix(disco.AuthorizationEndpoint, "/authorize") || !slices.Contains(disco.CodeChallengeMethods, "S256") {
		t.Errorf("discovery = %+v", disco)
	}

	// The dev mailbox is served (empty on a fresh data directory).
	var mails []map[string]any
	getJSON(t, base+"/dev/mail.json", &mails)
	if mails == nil || len(mails) != 0 {
		t.Errorf("/dev/mail.json = %v, want []", mails)
	}

	// CORS preflight from a browser origin.
	req, _ := http.NewRequestWithContext(ctx, http.MethodOptions, base+"/ejazz.feed.v1.FeedService/GetTrending", nil)
	req.Header.Set("Origin", "http://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type") // sorted, as browsers send it
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") == "" || !strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("CORS preflight headers = %v", resp.Header)
	}

	// A workflow end to end: API process → Temporal → system worker → every store.
	id := workflows.SystemCheckWorkflowID("e2e")
	run, err := r.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.QueueSystem},
		workflows.SystemCheck, &workflows.SystemCheckInput{Requester: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.SystemCheckResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if !res.Healthy || len(res.Stores) != 12 || res.Stores["blobs/file"] != "ok" {
		t.Fatalf("SystemCheck = %+v", res)
	}
	assertUIListsWorkflow(t, r.TemporalUI, cfg.Temporal.Namespace, id)

	// Registration end to end: sign-up → workflow → mail in the dev mailbox → verify.
	signUpFlow(t, base, devMail(base))

	// TOTP sign-in through the RPCs.
	totpFlow(t, base, devMail(base))

	// The OpenID Provider through the edge with stock clients: code flow with
	// PKCE, refresh rotation and reuse, end_session, the hosted page's TOTP
	// step and throttling.
	oidcFlow(t, r.HTTPAddr, cfg.IssuerURL(), cfg.Auth.OIDCClientID, devMail(base))

	// Restart on the same data directory: Temporal's history survives.
	stop()
	r2, stop2 := startDev(t, cfg)
	defer stop2()
	desc, err := r2.Temporal.DescribeWorkflowExecution(ctx, id, run.GetRunID())
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus().String(); st != "Completed" {
		t.Fatalf("after restart the workflow is %s", st)
	}
	assertUIListsWorkflow(t, r2.TemporalUI, cfg.Temporal.Namespace, id)
}

func TestDevRejectsTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := devConfig(t)
	cfg.Temporal.Address = l.Addr().String()
	err = app.Dev(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("Dev on a taken port = %v, want an error naming %s", err, l.Addr())
	}
}

func TestExpandAll(t *testing.T) {
	known := []string{"a", "b"}
	if got, err := app.ExpandAll("service", []string{"all"}, known); err != nil || len(got) != 2 {
		t.Fatalf("all = %v, %v", got, err)
	}
	if _, err := app.ExpandAll("service", []string{"c"}, known); err == nil || !strings.Contains(err.Error(), `"c"`) {
		t.Fatalf("unknown = %v", err)
	}
	if _, err := app.ExpandAll("service", nil, known); err == nil {
		t.Fatal("empty list accepted")
	}
}

func assertUIListsWorkflow(t *testing.T, ui, namespace, id string) {
	t.Helper()
	q := url.Values{"query": {`WorkflowId="` + id + `"`}}
	var list struct {
		Executions []struct {
			Execution struct {
				WorkflowID string `json:"workflowId"`
			} `json:"execution"`
		} `json:"executions"`
	}
	// Visibility is eventually consistent: poll briefly.
	deadline := time.Now().Add(20 * time.Second)
	for {
		getJSON(t, ui+"/api/v1/namespaces/"+namespace+"/workflows?"+q.Encode(), &list)
		if len(list.Executions) == 1 && list.Executions[0].Execution.WorkflowID == id {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Temporal UI does not list %s: %+v", id, list)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func get(t testing.TB, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func getJSON(t testing.TB, u string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(get(t, u)), v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
