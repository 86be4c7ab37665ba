package telemetry

import (
	"fmt"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"go.opentelemetry.io/otel/trace"
)

// ConnectInterceptor returns the Connect interceptor that traces RPCs with tp.
// As a handler option it makes one server span per RPC, a child of the
// caller's span when the request carries a W3C traceparent (a gateway or
// another Ejazz service is trusted); as a client option it makes a client
// span and sends the traceparent. Peer address attributes and per-message
// events are left out to keep spans small, and otelconnect's metrics are off
// (the HTTP layer already exports request metrics to Prometheus).
//
//	otel, err := telemetry.ConnectInterceptor(t.TracerProvider())
//	path, h := authv1connect.NewAuthServiceHandler(svc, connect.WithInterceptors(otel))
func ConnectInterceptor(tp trace.TracerProvider) (connect.Interceptor, error) {
	if tp == nil {
		return nil, errNilProvider
	}
	i, err := otelconnect.NewInterceptor(
		otelconnect.WithTracerProvider(tp),
		otelconnect.WithPropagator(Propagator),
		otelconnect.WithTrustRemote(),
		otelconnect.WithoutServerPeerAttributes(),
		otelconnect.WithoutTraceEvents(),
		otelconnect.WithoutMetrics(),
	)
	if err != nil {
		return nil, fmt.Errorf("connect tracing interceptor: %w", err)
	}
	return i, nil
}
