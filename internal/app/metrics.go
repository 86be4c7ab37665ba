package app

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/ejazz/ejazz/analytics"
	"github.com/ejazz/ejazz/internal/telemetry"
)

// Series of the process beyond the edge's RPC metrics (internal/edge) and
// the Temporal SDK's (internal/telemetry).
var (
	fanoutLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "ejazz_feed_fanout_lag_seconds",
		Help: "Time from a post (or repost) to its fan-out's timeline writes being done.",
		// From a few milliseconds to the minutes of a backlog.
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 300},
	})
)

// ingestCollector reads an analytics.Ingester's stats on each scrape.
type ingestCollector struct {
	in *analytics.Ingester
}

var (
	ingestQueueDesc = prometheus.NewDesc("ejazz_analytics_ingest_queue_depth",
		"Analytics events waiting in memory for their batch insert.", nil, nil)
	ingestSpoolDesc = prometheus.NewDesc("ejazz_analytics_spool_files",
		"Batches spilled to disk and waiting for replay into the analytics store.", nil, nil)
	ingestEventsDesc = prometheus.NewDesc("ejazz_analytics_events_total",
		"Analytics events by outcome: published (enqueued), inserted, spilled, replayed.", []string{"outcome"}, nil)
	ingestFailuresDesc = prometheus.NewDesc("ejazz_analytics_insert_failures_total",
		"Batch inserts the analytics store refused.", nil, nil)
)

func (c ingestCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ingestQueueDesc
	ch <- ingestSpoolDesc
	ch <- ingestEventsDesc
	ch <- ingestFailuresDesc
}

func (c ingestCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.in.Stats()
	ch <- prometheus.MustNewConstMetric(ingestQueueDesc, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(ingestSpoolDesc, prometheus.GaugeValue, float64(s.SpoolFiles))
	for outcome, n := range map[string]int64{"published": s.Published, "inserted": s.Inserted, "spilled": s.Spilled, "replayed": s.Replayed} {
		ch <- prometheus.MustNewConstMetric(ingestEventsDesc, prometheus.CounterValue, float64(n), outcome)
	}
	ch <- prometheus.MustNewConstMetric(ingestFailuresDesc, prometheus.CounterValue, float64(s.Failures))
}

// temporalTelemetry adds tracing (the interceptor also traces the workers
// built on the client) and the SDK's metrics on reg to a Temporal client.
func temporalTelemetry(tel *telemetry.Telemetry, reg prometheus.Registerer) func(*client.Options) {
	return func(o *client.Options) {
		if ti, err := telemetry.TemporalInterceptor(tel.TracerProvider()); err == nil {
			o.Interceptors = append(o.Interceptors, ti)
		}
		if mh, err := telemetry.TemporalMetrics(reg); err == nil {
			o.MetricsHandler = mh
		}
	}
}

// serviceName names the process in traces: "ejazz" and what it runs.
func serviceName(services, queues []string) string {
	switch {
	case len(services) > 0 && len(queues) > 0:
		return "ejazz"
	case len(services) > 0:
		return "ejazz-" + strings.Join(services, "-")
	case len(queues) > 0:
		return "ejazz-worker"
	}
	return "ejazz"
}
