package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/ejazz/ejazz/internal/app"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/testenv"
)

// scaleConfig loads the scale profile from the environment `dev/stack env`
// exports, after requiring each of vars (failing under CI=true, skipping
// elsewhere, when one is missing).
func scaleConfig(t *testing.T, vars ...string) *config.Config {
	t.Helper()
	for _, v := range vars {
		testenv.Require(t, v)
	}
	cfg, err := config.Load(nil, append(os.Environ(), "EJAZZ_PROFILE=scale", "EJAZZ_HTTP_ADDR=127.0.0.1:0", "EJAZZ_LOG_LEVEL=error"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startScale migrates cfg's stores, then runs a worker process for queues
// and an API process for services, as separate processes would run them
// (both stopped, API first, when the test ends). It returns the API's base
// URL and the API process.
func startScale(t *testing.T, cfg *config.Config, queues, services []string) (string, *app.Running) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	if err := app.Migrate(ctx, cfg, log, true); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	stopWorker := runUntilCancelled(t, ctx, func(ctx context.Context, ready func(*app.Running)) error {
		return app.Work(ctx, cfg, log, queues, ready)
	})
	t.Cleanup(stopWorker)
	var api *app.Running
	stopServe := runUntilCancelled(t, ctx, func(ctx context.Context, ready func(*app.Running)) error {
		return app.Serve(ctx, cfg, log, services, func(r *app.Running) { api = r; ready(r) })
	})
	t.Cleanup(stopServe)
	return "http://" + api.HTTPAddr, api
}
