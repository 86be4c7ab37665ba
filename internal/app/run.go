package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/ejazz/ejazz/activities"
	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/analytics/analyticsapi"
	"github.com/ejazz/ejazz/analytics/dashboard"
	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/auth/authapi"
	"github.com/ejazz/ejazz/internal/auth/oidcop"
	blobfile "github.com/ejazz/ejazz/internal/blob/file"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/devtemporal"
	"github.com/ejazz/ejazz/internal/edge"
	"github.com/ejazz/ejazz/internal/event"
	"github.com/ejazz/ejazz/internal/feed"
	"github.com/ejazz/ejazz/internal/feed/feedapi"
	"github.com/ejazz/ejazz/internal/media/mediaapi"
	"github.com/ejazz/ejazz/internal/media/process"
	"github.com/ejazz/ejazz/internal/notification"
	"github.com/ejazz/ejazz/internal/notification/dispatch"
	"github.com/ejazz/ejazz/internal/notification/notificationapi"
	"github.com/ejazz/ejazz/internal/post/postapi"
	"github.com/ejazz/ejazz/internal/ratelimit"
	"github.com/ejazz/ejazz/internal/telemetry"
	"github.com/ejazz/ejazz/internal/user/userapi"
	"github.com/ejazz/ejazz/workers"
	"github.com/ejazz/ejazz/workflows"
)

// logLevel is the level of the loggers NewLogger builds; log.level is
// reloadable (setLogLevel).
var logLevel slog.LevelVar

func setLogLevel(s string) {
	var level slog.Level
	if level.UnmarshalText([]byte(s)) == nil {
		logLevel.Set(level)
	}
}

// NewLogger builds the process logger (JSON or text on stderr).
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	setLogLevel(cfg.Log.Level)
	opts := &slog.HandlerOptions{Level: &logLevel}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.Log.Format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	// Records logged with a request's context carry its trace_id and span_id.
	return slog.New(telemetry.LogHandler(h))
}

// DialTemporal connects to the Temporal frontend of cfg and checks it
// answers; with, when given, adjusts the client's options (tracing
// interceptors, metrics).
func DialTemporal(ctx context.Context, cfg *config.Config, log *slog.Logger, with ...func(*client.Options)) (client.Client, error) {
	o := client.Options{
		HostPort:  cfg.Temporal.Address,
		Namespace: cfg.Temporal.Namespace,
		Logger:    tlog.NewStructuredLogger(log.With("component", "temporal-sdk")),
	}
	for _, f := range with {
		f(&o)
	}
	c, err := client.DialContext(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("temporal.address %s: %w", cfg.Temporal.Address, err)
	}
	return c, nil
}

// Dev runs the whole platform in one process on the embedded profile until
// ctx ends: the in-process Temporal server and its UI, every store on SQLite
// and local files, every worker and every service on the public edge.
// ready, when not nil, is called with the running platform once it serves.
func Dev(ctx context.Context, cfg *config.Config, log *slog.Logger, ready func(*Running)) error {
	if cfg.Profile != config.ProfileEmbedded {
		return fmt.Errorf("ejazz dev runs the embedded profile; got profile %q (use `ejazz serve` and `ejazz worker` for scale)", cfg.Profile)
	}
	start := time.Now()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data_dir %s: %w", cfg.DataDir, err)
	}
	ts, err := devtemporal.Start(ctx, devtemporal.Options{
		DBPath:           filepath.Join(cfg.DataDir, "temporal", "temporal.db"),
		FrontendAddr:     cfg.Temporal.Address,
		UIAddr:           cfg.Temporal.UIAddr,
		Namespace:        cfg.Temporal.Namespace,
		SearchAttributes: workflows.SearchAttributeTypes(),
		LogFile:          filepath.Join(cfg.DataDir, "logs", "temporal.log"),
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := ts.Stop(); err != nil {
			log.Warn("temporal server stop", "err", err)
		}
	}()
	run := *cfg
	run.Temporal.Address = ts.FrontendAddr() // resolves port 0
	return serve(ctx, &run, log, edge.ServiceNames(), workflows.Queues, func(r *Running) {
		r.TemporalUI = ts.UIURL()
		r.Started = time.Since(start)
		if ready != nil {
			ready(r)
		}
	})
}

// Running describes a started process, for printing and tests.
type Running struct {
	// HTTPAddr is the bound public address.
	HTTPAddr string
	// TemporalAddr is the Temporal frontend the process uses.
	TemporalAddr string
	// TemporalUI is the embedded UI's URL ("" when not embedded or disabled).
	TemporalUI string
	// Services and Queues served.
	Services, Queues []string
	// Started is the time from start to ready.
	Started time.Duration
	// Temporal is the process's client.
	Temporal client.Client
}

// Serve runs the given services (and no workers) until ctx ends.
func Serve(ctx context.Context, cfg *config.Config, log *slog.Logger, services []string, ready func(*Running)) error {
	return serve(ctx, cfg, log, services, nil, ready)
}

// Work runs workers for the given queues (and no public services; the edge
// still serves health and metrics) until ctx ends.
func Work(ctx context.Context, cfg *config.Config, log *slog.Logger, queues []string, ready func(*Running)) error {
	return serve(ctx, cfg, log, nil, queues, ready)
}

// QueueComponents maps each task queue to the stores its activities need.
var QueueComponents = map[string][]string{
	workflows.QueueSystem:        AllComponents,
	workflows.QueueAccounts:      {"accounts", "profiles", "graph", "mail"},
	workflows.QueueMedia:         {"media", "blobs", "analytics"},
	workflows.QueueFeed:          {"timelines", "posts", "graph"},
	workflows.QueueNotifications: {"notifications", "graph", "mail", "posts", "profiles", "accounts"},
	workflows.QueueAnalytics:     {"analytics"},
}

// ExpandAll turns ["all"] into every name in known, and rejects unknown names.
func ExpandAll(kind string, names, known []string) ([]string, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("name at least one %s (or all): %v", kind, known)
	}
	if slices.Contains(names, "all") {
		return slices.Clone(known), nil
	}
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("unknown %s %q (known: %v)", kind, n, known)
		}
	}
	return names, nil
}

func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, services, queues []string, ready func(*Running)) error {
	var components []string
	for _, s := range services {
		components = append(components, ServiceComponents[s]...)
	}
	if len(services) > 0 && cfg.Auth.JWKSURL == "" {
		components = append(components, "accounts") // signing keys verify access tokens locally
	}
	for _, q := range queues {
		components = append(components, QueueComponents[q]...)
	}
	slices.Sort(components)
	components = slices.Compact(components)

	stores, err := OpenStores(ctx, cfg, components)
	if err != nil {
		return err
	}
	defer func() {
		if err := stores.Close(); err != nil {
			log.Warn("closing stores", "err", err)
		}
	}()
	if cfg.Profile == config.ProfileEmbedded {
		// One process owns the embedded files: migrate on start.
		if err := stores.Migrate(ctx); err != nil {
			return err
		}
	}
	// Traces (RPC → workflow → activity, exported when telemetry.exporter
	// is set) and the Prometheus registry behind /metrics.
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: serviceName(services, queues), Exporter: cfg.Telemetry.Exporter,
		Endpoint: cfg.Telemetry.Endpoint, Insecure: cfg.Telemetry.Insecure, SampleRatio: cfg.Telemetry.SampleRatio})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			log.Warn("telemetry shutdown", "err", err)
		}
	}()
	reg := edge.NewRegistry()
	tc, err := DialTemporal(ctx, cfg, log, temporalTelemetry(tel, reg))
	if err != nil {
		return err
	}
	defer tc.Close()
	if cfg.HTTP.PprofAddr != "" {
		stop, err := servePprof(cfg.HTTP.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}

	// Analytics ingests every event (in-memory enqueue, batched writes; see
	// startIngest). Deferred before the server starts, so it flushes after
	// the last request.
	ingest, stopIngest, err := startIngest(cfg, stores, log)
	if err != nil {
		return err
	}
	defer stopIngest()
	reg.MustRegister(fanoutLag)
	if in, ok := ingest.(*analytics.Ingester); ok {
		reg.MustRegister(ingestCollector{in})
	}

	// Graph and post events feed the fan-out (durably, through Temporal)
	// and analytics; notifications get one signal per shard per group of
	// concurrent requests to that shard's long-running batching workflow
	// (internal/notification/dispatch): no workflow start per recipient.
	notifier := &dispatch.Dispatcher{Temporal: tc, Shards: cfg.Notifications.Shards, Window: cfg.Notifications.GroupWindow,
		BatchWindow: cfg.Notifications.Window, MaxEvents: cfg.Notifications.MaxEvents, Detached: true, Log: log}
	if cfg.Profile == config.ProfileEmbedded {
		// Each signal makes the in-process Temporal server run a shard
		// round; at 5 signals/s (each carrying every event of its shard
		// since the last one, so nothing is dropped) it leaves the server
		// to the feed fan-out. Measured on the DeathStarBench mix
		// (docs/notifications.md): unthrottled, CreatePost p50 2.7 s with
		// `unavailable` errors; at 5/s p50 0.23 s, p99 2.1 s, 0 errors.
		notifier.Rate = 5
	}
	var events event.Publisher = event.Fanout{&feed.Dispatcher{Temporal: tc, Shards: cfg.Feed.Shards, Window: cfg.Feed.GroupWindow}, ingest, notifier}

	deps := workers.Deps{Stores: stores.All()}
	if stores.Accounts != nil && stores.Profiles != nil && stores.Mail != nil {
		deps.Accounts = &activities.Accounts{Accounts: stores.Accounts, Profiles: stores.Profiles, Graph: stores.Graph, Mail: stores.Mail, PublicURL: cfg.HTTP.PublicURL}
	}
	if stores.Timelines != nil && stores.Posts != nil && stores.Graph != nil {
		deps.Feed = &activities.Feed{Graph: stores.Graph, Posts: stores.Posts, Timelines: stores.Timelines, Threshold: cfg.Feed.FanoutThreshold, PageSize: cfg.Feed.PageSize,
			Lag: fanoutLag}
	}
	if stores.Media != nil && stores.Blobs != nil {
		deps.Media = &activities.Media{Store: stores.Media, Blobs: stores.Blobs, Events: events,
			Limits:        process.Limits{MaxPixels: cfg.Media.MaxPixels},
			MaxImageBytes: cfg.Media.MaxImageBytes, MaxVideoBytes: cfg.Media.MaxVideoBytes}
		deps.MediaWorkers = cfg.Media.Workers
	}
	unsubscribe, err := notificationUnsubscribe(cfg, stores, log)
	if err != nil {
		return err
	}
	if stores.Notifications != nil && stores.NotificationPrefs != nil && stores.Graph != nil && stores.Posts != nil &&
		stores.Profiles != nil && stores.Accounts != nil && stores.Mail != nil {
		deps.Notifications = &activities.Notifications{Inbox: stores.Notifications, Prefs: stores.NotificationPrefs, Graph: stores.Graph,
			Posts: stores.Posts, Profiles: stores.Profiles, Accounts: stores.Accounts, Mail: stores.Mail, Broker: stores.NotificationBroker,
			Unsubscribe: unsubscribe, PublicURL: cfg.HTTP.PublicURL}
	}
	if slices.Contains(queues, workflows.QueueNotifications) {
		// The digests' Temporal schedules, created or updated in the
		// background (retried until Temporal answers).
		go dispatch.KeepDigestSchedules(ctx, tc, cfg.Notifications.DigestHour, time.Weekday(cfg.Notifications.DigestWeekday), log)
	}
	stopWorkers, err := workers.Start(tc, queues, deps)
	if err != nil {
		return err
	}
	defer stopWorkers()

	checks := []edge.Check{{Name: "temporal", Check: func(ctx context.Context) error {
		_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	}}}
	for _, st := range stores.All() {
		checks = append(checks, edge.Check{Name: st.Name(), Check: st.Ping})
	}
	var svcs []edge.Service
	handlers := edge.Handlers{}
	extra := map[string]http.Handler{}
	var verifier *auth.Verifier
	var issuer *auth.Issuer
	if stores.Accounts != nil {
		issuer = &auth.Issuer{Keys: stores.Accounts, IssuerURL: cfg.IssuerURL(), Audience: cfg.Auth.Audience, AccessTTL: cfg.Auth.AccessTTL, RotateEvery: cfg.Auth.KeyRotation}
		handlers.Auth = &authapi.Service{Accounts: stores.Accounts, Temporal: tc, Argon2: auth.DefaultArgon2, Tokens: issuer, Events: events, Log: log}
		extra["GET /.well-known/jwks.json"] = auth.JWKSHandler(issuer)
		verifier = &auth.Verifier{JWKS: issuer.JWKS, IssuerURL: cfg.IssuerURL(), Audience: cfg.Auth.Audience, Leeway: 30 * time.Second, CacheSize: tokenCacheSize}
		provider, err := openIDProvider(cfg, stores)
		if err != nil {
			return err
		}
		extra["/"] = provider // discovery, /authorize, /oauth/token, /userinfo, /keys, /login, …
	}
	if stores.Profiles != nil {
		handlers.User = &userapi.Service{Profiles: stores.Profiles, Graph: stores.Graph, Posts: stores.Posts, Events: events, Log: log}
	}
	var mediaSvc *mediaapi.Service
	var feedSvc *feedapi.Service
	if stores.Media != nil && stores.Blobs != nil {
		mediaSvc = &mediaapi.Service{Store: stores.Media, Blobs: stores.Blobs, Temporal: tc, Log: log,
			MaxImageBytes: cfg.Media.MaxImageBytes, MaxVideoBytes: cfg.Media.MaxVideoBytes,
			UploadTTL: cfg.Media.UploadTTL, PendingTTL: cfg.Media.PendingTTL, URLTTL: cfg.Media.URLTTL, PublicBaseURL: cfg.Media.PublicBaseURL}
		handlers.Media = mediaSvc
		if fs, ok := stores.Blobs.(*blobfile.Store); ok {
			extra[blobfile.PathPrefix] = fs.Handler() // the embedded store's signed upload/download URLs
		}
	}
	if stores.Posts != nil && stores.Profiles != nil && stores.Graph != nil {
		posts := &postapi.Service{Posts: stores.Posts, Graph: stores.Graph, Profiles: stores.Profiles, Events: events, Log: log}
		if mediaSvc != nil {
			posts.Media = mediaSvc
		}
		handlers.Post = posts
		if stores.Timelines != nil {
			feedSvc = &feedapi.Service{Timelines: stores.Timelines, Posts: stores.Posts, Graph: stores.Graph, Profiles: stores.Profiles,
				PostAPI: posts, Threshold: cfg.Feed.FanoutThreshold, Analytics: stores.Analytics, Events: events, Log: log}
			handlers.Feed = feedSvc
		}
	}
	if stores.Analytics != nil && stores.Posts != nil && stores.Profiles != nil {
		an := &analyticsapi.Service{Store: stores.Analytics, Posts: stores.Posts, Profiles: stores.Profiles, Log: log}
		handlers.Analytics = an
		if issuer != nil && verifier != nil {
			extra[dashboard.Path] = analyticsDashboard(cfg, stores, an, issuer, verifier, log)
		}
	}
	if stores.Notifications != nil && stores.NotificationPrefs != nil && stores.Graph != nil && stores.Profiles != nil {
		handlers.Notification = &notificationapi.Service{Inbox: stores.Notifications, Prefs: stores.NotificationPrefs, Graph: stores.Graph,
			Profiles: stores.Profiles, Broker: stores.NotificationBroker, KeepAlive: cfg.Notifications.KeepAlive, Closing: ctx.Done(), Log: log}
		extra[notification.UnsubscribePath] = unsubscribe.Handler()
	}
	if cfg.Auth.JWKSURL != "" {
		verifier = &auth.Verifier{JWKS: auth.RemoteJWKS(cfg.Auth.JWKSURL), IssuerURL: cfg.IssuerURL(), Audience: cfg.Auth.Audience, Leeway: 30 * time.Second, CacheSize: tokenCacheSize}
	}
	for _, s := range edge.Services(handlers) {
		if slices.Contains(services, s.Name) {
			svcs = append(svcs, s)
		}
	}
	if stores.DevMail != nil {
		extra["GET /dev/mail"] = stores.DevMail.Handler()
		extra["GET /dev/mail.json"] = stores.DevMail.Handler()
	}
	tracing, err := telemetry.ConnectInterceptor(tel.TracerProvider())
	if err != nil {
		return err
	}
	opts := edge.Options{Services: svcs, Checks: checks, CORSOrigins: cfg.HTTP.CORSOrigins, Extra: extra, Logger: log,
		Registry: reg, Interceptors: []connect.Interceptor{tracing}}
	// On the embedded profile the gateway runs in this process, in front
	// of the services; on the scale profile `ejazz serve gateway` runs
	// apart and the services trust the identities it signs with
	// gateway.identity_keys (and still take bearer tokens, for calls
	// inside the cluster).
	inProcess := cfg.Profile == config.ProfileEmbedded && len(svcs) > 0
	keys, err := identityKeys(cfg, inProcess)
	if err != nil {
		return err
	}
	mw := auth.MiddlewareOptions{Tokens: verifier}
	if len(keys) > 0 {
		mw.Identity = &auth.IdentityVerifier{Keys: keys}
	}
	if verifier != nil || mw.Identity != nil {
		opts.Middleware = auth.NewMiddleware(mw)
	}
	if inProcess && verifier != nil {
		opts.CORSOrigins = nil // the gateway in front answers CORS
	}
	var handler http.Handler = edge.New(opts)
	var limiter *ratelimit.Limiter
	if inProcess && verifier != nil {
		h, gw, lim, err := front(ctx, frontOptions{cfg: cfg, log: log, reg: reg, tokens: verifier,
			signer: &auth.IdentitySigner{Keys: keys}, limits: stores.RateLimits, fallback: handler}, localRoutes(svcs, handler))
		if err != nil {
			return err
		}
		defer gw.Close()
		handler, limiter = h, lim
	}
	watchConfig(ctx, cfg, log, func(cur *config.Config) {
		reloadLimits(limiter, cur, log)
		if deps.Feed != nil {
			deps.Feed.LiveThreshold.Set(cur.Feed.FanoutThreshold)
		}
		if feedSvc != nil {
			feedSvc.LiveThreshold.Set(cur.Feed.FanoutThreshold)
		}
	})
	srv, err := edge.Listen(cfg.HTTP.Addr, handler)
	if err != nil {
		return err
	}
	r := &Running{HTTPAddr: srv.Addr(), TemporalAddr: cfg.Temporal.Address, Services: services, Queues: queues, Temporal: tc}
	log.Info("ejazz ready", "http", r.HTTPAddr, "temporal", r.TemporalAddr, "services", services, "queues", queues, "profile", cfg.Profile)
	if ready != nil {
		ready(r)
	}
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// Migrate applies every store's schema on cfg's profile and, when Temporal is
// reachable, registers Ejazz's search attributes on the namespace.
func Migrate(ctx context.Context, cfg *config.Config, log *slog.Logger, withTemporal bool) error {
	stores, err := OpenStores(ctx, cfg, AllComponents)
	if err != nil {
		return err
	}
	defer stores.Close()
	if err := stores.Migrate(ctx); err != nil {
		return err
	}
	for _, st := range stores.All() {
		log.Info("migrated", "store", st.Name())
	}
	if !withTemporal {
		return nil
	}
	tc, err := DialTemporal(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer tc.Close()
	return RegisterSearchAttributes(ctx, tc, cfg.Temporal.Namespace)
}

// RegisterSearchAttributes adds Ejazz's custom search attributes to namespace
// (existing ones are left alone).
func RegisterSearchAttributes(ctx context.Context, tc client.Client, namespace string) error {
	existing, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("temporal: list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range workflows.SearchAttributeTypes() {
		if _, ok := existing.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = tc.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("temporal: add search attributes: %w", err)
	}
	return nil
}

// openIDProvider builds the built-in OpenID Provider on the account store.
func openIDProvider(cfg *config.Config, stores *Stores) (http.Handler, error) {
	var key [32]byte
	if cfg.Auth.OIDCKey != "" {
		b, err := hex.DecodeString(cfg.Auth.OIDCKey)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("auth.oidc_key must be 64 hex characters")
		}
		copy(key[:], b)
	} else if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	web := oidcop.Client{ID: cfg.Auth.OIDCClientID, RedirectURIs: cfg.Auth.OIDCRedirectURIs,
		PostLogoutRedirectURIs: cfg.Auth.OIDCPostLogoutRedirectURIs, RefreshTokens: true}
	return oidcop.New(oidcop.Config{
		IssuerURL:     cfg.IssuerURL(),
		Accounts:      stores.Accounts,
		Clients:       []oidcop.Client{web},
		CryptoKey:     key,
		AccessTTL:     cfg.Auth.AccessTTL,
		RotateEvery:   cfg.Auth.KeyRotation,
		Audience:      cfg.Auth.Audience,
		AllowInsecure: strings.HasPrefix(cfg.IssuerURL(), "http://"),
	})
}

// notificationUnsubscribe signs and serves the unsubscribe links of
// notification mails, with notifications.unsubscribe_key or (empty) the key
// kept in the preference store; nil when the process has no preferences.
func notificationUnsubscribe(cfg *config.Config, stores *Stores, log *slog.Logger) (*notification.Unsubscribe, error) {
	if stores.NotificationPrefs == nil {
		return nil, nil
	}
	u := &notification.Unsubscribe{Prefs: stores.NotificationPrefs, BaseURL: cfg.HTTP.PublicURL, Log: log}
	if cfg.Notifications.UnsubscribeKey != "" {
		key, err := hex.DecodeString(cfg.Notifications.UnsubscribeKey)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("notifications.unsubscribe_key must be 64 hex characters")
		}
		u.Key = key
	}
	return u, nil
}
