package telemetry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// TemporalInterceptor returns the Temporal interceptor that traces workflow
// starts, signals, updates, queries, workflow runs and activities with tp,
// carrying the span context in Temporal headers. Put it in
// client.Options.Interceptors: it also implements interceptor.WorkerInterceptor,
// and the SDK applies a client's worker interceptors to every worker created
// from that client (worker.New), so it must not be added to worker.Options too.
func TemporalInterceptor(tp trace.TracerProvider) (interceptor.Interceptor, error) {
	if tp == nil {
		return nil, errNilProvider
	}
	i, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            tp.Tracer(instrumentationName),
		TextMapPropagator: Propagator,
	})
	if err != nil {
		return nil, fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	return i, nil
}

// temporalLatencyBuckets are the histogram bounds, in seconds, of the
// Temporal SDK's latency timers: from a millisecond task to a ten-minute
// schedule-to-start backlog.
var temporalLatencyBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 120, 300, 600,
}

// TemporalMetrics returns a metrics handler for client.Options.MetricsHandler
// that exports the Temporal SDK's metrics (requests, workflow and activity
// task latencies, completions and failures, worker slots, sticky cache) to
// reg through an OpenTelemetry meter provider and its Prometheus exporter.
// Series are named temporal_*; timers become histograms in seconds
// (…_latency_seconds_bucket) and counters are monotonic (…_total). Call it
// once per registry.
func TemporalMetrics(reg prometheus.Registerer) (client.MetricsHandler, error) {
	if reg == nil {
		return nil, fmt.Errorf("temporal metrics: nil prometheus registerer")
	}
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithoutTargetInfo(),
		otelprom.WithoutScopeInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal metrics prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exp),
		sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram, Unit: "s"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: temporalLatencyBuckets}},
		)),
	)
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                mp.Meter("temporal-sdk-go"),
		UseMonotonicCounters: true,
		// The default panics; an instrument the meter refuses is reported to
		// the OpenTelemetry error handler (logged) and dropped instead.
		OnError: otel.Handle,
	}), nil
}
