// Package edge is Ejazz's public HTTP edge: one port serving the Connect
// services over Connect, gRPC and gRPC-Web (HTTP/1.1 and h2c), gRPC health
// and reflection, CORS for browser clients, /healthz, /readyz and Prometheus
// /metrics, with structured request logs.
package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"connectrpc.com/connect"
	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"
)

// Check is one readiness check (an engine, Temporal…).
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options configures the edge.
type Options struct {
	// Services to serve.
	Services []Service
	// Checks run by /readyz and grpc.health.v1.
	Checks []Check
	// CORSOrigins allowed for browser clients ("*" for any); none leaves
	// CORS to whatever is in front (the gateway).
	CORSOrigins []string
	// Extra handlers mounted on the mux (e.g. /dev/mail), path → handler.
	Extra map[string]http.Handler
	// Middleware wraps every route (token verification); nil for none.
	Middleware func(http.Handler) http.Handler
	// Interceptors run around every RPC after the edge's own logging and
	// metrics (e.g. tracing).
	Interceptors []connect.Interceptor
	// Registry serves /metrics; the process registers its own series on it
	// (Temporal SDK, fan-out lag, ingestion queue…). Nil makes a new one.
	Registry *prometheus.Registry
	Logger   *slog.Logger
}

// Server is the edge's HTTP server.
type Server struct {
	http     *http.Server
	listener net.Listener
	done     chan error
}

// New builds the handler tree.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	reg := o.Registry
	if reg == nil {
		reg = NewRegistry()
	}
	metrics := newMetrics(reg)
	interceptors := connect.WithInterceptors(append([]connect.Interceptor{&observer{log: o.Logger, metrics: metrics}}, o.Interceptors...)...)

	mux := http.NewServeMux()
	var names []string
	for _, s := range o.Services {
		path, h := s.Handler(interceptors)
		mux.Handle(path, h)
		names = append(names, s.FullName)
	}
	sort.Strings(names)
	reflector := grpcreflect.NewStaticReflector(names...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	ready := &readiness{checks: o.Checks}
	mux.Handle(grpchealth.NewHandler(&healthChecker{ready: ready, services: names}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		res, ok := ready.run(r.Context())
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"ready": ok, "checks": res})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	for p, h := range o.Extra {
		mux.Handle(p, h)
	}
	var h http.Handler = mux
	if o.Middleware != nil {
		h = o.Middleware(h)
	}
	return CORS(o.CORSOrigins)(h)
}

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors, for Options.Registry.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// CORS answers browser preflights and adds CORS headers for the Connect,
// gRPC-Web and REST methods and headers from origins; with no origins it
// returns h unchanged.
func CORS(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: append(connectcors.AllowedMethods(), http.MethodPut, http.MethodPatch, http.MethodDelete), // REST too
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization"),
		ExposedHeaders: connectcors.ExposedHeaders(),
		MaxAge:         7200,
	})
	return c.Handler
}

// Listen binds addr and serves h with HTTP/1.1 and h2c until Shutdown.
func Listen(addr string, h http.Handler) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.addr %s: %w", addr, err)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s := &Server{
		http: &http.Server{
			Handler:           h,
			Protocols:         &protocols,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
		listener: l,
		done:     make(chan error, 1),
	}
	go func() {
		err := s.http.Serve(l)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Shutdown stops accepting, waits for in-flight requests until ctx ends, then closes.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	if err != nil {
		_ = s.http.Close()
	}
	if serr := <-s.done; err == nil {
		err = serr
	}
	return err
}

type readiness struct {
	checks []Check
}

func (r *readiness) run(ctx context.Context) (map[string]string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out := make(map[string]string, len(r.checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := true
	for _, c := range r.checks {
		wg.Go(func() {
			err := c.Check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out[c.Name] = err.Error()
				ok = false
				return
			}
			out[c.Name] = "ok"
		})
	}
	wg.Wait()
	return out, ok
}

type healthChecker struct {
	ready    *readiness
	services []string
}

func (h *healthChecker) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if req.Service != "" {
		known := false
		for _, s := range h.services {
			known = known || s == req.Service
		}
		if !known {
			return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown service %q", req.Service))
		}
	}
	if _, ok := h.ready.run(ctx); !ok {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
