// Package gateway is Ejazz's API gateway: one public port for Connect, gRPC
// and gRPC-Web that verifies the caller's access token once, forwards the
// caller to the services as a signed identity (auth.IdentityHeader), and
// routes each service ("/<full service name>/…") to its backend: an
// in-process handler (`ejazz dev`) or a set of instances (static URLs or a
// DNS name re-resolved periodically), load balanced over the healthy ones
// (grpc.health.v1 checks plus passive ejection on connection errors), with
// retries where they are safe, request size limits, timeouts and CORS.
//
// The Authorization header is removed before a call is forwarded: services
// behind the gateway trust only the signed identity, and the bearer token
// does not travel further than it must (logs, traces, a compromised
// service cannot replay it elsewhere).
package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ejazz/ejazz/internal/auth"
	"github.com/ejazz/ejazz/internal/edge"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes    = 4 << 20
	DefaultTimeout         = 30 * time.Second
	DefaultHealthInterval  = 5 * time.Second
	DefaultResolveInterval = 15 * time.Second
	DefaultEjectAfter      = 2
)

// Backend serves one route: exactly one of Handler and Resolver is set.
type Backend struct {
	// Handler serves the service in this process (`ejazz dev`): no network
	// hop, no health checks, no retries.
	Handler http.Handler
	// Resolver lists the service's instances (Static, DNS).
	Resolver Resolver
}

// Route sends one service's calls to a backend.
type Route struct {
	// Service is the full protobuf service name, e.g. "ejazz.post.v1.PostService".
	Service string
	Backend Backend
	// Timeout of a unary call; 0 means Options.Timeout. Server-streaming
	// calls have no gateway timeout (clients set their own deadline).
	Timeout time.Duration
}

// Options configures the gateway.
type Options struct {
	Routes []Route
	// Tokens verifies bearer tokens; with Signer it turns them into signed
	// identities. Nil forwards Authorization untouched (services verify
	// tokens themselves) and signs nothing.
	Tokens *auth.Verifier
	// Signer signs the identity of authenticated calls; required with Tokens.
	Signer *auth.IdentitySigner
	// MaxBodyBytes bounds a request body (the whole stream for client
	// streams); 0 means DefaultMaxBodyBytes. Larger is `resource_exhausted`.
	MaxBodyBytes int64
	// Timeout of unary calls; 0 means DefaultTimeout.
	Timeout time.Duration
	// CORSOrigins allowed for browser clients ("*" for any).
	CORSOrigins []string
	// HealthInterval between health checks of every instance; 0 means
	// DefaultHealthInterval. ResolveInterval between resolutions; 0 means
	// DefaultResolveInterval.
	HealthInterval, ResolveInterval time.Duration
	// EjectAfter consecutive failed health checks eject an instance; 0
	// means DefaultEjectAfter. A connection error ejects it at once; one
	// passed check re-admits it.
	EjectAfter int
	// Idempotent names extra procedures ("/pkg.Service/Method") safe to
	// retry after they reached an instance, besides those whose
	// idempotency_level is NO_SIDE_EFFECTS or IDEMPOTENT.
	Idempotent []string
	// Middleware wraps every routed call after authentication (the caller
	// is in the context: auth.CallerFrom), before the body is read — the
	// hook for rate limiting. Nil for none.
	Middleware func(http.Handler) http.Handler
	// Fallback serves requests that are not RPCs of a routed service
	// (/healthz, /metrics, REST…); nil answers 404, or `unimplemented` to
	// an RPC of an unknown service.
	Fallback http.Handler
	// BackendH2C sends every call to instances over h2c; by default only
	// gRPC does, and Connect and gRPC-Web use HTTP/1.1 (about twice the
	// throughput on loopback: many connections instead of one multiplexed).
	// With HTTP/1.1 a non-idempotent call can fail when an instance closes
	// an idle keep-alive connection the gateway is just reusing (a graceful
	// drain); HTTP/2's GOAWAY says which calls were not processed, so with
	// h2c those are retried and a drain loses nothing.
	BackendH2C bool
	// Registerer receives the gateway's metrics; nil keeps them private.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Gateway is the gateway's http.Handler; Close stops its health checks.
type Gateway struct {
	handler http.Handler
	routes  map[string]*route
	pools   []*pool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	h1, h2  *http.Transport
}

// route is one service's handler chain.
type route struct {
	service string
	timeout time.Duration
	procs   map[string]procedure
	handler http.Handler // in-process backend, or the reverse proxy
	pool    *pool        // nil for in-process
}

var errorWriter = connect.NewErrorWriter()

// New builds the gateway and starts resolving and health-checking its
// backends' instances; Close stops that.
func New(o Options) (*Gateway, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = DefaultHealthInterval
	}
	if o.ResolveInterval <= 0 {
		o.ResolveInterval = DefaultResolveInterval
	}
	if o.EjectAfter <= 0 {
		o.EjectAfter = DefaultEjectAfter
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Tokens != nil {
		if o.Signer == nil {
			return nil, errors.New("gateway: Tokens without Signer")
		}
		if err := o.Signer.Validate(); err != nil {
			return nil, fmt.Errorf("gateway: identity signer: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{routes: map[string]*route{}, cancel: cancel, h1: newTransport(false), h2: newTransport(true)}
	m := newMetrics(o.Registerer)
	extraIdempotent := map[string]bool{}
	for _, p := range o.Idempotent {
		extraIdempotent[p] = true
	}
	for _, r := range o.Routes {
		if r.Service == "" || strings.Contains(r.Service, "/") {
			cancel()
			return nil, fmt.Errorf("gateway: route service %q: want a full protobuf service name", r.Service)
		}
		if _, dup := g.routes[r.Service]; dup {
			cancel()
			return nil, fmt.Errorf("gateway: two routes for %s", r.Service)
		}
		if (r.Backend.Handler == nil) == (r.Backend.Resolver == nil) {
			cancel()
			return nil, fmt.Errorf("gateway: route %s: set exactly one of Backend.Handler and Backend.Resolver", r.Service)
		}
		procs := procedures(r.Service)
		for p := range extraIdempotent {
			if strings.HasPrefix(p, "/"+r.Service+"/") {
				pr := procs[p]
				pr.idempotent = true
				procs[p] = pr
			}
		}
		rt := &route{service: r.Service, timeout: r.Timeout, procs: procs, handler: r.Backend.Handler}
		if rt.timeout <= 0 {
			rt.timeout = o.Timeout
		}
		if r.Backend.Resolver != nil {
			p := &pool{
				service: r.Service, resolver: r.Backend.Resolver, h1: g.h1, h2: g.h2,
				healthHTTP: &http.Client{Transport: g.h1}, ejectAfter: int32(o.EjectAfter), allH2C: o.BackendH2C,
				procs: procs, log: o.Logger, metrics: m,
			}
			rt.pool = p
			rt.handler = &httputil.ReverseProxy{
				Rewrite: func(pr *httputil.ProxyRequest) {
					pr.SetXForwarded()
					// The pool sets scheme and host per attempt.
					pr.Out.URL.Scheme, pr.Out.URL.Host = "http", r.Service
				},
				Transport:     p,
				FlushInterval: -1,
				ErrorHandler:  proxyError(o.Logger, r.Service),
			}
			g.pools = append(g.pools, p)
		}
		g.routes[r.Service] = rt
	}
	for _, p := range g.pools {
		g.resolve(ctx, p, o.Logger)
		g.wg.Go(func() { g.watch(ctx, p, o) })
	}
	var h http.Handler = &front{g: g, tokens: o.Tokens, signer: o.Signer, maxBody: o.MaxBodyBytes,
		hook: o.Middleware, fallback: o.Fallback, health: grpchealthHandler(g)}
	g.handler = edge.CORS(o.CORSOrigins)(h)
	return g, nil
}

// ServeHTTP serves one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// Close stops the health checks and resolution and closes idle backend
// connections. In-flight calls are not interrupted.
func (g *Gateway) Close() error {
	g.cancel()
	g.wg.Wait()
	g.h1.CloseIdleConnections()
	g.h2.CloseIdleConnections()
	return nil
}

// Ready reports a routed service without a healthy instance (nil when
// every route can serve): the gateway's readiness.
func (g *Gateway) Ready() error {
	for _, p := range g.pools {
		if p.healthyCount() == 0 {
			return fmt.Errorf("%s: no healthy instance", p.service)
		}
	}
	return nil
}

func (g *Gateway) resolve(ctx context.Context, p *pool, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	urls, err := p.resolver.Resolve(ctx)
	if err != nil {
		// Keep the last known instances: a DNS hiccup must not empty a pool.
		log.Warn("gateway: resolve failed", "service", p.service, "err", err)
		return
	}
	p.setInstances(urls)
}

// watch health-checks p every HealthInterval and re-resolves it every
// ResolveInterval until ctx ends.
func (g *Gateway) watch(ctx context.Context, p *pool, o Options) {
	tick := time.NewTicker(o.HealthInterval)
	defer tick.Stop()
	lastResolve := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, static := p.resolver.(Static); !static && time.Since(lastResolve) >= o.ResolveInterval {
			g.resolve(ctx, p, o.Logger)
			lastResolve = time.Now()
		}
		p.checkAll(ctx, min(o.HealthInterval, 2*time.Second))
	}
}

// newTransport returns the transport to backends: h2c only (gRPC needs
// HTTP/2 for trailers) or HTTP/1.1 only (Connect and gRPC-Web: many
// parallel connections beat one multiplexed one for small unary calls).
func newTransport(h2c bool) *http.Transport {
	var protocols http.Protocols
	if h2c {
		protocols.SetUnencryptedHTTP2(true)
	} else {
		protocols.SetHTTP1(true)
	}
	return &http.Transport{
		Protocols:             &protocols,
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // the route's context deadline bounds calls; streams may be silent
		HTTP2: &http.HTTP2Config{
			PingTimeout:     5 * time.Second,
			SendPingTimeout: 15 * time.Second,
		},
	}
}

// front is the gateway's handler behind CORS.
type front struct {
	g        *Gateway
	tokens   *auth.Verifier
	signer   *auth.IdentitySigner
	maxBody  int64
	hook     func(http.Handler) http.Handler
	fallback http.Handler
	health   http.Handler
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := r.Header[http.CanonicalHeaderKey(auth.IdentityHeader)]; ok {
		writeError(w, r, connect.CodeUnauthenticated, "identity header not accepted from clients", http.StatusUnauthorized)
		return
	}
	service, _, isRPC := splitProcedure(r.URL.Path)
	rt := f.g.routes[service]
	if rt == nil {
		switch {
		case isRPC && service == grpchealth.HealthV1ServiceName:
			f.health.ServeHTTP(w, r)
		case f.fallback != nil:
			f.fallback.ServeHTTP(w, r)
		case isRPC && errorWriter.IsSupported(r):
			writeError(w, r, connect.CodeUnimplemented, fmt.Sprintf("no route for service %s", service), http.StatusNotFound)
		default:
			http.NotFound(w, r)
		}
		return
	}
	if f.tokens != nil && r.Header.Get("Authorization") != "" {
		c, err := auth.BearerCaller(r, f.tokens)
		if err != nil {
			writeError(w, r, connect.CodeUnauthenticated, err.Error(), http.StatusUnauthorized)
			return
		}
		id, err := f.signer.Sign(c)
		if err != nil {
			writeError(w, r, connect.CodeInternal, "internal error", http.StatusInternalServerError)
			return
		}
		r = r.WithContext(auth.WithCaller(r.Context(), c))
		r.Header.Del("Authorization")
		r.Header.Set(auth.IdentityHeader, id)
	}
	var next http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.serve(w, r, rt) })
	if f.hook != nil {
		next = f.hook(next)
	}
	next.ServeHTTP(w, r)
}

// serve applies the body limit and the timeout, then calls the backend.
func (f *front) serve(w http.ResponseWriter, r *http.Request, rt *route) {
	proc := rt.procs[r.URL.Path]
	if r.ContentLength > f.maxBody {
		tooLarge(w, r, f.maxBody)
		return
	}
	if proc.clientStream {
		r.Body = http.MaxBytesReader(w, r.Body, f.maxBody)
	} else if r.Body != nil && r.Body != http.NoBody {
		// Buffered (bounded) so a call can be replayed on another instance.
		body, err := io.ReadAll(io.LimitReader(r.Body, f.maxBody+1))
		if err != nil {
			writeError(w, r, connect.CodeCanceled, "reading the request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if int64(len(body)) > f.maxBody {
			tooLarge(w, r, f.maxBody)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
		if r.ProtoMajor == 2 && isGRPC(r) {
			// gRPC clients send no Content-Length; keep it that way.
			r.ContentLength = -1
		}
	}
	if !proc.serverStream {
		ctx, cancel := context.WithTimeout(r.Context(), rt.timeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	rt.handler.ServeHTTP(w, r)
}

func tooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	writeError(w, r, connect.CodeResourceExhausted, fmt.Sprintf("request body larger than %d bytes", limit), http.StatusRequestEntityTooLarge)
}

// proxyError answers a call no instance could serve, in its protocol.
func proxyError(log *slog.Logger, service string) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		switch {
		case errors.Is(r.Context().Err(), context.DeadlineExceeded):
			writeError(w, r, connect.CodeDeadlineExceeded, "the call timed out at the gateway", http.StatusGatewayTimeout)
		case r.Context().Err() != nil:
			writeError(w, r, connect.CodeCanceled, "the call was canceled", 499)
		default:
			log.Warn("gateway: no instance could serve the call", "service", service, "procedure", r.URL.Path, "err", err)
			writeError(w, r, connect.CodeUnavailable, service+" is unavailable", http.StatusBadGateway)
		}
	}
}

// writeError writes a Connect/gRPC/gRPC-Web error, or plain text with
// httpStatus to anything else.
func writeError(w http.ResponseWriter, r *http.Request, code connect.Code, msg string, httpStatus int) {
	if errorWriter.IsSupported(r) {
		_ = errorWriter.Write(w, r, connect.NewError(code, errors.New(msg)))
		return
	}
	http.Error(w, msg, httpStatus)
}

// splitProcedure splits "/pkg.Service/Method"; isRPC is false for other paths.
func splitProcedure(path string) (service, method string, isRPC bool) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return "", "", false
	}
	service, method, ok = strings.Cut(rest, "/")
	if !ok || method == "" || strings.Contains(method, "/") || !strings.Contains(service, ".") {
		return "", "", false
	}
	return service, method, true
}

// grpchealthHandler serves grpc.health.v1 for the gateway itself: a
// service is SERVING while its route has a healthy instance (in-process
// routes always are); "" is SERVING while every route is.
func grpchealthHandler(g *Gateway) http.Handler {
	_, h := grpchealth.NewHandler(healthChecker{g})
	return h
}

type healthChecker struct{ g *Gateway }

func (c healthChecker) Check(_ context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	serving := func(ok bool) (*grpchealth.CheckResponse, error) {
		if ok {
			return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
		}
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	if req.Service == "" {
		return serving(c.g.Ready() == nil)
	}
	rt := c.g.routes[req.Service]
	if rt == nil {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown service %q", req.Service))
	}
	return serving(rt.pool == nil || rt.pool.healthyCount() > 0)
}
