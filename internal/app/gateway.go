package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/config"
	"github.com/ejazz/ejazz/internal/edge"
	"github.com/ejazz/ejazz/internal/gateway"
	"github.com/ejazz/ejazz/internal/ratelimit"
	"github.com/ejazz/ejazz/internal/rest"
)

// GatewayService is the name `ejazz serve gateway` takes: the public
// gateway in front of service processes (not itself a Connect service).
const GatewayService = "gateway"

// identityKeys returns the keys that sign and verify the identity the
// gateway forwards: gateway.identity_keys, or — when none are configured
// and the gateway runs in-process (embedded profile) — one random key for
// this process's life. nil when none are configured otherwise.
func identityKeys(cfg *config.Config, inProcess bool) ([][]byte, error) {
	if len(cfg.Gateway.IdentityKeys) > 0 {
		keys, err := auth.ParseIdentityKeys(strings.Join(cfg.Gateway.IdentityKeys, ","))
		if err != nil {
			return nil, fmt.Errorf("gateway.identity_keys: %w", err)
		}
		return keys, nil
	}
	if !inProcess {
		return nil, nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return [][]byte{key}, nil
}

// policy turns the ratelimit section into a limiter policy: ip limits
// anonymous calls, user limits a signed-in user, and a signed-in user's
// address gets four times the ip rule (users share addresses behind NAT).
// Expensive entries are matched to procedures by their snake_case method
// name (config.ProcedureKey) over the default list of expensive calls.
func policy(r config.RateLimit) *ratelimit.Policy {
	if !r.Enabled {
		return &ratelimit.Policy{}
	}
	p := ratelimit.DefaultPolicy()
	p.Anonymous = ratelimit.PerSecond(r.IP.Rate, r.IP.Burst)
	p.User = ratelimit.PerSecond(r.User.Rate, r.User.Burst)
	p.UserIP = ratelimit.PerSecond(4*r.IP.Rate, 4*r.IP.Burst)
	for proc := range p.Expensive {
		if l, ok := r.ForProcedure(proc); ok {
			p.Expensive[proc] = ratelimit.PerSecond(l.Rate, l.Burst)
		}
	}
	return p
}

// frontOptions are what the public front needs beyond the routes.
type frontOptions struct {
	cfg      *config.Config
	log      *slog.Logger
	reg      prometheus.Registerer
	tokens   *auth.Verifier
	signer   *auth.IdentitySigner
	limits   ratelimit.Store
	fallback http.Handler
}

// front builds the public handler of a gateway: REST transcoding and the
// OpenAPI document outermost, then the gateway (token verified once, signed
// identity forwarded, rate limits, health-checked routing). The limiter is
// returned for hot reload (nil without a store).
func front(ctx context.Context, o frontOptions, routes []gateway.Route) (http.Handler, *gateway.Gateway, *ratelimit.Limiter, error) {
	var hook func(http.Handler) http.Handler
	var lim *ratelimit.Limiter
	if o.limits != nil {
		var err error
		lim, err = ratelimit.NewLimiter(o.limits, policy(o.cfg.RateLimit), ratelimit.Options{Logger: o.log, Registerer: o.reg})
		if err != nil {
			return nil, nil, nil, err
		}
		trusted, err := ratelimit.ParseTrustedProxies(o.cfg.RateLimit.TrustedProxies)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("ratelimit.trusted_proxies: %w", err)
		}
		hook = ratelimit.Middleware(lim, func(r *http.Request) string {
			c, _ := auth.CallerFrom(r.Context())
			return c.UserID
		}, ratelimit.ClientIP(trusted))
		go ratelimit.SweepEvery(ctx, o.limits, time.Minute, func(err error) { o.log.Warn("rate-limit sweep", "err", err) })
	}
	gw, err := gateway.New(gateway.Options{
		Routes: routes, Tokens: o.tokens, Signer: o.signer,
		MaxBodyBytes: o.cfg.Gateway.MaxBodyBytes, Timeout: o.cfg.Gateway.Timeout, CORSOrigins: o.cfg.HTTP.CORSOrigins,
		HealthInterval: o.cfg.Gateway.HealthInterval, ResolveInterval: o.cfg.Gateway.DNSRefresh,
		Middleware: hook, Fallback: o.fallback, Registerer: o.reg, Logger: o.log,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	var names []string
	for _, r := range routes {
		names = append(names, r.Service)
	}
	mux := http.NewServeMux()
	mux.Handle(rest.OpenAPIJSONPath, rest.OpenAPIHandler())
	mux.Handle(rest.OpenAPIYAMLPath, rest.OpenAPIHandler())
	mux.Handle("/", gw)
	h, err := rest.Handler(gw, mux, names...)
	if err != nil {
		gw.Close()
		return nil, nil, nil, err
	}
	return h, gw, lim, nil
}

// localRoutes routes every served service to the in-process handler h.
func localRoutes(svcs []edge.Service, h http.Handler) []gateway.Route {
	var routes []gateway.Route
	for _, s := range svcs {
		routes = append(routes, gateway.Route{Service: s.FullName, Backend: gateway.Backend{Handler: h}})
	}
	return routes
}

// remoteRoutes routes each service named in gateway.backends (by short or
// full name) to its instances.
func remoteRoutes(cfg *config.Config) ([]gateway.Route, error) {
	var routes []gateway.Route
	for _, s := range edge.Services(edge.Handlers{}) {
		targets, ok := cfg.Gateway.Backends[s.Name]
		if !ok {
			targets, ok = cfg.Gateway.Backends[s.FullName]
		}
		if !ok || len(targets) == 0 {
			continue
		}
		b, err := gateway.ParseBackend(strings.Join(targets, ","))
		if err != nil {
			return nil, fmt.Errorf("gateway.backends.%s: %w", s.Name, err)
		}
		routes = append(routes, gateway.Route{Service: s.FullName, Backend: b})
	}
	if len(routes) == 0 {
		return nil, fmt.Errorf("gateway.backends names no service (known: %v)", edge.ServiceNames())
	}
	return routes, nil
}

// Gateway runs the public gateway alone (`ejazz serve gateway`) until ctx
// ends: routes to the instances of gateway.backends, tokens verified with
// the account store's keys (or auth.jwks_url), identities signed with
// gateway.identity_keys, rate limits in PostgreSQL (scale) shared by every
// replica.
func Gateway(ctx context.Context, cfg *config.Config, log *slog.Logger, ready func(*Running)) error {
	routes, err := remoteRoutes(cfg)
	if err != nil {
		return err
	}
	keys, err := identityKeys(cfg, cfg.Profile == config.ProfileEmbedded)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("the gateway needs gateway.identity_keys (shared with the services) to forward identities")
	}
	components := []string{ratelimit.Component}
	if cfg.Auth.JWKSURL == "" {
		components = append(components, "accounts")
	}
	stores, err := OpenStores(ctx, cfg, components)
	if err != nil {
		return err
	}
	defer stores.Close()
	if cfg.Profile == config.ProfileEmbedded {
		if err := stores.Migrate(ctx); err != nil {
			return err
		}
	}
	var verifier *auth.Verifier
	if cfg.Auth.JWKSURL != "" {
		verifier = &auth.Verifier{JWKS: auth.RemoteJWKS(cfg.Auth.JWKSURL), IssuerURL: cfg.IssuerURL(), Audience: cfg.Auth.Audience, Leeway: 30 * time.Second, CacheSize: tokenCacheSize}
	} else {
		issuer := &auth.Issuer{Keys: stores.Accounts, IssuerURL: cfg.IssuerURL(), Audience: cfg.Auth.Audience, AccessTTL: cfg.Auth.AccessTTL, RotateEvery: cfg.Auth.KeyRotation}
		verifier = &auth.Verifier{JWKS: issuer.JWKS, IssuerURL: cfg.IssuerURL(), Audience: cfg.Auth.Audience, Leeway: 30 * time.Second, CacheSize: tokenCacheSize}
	}
	reg := edge.NewRegistry()
	var gw *gateway.Gateway
	checks := []edge.Check{{Name: "backends", Check: func(context.Context) error { return gw.Ready() }}}
	for _, st := range stores.All() {
		checks = append(checks, edge.Check{Name: st.Name(), Check: st.Ping})
	}
	// The gateway's own health, readiness and metrics.
	local := edge.New(edge.Options{Checks: checks, Registry: reg, Logger: log}) // CORS is the gateway's
	h, gw, lim, err := front(ctx, frontOptions{cfg: cfg, log: log, reg: reg, tokens: verifier,
		signer: &auth.IdentitySigner{Keys: keys}, limits: stores.RateLimits, fallback: local}, routes)
	if err != nil {
		return err
	}
	defer gw.Close()
	watchConfig(ctx, cfg, log, func(cur *config.Config) { reloadLimits(lim, cur, log) })
	srv, err := edge.Listen(cfg.HTTP.Addr, h)
	if err != nil {
		return err
	}
	var names []string
	for _, r := range routes {
		names = append(names, r.Service)
	}
	slices.Sort(names)
	log.Info("ejazz gateway ready", "http", srv.Addr(), "routes", names)
	if ready != nil {
		ready(&Running{HTTPAddr: srv.Addr(), Services: []string{GatewayService}})
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// reloadLimits applies cur's rate limits to lim (nil: none); an invalid
// policy leaves the running one.
func reloadLimits(lim *ratelimit.Limiter, cur *config.Config, log *slog.Logger) {
	if lim == nil {
		return
	}
	if err := lim.SetPolicy(policy(cur.RateLimit)); err != nil {
		log.Warn("rate limits not reloaded", "err", err)
	}
}

// watchConfig reloads cfg on SIGHUP and file changes (config.Live) and
// calls apply with each configuration whose reloadable keys changed; the
// log level follows log.level. Nothing happens for a cfg not made by
// config.Load (tests).
func watchConfig(ctx context.Context, cfg *config.Config, log *slog.Logger, apply func(*config.Config)) *config.Live {
	reload := cfg.Reloader()
	if reload == nil {
		return nil
	}
	live := config.NewLive(cfg, reload, log)
	live.Subscribe(func(_, cur *config.Config, changed []string) {
		setLogLevel(cur.Log.Level)
		apply(cur)
		log.Info("configuration reloaded", "applied", changed)
	})
	live.Watch(ctx, config.DefaultPollInterval)
	return live
}

// tokenCacheSize is how many verified access tokens a process keeps (see
// auth.Verifier.CacheSize): an ECDSA verification per call cost the
// gateway a quarter of its CPU in BenchmarkGateway.
const tokenCacheSize = 10_000
