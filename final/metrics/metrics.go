// Package metrics is the server's /metrics: the series kube-apiserver exposes
// for its requests and its storage, under the same names and labels, so that
// the dashboards and alerts written for kube-apiserver read this server too.
// Kubernetes defines them in k8s.io/apiserver/pkg/endpoints/metrics
// (requests) and pkg/storage/etcd3/metrics (storage).
//
// The Prometheus client library does the counting and the text format; the
// series live in a registry of their own, not in the library's global one.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// kube-apiserver's buckets for request and storage latencies: fine below a
// second, for the SLOs, and up to the one-minute request timeout.
var latencyBuckets = []float64{0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3,
	4, 5, 6, 8, 10, 15, 20, 30, 45, 60}

// component is the value of the component label: requests served by this
// server itself (kube-apiserver also has "aggregator" in a few places).
const component = "apiserver"

// Metrics holds the server's series.
type Metrics struct {
	registry *prometheus.Registry

	requests    *prometheus.CounterVec   // apiserver_request_total
	durations   *prometheus.HistogramVec // apiserver_request_duration_seconds
	longRunning *prometheus.GaugeVec     // apiserver_longrunning_requests
	inflight    *prometheus.GaugeVec     // apiserver_current_inflight_requests
	storage     *prometheus.HistogramVec // etcd_request_duration_seconds
}

// New makes the series and a registry that holds them, with the Go runtime's
// and the process's (go_*, process_*) as kube-apiserver has them too.
func New() *Metrics {
	requestLabels := []string{"verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component"}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_request_total",
			Help: "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
		}, append(requestLabels, "code")),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apiserver_request_duration_seconds",
			Help:    "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
			Buckets: latencyBuckets,
		}, requestLabels),
		longRunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_longrunning_requests",
			Help: "Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component.",
		}, []string{"verb", "group", "version", "resource", "subresource", "scope", "component"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_current_inflight_requests",
			Help: "Number of requests (not long-running ones) this apiserver is serving, per request kind.",
		}, []string{"request_kind"}),
		storage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "etcd_request_duration_seconds",
			Help:    "Storage request latency in seconds for each operation and object type.",
			Buckets: latencyBuckets,
		}, []string{"operation", "type"}),
	}
	m.registry.MustRegister(m.requests, m.durations, m.longRunning, m.inflight, m.storage,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Both kinds are there from the start, as in kube-apiserver.
	m.inflight.WithLabelValues(readOnlyKind)
	m.inflight.WithLabelValues(mutatingKind)
	return m
}

// Handler serves the registry in Prometheus' text format, at /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// ObserveStorage records how long one storage operation took: operation is
// what the store asked of the backend (get, list, create, update, delete,
// watch...), resource what it was about ("pods", "deployments.apps"). It is
// for the storage layer to call, with SQLite and etcd alike; the series keeps
// the name of kube-apiserver's, whose storage is always etcd.
//
// (kube-apiserver 1.31 and later split "type" into "group" and "resource".)
func (m *Metrics) ObserveStorage(operation, resource string, d time.Duration) {
	m.storage.WithLabelValues(operation, resource).Observe(d.Seconds())
}
