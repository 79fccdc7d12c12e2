package filters_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/audit"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/filters"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/metrics"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// chain puts the operations filters in kube-apiserver's order around
// handler, with a stand-in for authentication; the server assembles the
// real chain the same way.
func chain(handler http.Handler, m *metrics.Metrics, sink audit.Sink) http.Handler {
	policy := &audit.Policy{Rules: []audit.PolicyRule{{Level: audit.LevelMetadata, OmitStages: []audit.Stage{audit.StageRequestReceived}}}}
	h := filters.WithMaxInFlightLimit(handler, 1, 1, filters.LongRunning)
	h = audit.WithAudit(h, policy, sink)
	h = authenticateAsAdmin(h)
	h = filters.WithTimeout(h, time.Hour, filters.LongRunning)
	h = metrics.WithMetrics(h, m)
	h = filters.WithRequestInfo(h)
	return filters.WithPanicRecovery(h)
}

func authenticateAsAdmin(next http.Handler) http.Handler {
	admin := &request.User{Name: "admin", Groups: []string{request.GroupMasters, request.GroupAuthenticated}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(request.WithUser(r.Context(), admin)))
	})
}

type lines struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestChain(t *testing.T) {
	old := log.Writer()
	log.SetOutput(io.Discard)
	t.Cleanup(func() { log.SetOutput(old) })

	m := metrics.New()
	auditLog := &lines{}
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/pods", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") == "true" { // streams through every filter's writer
			w.Write([]byte(`{"type":"ADDED"}` + "\n"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		entered <- struct{}{}
		<-release
		w.Write([]byte(`{"kind":"PodList"}`))
	})
	mux.HandleFunc("POST /api/v1/namespaces/default/pods", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	srv := httptest.NewServer(chain(mux, m, audit.NewLogBackend(auditLog)))
	defer srv.Close()

	// A watch streams, even with every filter wrapping the writer.
	resp, err := http.Get(srv.URL + "/api/v1/pods?watch=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.Contains(line, "ADDED") {
		t.Fatalf("watch: %q %v", line, err)
	}

	// The read limit is 1: a list takes it, the next gets 429 (even as
	// admin), the open watch did not count.
	listed := make(chan int)
	go func() {
		resp, err := http.Get(srv.URL + "/api/v1/pods")
		if err != nil {
			t.Error(err)
			listed <- 0
			return
		}
		resp.Body.Close()
		listed <- resp.StatusCode
	}()
	<-entered
	resp2, err := http.Get(srv.URL + "/api/v1/pods")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusTooManyRequests || resp2.Header.Get("Retry-After") != "1" {
		t.Errorf("over the limit: %d %v", resp2.StatusCode, resp2.Header)
	}
	close(release)
	if code := <-listed; code != http.StatusOK {
		t.Errorf("the list: %d", code)
	}

	// A panic is a 500, and the server goes on.
	resp3, err := http.Post(srv.URL+"/api/v1/namespaces/default/pods", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp3.Body.Close()
	if resp3.StatusCode != http.StatusInternalServerError {
		t.Errorf("panic: %d", resp3.StatusCode)
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, series := range []string{
		`apiserver_longrunning_requests{component="apiserver",group="",resource="pods",scope="cluster",subresource="",verb="WATCH",version="v1"} 1`,
		`apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="cluster",subresource="",verb="LIST",version="v1"} 1`,
		`apiserver_request_total{code="429",component="apiserver",dry_run="",group="",resource="pods",scope="cluster",subresource="",verb="LIST",version="v1"} 1`,
		`apiserver_request_total{code="500",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), series+"\n") {
			t.Errorf("missing %s", series)
		}
	}

	// The audit log: the 429, the list it waited for, and the panic; the
	// watch, still open, is logged when it ends.
	var stages []string
	for _, line := range strings.Split(strings.TrimSpace(auditLog.String()), "\n") {
		var ev audit.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		stages = append(stages, string(ev.Stage)+" "+ev.Verb+" "+http.StatusText(ev.ResponseStatus.Code))
	}
	want := []string{"ResponseComplete list Too Many Requests", "ResponseComplete list OK", "Panic create Internal Server Error"}
	if strings.Join(stages, "; ") != strings.Join(want, "; ") {
		t.Errorf("audit log:\n got %q\nwant %q", stages, want)
	}
}
