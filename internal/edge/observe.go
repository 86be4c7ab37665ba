package edge

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejazz_rpc_requests_total",
			Help: "RPCs handled, by procedure and Connect code.",
		}, []string{"procedure", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ejazz_rpc_duration_seconds",
			Help:    "RPC handling time, by procedure.",
			Buckets: prometheus.DefBuckets,
		}, []string{"procedure"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// observer logs and measures every RPC, and turns a panic in a handler into
// an `internal` error instead of a dropped connection.
type observer struct {
	log     *slog.Logger
	metrics *metrics
}

func (o *observer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (resp connect.AnyResponse, err error) {
		start := time.Now()
		defer func() {
			if r := recover(); r != nil {
				o.log.ErrorContext(ctx, "rpc panic", "procedure", req.Spec().Procedure, "panic", r)
				resp, err = nil, connect.NewError(connect.CodeInternal, errors.New("internal error"))
			}
			o.done(ctx, req.Spec().Procedure, start, err)
		}()
		return next(ctx, req)
	}
}

func (o *observer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (o *observer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) (err error) {
		start := time.Now()
		defer func() {
			if r := recover(); r != nil {
				o.log.ErrorContext(ctx, "rpc panic", "procedure", conn.Spec().Procedure, "panic", r)
				err = connect.NewError(connect.CodeInternal, errors.New("internal error"))
			}
			o.done(ctx, conn.Spec().Procedure, start, err)
		}()
		return next(ctx, conn)
	}
}

func (o *observer) done(ctx context.Context, procedure string, start time.Time, err error) {
	code := "ok"
	if err != nil {
		code = connect.CodeOf(err).String()
	}
	elapsed := time.Since(start)
	o.metrics.requests.WithLabelValues(procedure, code).Inc()
	o.metrics.latency.WithLabelValues(procedure).Observe(elapsed.Seconds())
	level := slog.LevelInfo
	if code == connect.CodeInternal.String() || code == connect.CodeUnknown.String() {
		level = slog.LevelError
	}
	o.log.Log(ctx, level, "rpc", "procedure", procedure, "code", code, "duration_ms", elapsed.Milliseconds())
}
