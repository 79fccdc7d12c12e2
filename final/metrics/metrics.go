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
	lists       *prometheus.CounterVec   // apiserver_storage_list_total
	objects     *prometheus.GaugeVec     // apiserver_resource_objects
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
		lists: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_storage_list_total",
			Help: "Number of LIST requests served from storage",
		}, []string{"group", "resource", "storage", "index"}),
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_resource_objects",
			Help: "Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1.",
		}, []string{"group", "resource"}),
	}
	m.registry.MustRegister(m.requests, m.durations, m.longRunning, m.inflight, m.storage, m.lists, m.objects,
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

// Where ObserveList says a list was served from: the watch cache, or the
// storage itself. kube-apiserver's label says "etcd" for the storage; so does
// this server's, on SQLite too, as etcd_request_duration_seconds does.
const (
	FromWatchCache = "watchcache"
	FromStorage    = "etcd"
)

// ObserveList counts one list of a resource (group "" for the core API),
// served from the watch cache or the storage.
func (m *Metrics) ObserveList(group, resource, from string) {
	m.lists.WithLabelValues(group, resource, from, "").Inc()
}

// SetObjectCount records how many objects of a resource are stored; -1 says
// counting failed, as in kube-apiserver.
func (m *Metrics) SetObjectCount(group, resource string, n int64) {
	m.objects.WithLabelValues(group, resource).Set(float64(n))
}

// ForgetObjectCount drops the count of a resource no longer served (a
// deleted CustomResourceDefinition's).
func (m *Metrics) ForgetObjectCount(group, resource string) {
	m.objects.DeleteLabelValues(group, resource)
}
