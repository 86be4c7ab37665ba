package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/testenv"
	"github.com/ejazz/ejazz/workflows"
)

// TestScaleProfileEndToEnd runs the scale profile on the dev/stack engines:
// `ejazz migrate` (every store plus Temporal search attributes, twice to show
// it is idempotent), then a worker process for every queue, and the
// SystemCheck workflow through the stack's Temporal reaching PostgreSQL,
// Neo4j, Cassandra, ClickHouse, S3 and SMTP.
func TestScaleProfileEndToEnd(t *testing.T) {
	for _, v := range []string{"EJAZZ_TEMPORAL_ADDRESS", "EJAZZ_POSTGRES_DSN", "EJAZZ_CASSANDRA_HOSTS", "EJAZZ_NEO4J_URI", "EJAZZ_CLICKHOUSE_ADDR", "EJAZZ_S3_ENDPOINT", "EJAZZ_SMTP_ADDR"} {
		testenv.Require(t, v)
	}
	env := append(os.Environ(), "EJAZZ_PROFILE=scale", "EJAZZ_HTTP_ADDR=127.0.0.1:0", "EJAZZ_LOG_LEVEL=error")
	cfg, err := config.Load(nil, env)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auth.OIDCRedirectURIs = []string{oidcRedirectURI}
	cfg.Auth.OIDCPostLogoutRedirectURIs = []string{oidcPostLogoutURI}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := range 2 {
		if err := app.Migrate(ctx, cfg, log, true); err != nil {
			t.Fatalf("migrate run %d: %v", i+1, err)
		}
	}

	wctx, stopWorker := context.WithCancel(ctx)
	readyc := make(chan *app.Running, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Work(wctx, cfg, log, workflows.Queues, func(r *app.Running) { readyc <- r })
	}()
	var r *app.Running
	select {
	case r = <-readyc:
	case err := <-done:
		t.Fatalf("worker did not start: %v", err)
	}
	defer func() {
		stopWorker()
		if err := <-done; err != nil {
			t.Errorf("worker shutdown: %v", err)
		}
	}()

	id := workflows.SystemCheckWorkflowID(fmt.Sprintf("scale-%d", time.Now().UnixNano()))
	run, err := r.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.QueueSystem},
		workflows.SystemCheck, &workflows.SystemCheckInput{Requester: "scale test"})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.SystemCheckResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	want := []string{"accounts/postgres", "analytics/clickhouse", "blobs/s3", "graph/neo4j", "mail/smtp", "media/postgres", "notification_preferences/postgres", "notifications/cassandra", "posts/cassandra", "profiles/postgres", "ratelimit/postgres", "timelines/cassandra"}
	if !res.Healthy || len(res.Stores) != len(want) {
		t.Fatalf("SystemCheck = %+v", res)
	}
	for _, name := range want {
		if res.Stores[name] != "ok" {
			t.Errorf("store %s = %q", name, res.Stores[name])
		}
	}

	// The auth and user services as their own process, registering through the worker
	// above; the verification mail travels over real SMTP to mailpit.
	sctx, stopServe := context.WithCancel(ctx)
	sready := make(chan *app.Running, 1)
	sdone := make(chan error, 1)
	go func() {
		sdone <- app.Serve(sctx, cfg, log, []string{"auth", "user"}, func(r *app.Running) { sready <- r })
	}()
	var api *app.Running
	select {
	case api = <-sready:
	case err := <-sdone:
		t.Fatalf("serve auth did not start: %v", err)
	}
	defer func() {
		stopServe()
		if err := <-sdone; err != nil {
			t.Errorf("serve shutdown: %v", err)
		}
	}()
	readMail := mailpit(testenv.Require(t, "EJAZZ_MAILPIT_URL"))
	signUpFlow(t, "http://"+api.HTTPAddr, readMail)
	totpFlow(t, "http://"+api.HTTPAddr, readMail)
	oidcFlow(t, api.HTTPAddr, cfg.IssuerURL(), cfg.Auth.OIDCClientID, readMail)
}
