package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/filters"
)

// scrape returns what /metrics serves.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// wantSeries fails unless the scrape holds each line.
func wantSeries(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, line := range lines {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("missing %s", line)
		}
	}
}

func serve(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if method == "PATCH" {
		r.Header.Set("Content-Type", "application/apply-patch+yaml")
	}
	h.ServeHTTP(rec, r)
	return rec
}

func TestRequestSeries(t *testing.T) {
	m := New()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/missing"):
			w.WriteHeader(http.StatusNotFound)
		case r.Method == "POST":
			w.WriteHeader(http.StatusCreated)
		case r.URL.Path == "/nowhere":
			http.NotFound(w, r)
		default:
			w.Write([]byte("{}"))
		}
	})
	h := filters.WithRequestInfo(WithMetrics(handler, m))
	serve(h, "GET", "/api/v1/namespaces/default/pods", "")
	serve(h, "GET", "/api/v1/namespaces/default/pods", "")
	serve(h, "GET", "/api/v1/namespaces/default/pods/web", "")
	serve(h, "GET", "/api/v1/namespaces/default/pods/missing", "")
	serve(h, "POST", "/apis/apps/v1/namespaces/default/deployments?dryRun=All", "{}")
	serve(h, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web/status", "{}")
	serve(h, "GET", "/api/v1/nodes", "")
	serve(h, "GET", "/healthz", "")
	serve(h, "GET", "/nowhere", "")

	text := scrape(t, m)
	wantSeries(t, text,
		`apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 2`,
		`apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"} 1`,
		`apiserver_request_total{code="404",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"} 1`,
		`apiserver_request_total{code="201",component="apiserver",dry_run="All",group="apps",resource="deployments",scope="resource",subresource="",verb="POST",version="v1"} 1`,
		`apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="status",verb="APPLY",version="v1"} 1`,
		`apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="nodes",scope="cluster",subresource="",verb="LIST",version="v1"} 1`,
		`apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="",scope="",subresource="/healthz",verb="GET",version=""} 1`,
		`apiserver_request_total{code="404",component="apiserver",dry_run="",group="",resource="",scope="",subresource="",verb="GET",version=""} 1`,
		`apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 2`,
		`apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1",le="60"} 2`,
		`apiserver_current_inflight_requests{request_kind="mutating"} 0`,
		`apiserver_current_inflight_requests{request_kind="readOnly"} 0`,
	)
	// kube-apiserver's buckets, from 5ms to a minute.
	for _, le := range []string{"0.005", "0.025", "1.25", "45", "60"} {
		if !strings.Contains(text, `le="`+le+`"`) {
			t.Errorf("no bucket le=%s", le)
		}
	}
	if strings.Contains(text, "/nowhere") {
		t.Error("an unknown path became a label value")
	}
	if !strings.Contains(text, "go_goroutines") {
		t.Error("no Go runtime series")
	}
}

func TestWatchIsLongRunning(t *testing.T) {
	m := New()
	opened, closeWatch := make(chan struct{}), make(chan struct{})
	h := filters.WithRequestInfo(WithMetrics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"type":"ADDED","object":{}}` + "\n"))
		w.(http.Flusher).Flush()
		close(opened)
		<-closeWatch
	}), m))
	srv := httptest.NewServer(h)
	defer srv.Close()

	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(srv.URL + "/api/v1/namespaces/default/pods?watch=true")
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	<-opened
	gauge := `apiserver_longrunning_requests{component="apiserver",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1"}`
	text := scrape(t, m)
	wantSeries(t, text, gauge+" 1", `apiserver_current_inflight_requests{request_kind="readOnly"} 0`)
	counted := `apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1"}`
	if strings.Contains(text, counted) {
		t.Error("an open watch is already counted as a finished request")
	}

	close(closeWatch)
	<-done
	text = scrape(t, m)
	wantSeries(t, text, gauge+" 0", counted+" 1")
	if strings.Contains(text, `apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH"`) {
		t.Error("a watch's duration was observed as a request latency")
	}
}

func TestInflightGauge(t *testing.T) {
	m := New()
	entered, release := make(chan struct{}), make(chan struct{})
	h := filters.WithRequestInfo(WithMetrics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}), m))
	done := make(chan struct{})
	for _, method := range []string{"POST", "PUT", "GET"} {
		go func() {
			serve(h, method, "/api/v1/namespaces/default/configmaps/c", "{}")
			done <- struct{}{}
		}()
		<-entered
	}
	wantSeries(t, scrape(t, m),
		`apiserver_current_inflight_requests{request_kind="mutating"} 2`,
		`apiserver_current_inflight_requests{request_kind="readOnly"} 1`)
	close(release)
	for range 3 {
		<-done
	}
	wantSeries(t, scrape(t, m),
		`apiserver_current_inflight_requests{request_kind="mutating"} 0`,
		`apiserver_current_inflight_requests{request_kind="readOnly"} 0`)
}

func TestPanicCountsAs500(t *testing.T) {
	m := New()
	h := filters.WithRequestInfo(WithMetrics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	}), m))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not go on to the filters before")
			}
		}()
		serve(h, "DELETE", "/api/v1/namespaces/default/pods/web", "")
	}()
	wantSeries(t, scrape(t, m),
		`apiserver_request_total{code="500",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="DELETE",version="v1"} 1`,
		`apiserver_current_inflight_requests{request_kind="mutating"} 0`)
}

func TestObserveStorage(t *testing.T) {
	m := New()
	m.ObserveStorage("get", "pods", 3*time.Millisecond)
	m.ObserveStorage("get", "pods", 2*time.Second)
	m.ObserveStorage("create", "deployments.apps", time.Millisecond)
	wantSeries(t, scrape(t, m),
		`etcd_request_duration_seconds_count{operation="get",type="pods"} 2`,
		`etcd_request_duration_seconds_bucket{operation="get",type="pods",le="0.005"} 1`,
		`etcd_request_duration_seconds_bucket{operation="get",type="pods",le="3"} 2`,
		`etcd_request_duration_seconds_count{operation="create",type="deployments.apps"} 1`)
}

func TestOwnRegistry(t *testing.T) {
	a, b := New(), New() // two servers in one process (tests do this) do not collide
	a.ObserveStorage("get", "pods", time.Millisecond)
	if strings.Contains(scrape(t, b), `operation="get"`) {
		t.Error("the registries are shared")
	}
}

// The object counts and the list counter, under kube-apiserver 1.37's names
// and labels (apiserver_storage_objects, deprecated in 1.34, is no longer
// shown by 1.37).
func TestStorageSeries(t *testing.T) {
	m := New()
	m.SetObjectCount("", "configmaps", 3)
	m.SetObjectCount("apps", "deployments", 0)
	m.SetObjectCount("example.com", "widgets", -1)
	m.ObserveList("", "configmaps", FromWatchCache)
	m.ObserveList("", "configmaps", FromWatchCache)
	m.ObserveList("", "configmaps", FromStorage)
	text := scrape(t, m)
	wantSeries(t, text,
		`apiserver_resource_objects{group="",resource="configmaps"} 3`,
		`apiserver_resource_objects{group="apps",resource="deployments"} 0`,
		`apiserver_resource_objects{group="example.com",resource="widgets"} -1`,
		`apiserver_storage_list_total{group="",index="",resource="configmaps",storage="watchcache"} 2`,
		`apiserver_storage_list_total{group="",index="",resource="configmaps",storage="etcd"} 1`)
	m.ForgetObjectCount("example.com", "widgets")
	if text := scrape(t, m); strings.Contains(text, "widgets") {
		t.Error("a forgotten count is still there")
	}
}
