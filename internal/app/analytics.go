package app

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/analytics/analyticsapi"
	"github.com/ejazz/ejazz/analytics/backfill"
	"github.com/ejazz/ejazz/analytics/dashboard"
	"github.com/ejazz/ejazz/internal/account"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/graph"
	"github.com/ejazz/ejazz/internal/media"
	"github.com/ejazz/ejazz/internal/post"
)

// startIngest returns the analytics publisher of a process: an
// analytics.Ingester on the analytics store (buffered, batched, spilling to
// analytics.spool_dir while the store is down), or a publisher that drops
// events when this process has no analytics store. stop flushes it.
func startIngest(cfg *config.Config, stores *Stores, log *slog.Logger) (event.Publisher, func(), error) {
	if stores.Analytics == nil {
		return event.Fanout{}, func() {}, nil
	}
	dir := cfg.Analytics.SpoolDir
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "analytics-spool")
	}
	in, err := analytics.NewIngester(analytics.IngestOptions{
		Sink: stores.Analytics, SpoolDir: dir, QueueSize: cfg.Analytics.QueueSize, BatchSize: cfg.Analytics.BatchSize,
		FlushEvery: cfg.Analytics.FlushInterval, Log: log.With("component", "analytics-ingest"),
	})
	if err != nil {
		return nil, nil, err
	}
	return in, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := in.Close(ctx); err != nil {
			log.Warn("analytics ingest close", "err", err)
		}
	}, nil
}

// analyticsDashboard is the /analytics page: sign-in with the platform's
// own accounts (auth.SignIns, as the API and the hosted sign-in page), an
// access token from the built-in issuer in a cookie, charts for analysts.
func analyticsDashboard(cfg *config.Config, stores *Stores, svc *analyticsapi.Service, issuer *auth.Issuer, verifier *auth.Verifier, log *slog.Logger) http.Handler {
	signIns := &auth.SignIns{Accounts: stores.Accounts}
	return &dashboard.Handler{
		API: svc,
		SignIn: func(ctx context.Context, identifier, password, totp string) (string, time.Duration, error) {
			acc, err := signIns.SignIn(ctx, identifier, password, totp)
			if err != nil {
				return "", 0, err
			}
			roles, err := stores.Accounts.Roles(ctx, acc.ID)
			if err != nil {
				return "", 0, err
			}
			return issuer.Issue(ctx, acc.ID, roles)
		},
		Verify: verifier.Verify,
		Log:    log,
		Secure: strings.HasPrefix(cfg.HTTP.PublicURL, "https://"),
	}
}

// Backfill rebuilds analytics events from cfg's stores of record into its
// analytics store (`ejazz analytics backfill`; see analytics/backfill). It
// migrates the analytics store, not the sources.
func Backfill(ctx context.Context, cfg *config.Config, o backfill.Options) (backfill.Stats, error) {
	stores, err := OpenStores(ctx, cfg, []string{account.Component, post.Component, graph.Component, media.Component, analytics.Component})
	if err != nil {
		return backfill.Stats{}, err
	}
	defer stores.Close()
	if err := stores.Analytics.Migrate(ctx); err != nil {
		return backfill.Stats{}, err
	}
	return backfill.Run(ctx, backfill.Sources{Accounts: stores.Accounts, Posts: stores.Posts, Graph: stores.Graph, Media: stores.Media}, stores.Analytics, o)
}
