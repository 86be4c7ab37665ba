// Package telemetry holds Ejazz's observability building blocks: an
// OpenTelemetry tracer provider, trace-aware logging, and the interceptors
// that carry one trace from a Connect RPC through Temporal workflows and
// activities.
//
// # What is traced
//
//   - Connect RPCs ([ConnectInterceptor], built on otelconnect): one server
//     span per RPC, named after the procedure ("ejazz.auth.v1.AuthService/SignIn").
//     A W3C traceparent sent by a gateway or client is trusted, so the RPC
//     span is the child of the caller's span.
//   - Temporal ([TemporalInterceptor], built on the SDK's contrib/opentelemetry):
//     StartWorkflow:<type> / SignalWithStartWorkflow:<type> on the client,
//     RunWorkflow:<type> in the worker, StartActivity:<type> in the workflow,
//     RunActivity:<type> in the worker; the span context travels in the
//     Temporal headers, so an RPC that starts a workflow and the workflow's
//     activities are one trace.
//   - Store and other internal calls wrapped with [Span].
//
// Logs written through [LogHandler] with a context (InfoContext, ErrorContext,
// Log(ctx, ...)) carry trace_id and span_id, so a log line leads to its trace.
//
// # Turning export on
//
// [Setup] always builds a real SDK tracer provider, so trace ids exist for
// logs even when nothing is exported. The configuration keys map onto
// [Options]:
//
//	telemetry.exporter      none (default) | otlp | stdout
//	telemetry.endpoint      OTLP/gRPC collector host:port (otlp only; default
//	                        from OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4317)
//	telemetry.insecure      plaintext gRPC to the collector
//	telemetry.sample_ratio  fraction of new traces sampled, 0 < r <= 1 (default 1);
//	                        a sampled caller's decision is always kept
//
// The standard OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES variables
// override and extend the resource.
//
// # Prometheus series
//
// [TemporalMetrics] exports the Temporal Go SDK's own metrics to a Prometheus
// registry, named as the SDK names them with unit and counter suffixes added;
// timers are histograms in seconds (…_seconds_bucket/_sum/_count). A worker
// running one workflow and one activity produces:
//
//	temporal_activity_execution_latency_seconds, temporal_activity_succeed_endtoend_latency_seconds
//	temporal_workflow_completed_total, temporal_workflow_endtoend_latency_seconds
//	temporal_workflow_task_execution_latency_seconds, temporal_workflow_task_replay_latency_seconds
//	temporal_workflow_task_schedule_to_start_latency_seconds, temporal_workflow_task_queue_poll_succeed_total
//	temporal_request_total, temporal_request_attempt_total, temporal_request_latency_seconds,
//	temporal_request_latency_attempt_seconds and their temporal_long_request_* counterparts (polls)
//	temporal_worker_start_total, temporal_worker_task_slots_available, temporal_worker_task_slots_used
//	temporal_num_pollers, temporal_poller_start_total
//	temporal_sticky_cache_size, temporal_sticky_cache_hit_total, temporal_sticky_cache_total_forced_eviction_total
//
// and failures add temporal_workflow_failed_total, temporal_activity_execution_failed_total,
// temporal_request_failure_total and the like,
// labelled with namespace, task_queue, workflow_type, activity_type and
// worker_type as applicable. RPC metrics are not produced here: the Connect
// interceptor keeps otelconnect's metrics off because the HTTP layer already
// exports request metrics.
package telemetry

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// Exporter names accepted in [Options.Exporter].
const (
	// ExporterNone records spans (so logs get trace ids) but exports nothing.
	ExporterNone = "none"
	// ExporterOTLP batches spans to an OTLP/gRPC collector.
	ExporterOTLP = "otlp"
	// ExporterStdout writes spans as JSON to standard output, for local debugging.
	ExporterStdout = "stdout"
)

// instrumentationName names the tracers this package creates.
const instrumentationName = "github.com/ejazz/ejazz/internal/telemetry"

// Propagator is the W3C tracecontext + baggage propagator used across RPCs
// and Temporal headers; [Setup] also installs it as the global propagator.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{},
	propagation.Baggage{},
)

// Options configures [Setup].
type Options struct {
	// ServiceName is the service.name resource attribute (default "ejazz").
	ServiceName string
	// Exporter is ExporterNone (default when empty), ExporterOTLP or ExporterStdout.
	Exporter string
	// Endpoint is the OTLP/gRPC collector's host:port; empty uses the OTLP
	// environment variables or localhost:4317.
	Endpoint string
	// Insecure sends OTLP over plaintext gRPC.
	Insecure bool
	// SampleRatio is the fraction of new root traces sampled; 0 means 1
	// (sample everything). Children follow their parent's decision.
	SampleRatio float64
	// SpanExporter, when set, replaces Exporter: spans are handed to it
	// synchronously as they end (tests use tracetest.NewInMemoryExporter).
	SpanExporter sdktrace.SpanExporter
}

// Telemetry is the process's tracing setup; Shutdown flushes it.
type Telemetry struct {
	tp *sdktrace.TracerProvider
}

// Setup builds the tracer provider described by o and installs the W3C
// tracecontext+baggage propagator globally. The tracer provider is not made
// global: pass [Telemetry.TracerProvider] to the interceptors.
func Setup(ctx context.Context, o Options) (*Telemetry, error) {
	if o.ServiceName == "" {
		o.ServiceName = "ejazz"
	}
	if o.SampleRatio < 0 || o.SampleRatio > 1 {
		return nil, fmt.Errorf("telemetry sample ratio %v: must be between 0 and 1", o.SampleRatio)
	}
	if o.SampleRatio == 0 {
		o.SampleRatio = 1
	}
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(o.ServiceName)),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
	}
	switch {
	case o.SpanExporter != nil:
		opts = append(opts, sdktrace.WithSyncer(o.SpanExporter))
	case o.Exporter == "" || o.Exporter == ExporterNone:
	case o.Exporter == ExporterOTLP:
		eo := []otlptracegrpc.Option{}
		if o.Endpoint != "" {
			eo = append(eo, otlptracegrpc.WithEndpoint(o.Endpoint))
		}
		if o.Insecure {
			eo = append(eo, otlptracegrpc.WithInsecure())
		}
		exp, err := otlptracegrpc.New(ctx, eo...)
		if err != nil {
			return nil, fmt.Errorf("telemetry otlp exporter for %q: %w", o.Endpoint, err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	case o.Exporter == ExporterStdout:
		exp, err := stdouttrace.New()
		if err != nil {
			return nil, fmt.Errorf("telemetry stdout exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	default:
		return nil, fmt.Errorf("telemetry exporter %q: want %q, %q or %q", o.Exporter, ExporterNone, ExporterOTLP, ExporterStdout)
	}
	otel.SetTextMapPropagator(Propagator)
	return &Telemetry{tp: sdktrace.NewTracerProvider(opts...)}, nil
}

// TracerProvider returns the provider for the interceptors and [Span].
func (t *Telemetry) TracerProvider() trace.TracerProvider { return t.tp }

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if err := t.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry shutdown: %w", err)
	}
	return nil
}

// errNilProvider is returned by the interceptor constructors given no provider.
var errNilProvider = errors.New("telemetry: nil tracer provider")
