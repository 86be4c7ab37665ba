package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the gateway, per route (service) and backend instance.
type metrics struct {
	healthy  *prometheus.GaugeVec
	requests *prometheus.CounterVec
	retries  *prometheus.CounterVec
	ejected  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ejazz_gateway_backend_healthy",
			Help: "1 while a backend instance receives traffic, 0 while it is ejected.",
		}, []string{"service", "instance"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejazz_gateway_proxied_requests_total",
			Help: "Attempts proxied to a backend instance, by HTTP status (\"error\": no response).",
		}, []string{"service", "instance", "status"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejazz_gateway_retries_total",
			Help: "Requests retried on another instance.",
		}, []string{"service"}),
		ejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ejazz_gateway_ejections_total",
			Help: "Times a backend instance was ejected (failed health checks or a connection error).",
		}, []string{"service", "instance"}),
	}
	reg.MustRegister(m.healthy, m.requests, m.retries, m.ejected)
	return m
}
