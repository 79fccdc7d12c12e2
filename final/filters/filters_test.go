package filters

import (
	"bytes"
	"encoding/json"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// captureLog sends the log to a buffer for the rest of the test.
func captureLog(t *testing.T) *syncBuffer {
	t.Helper()
	buf := &syncBuffer{}
	old := log.Writer()
	log.SetOutput(buf)
	t.Cleanup(func() { log.SetOutput(old) })
	return buf
}

// syncBuffer is a bytes.Buffer that the log may write to from other goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// status decodes a response as a metav1.Status.
func status(t *testing.T, body []byte) (reason, message string) {
	t.Helper()
	var s struct {
		Kind, Reason, Message string
	}
	if err := json.Unmarshal(body, &s); err != nil || s.Kind != "Status" {
		t.Fatalf("not a Status (%v): %s", err, body)
	}
	return s.Reason, s.Message
}

func TestWithRequestInfo(t *testing.T) {
	var got request.RequestInfo
	h := WithRequestInfo(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = request.RequestInfoFrom(r.Context())
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/namespaces/default/pods?watch=true", nil))
	if got.Verb != "watch" || got.Resource != "pods" || got.Namespace != "default" {
		t.Errorf("got %+v", got)
	}
}

func TestLongRunning(t *testing.T) {
	tests := []struct {
		method, target string
		want           bool
	}{
		{"GET", "/api/v1/pods?watch=true", true},
		{"GET", "/api/v1/namespaces/ns/pods?watch=1", true},
		{"GET", "/api/v1/pods", false},
		{"GET", "/api/v1/namespaces/ns/pods/web", false},
		{"POST", "/api/v1/namespaces/ns/pods/web/exec", true},
		{"GET", "/api/v1/namespaces/ns/pods/web/attach", true},
		{"POST", "/api/v1/namespaces/ns/pods/web/portforward", true},
		{"GET", "/api/v1/namespaces/ns/pods/web/log", true},
		{"GET", "/api/v1/namespaces/ns/services/web/proxy", true},
		{"PUT", "/api/v1/namespaces/ns/pods/web/status", false},
		{"GET", "/debug/pprof/profile", true},
		{"GET", "/healthz", false},
	}
	for _, tt := range tests {
		// Both with the RequestInfo in the context and without.
		r := httptest.NewRequest(tt.method, tt.target, nil)
		if got := LongRunning(r); got != tt.want {
			t.Errorf("%s %s: got %v", tt.method, tt.target, got)
		}
		r = r.WithContext(request.WithRequestInfo(r.Context(), request.Resolve(r)))
		if got := LongRunning(r); got != tt.want {
			t.Errorf("%s %s (resolved): got %v", tt.method, tt.target, got)
		}
	}
}

// blocking is a handler that holds each request until release is closed,
// telling on entered when one starts.
type blocking struct {
	entered chan string
	release chan struct{}
}

func newBlocking() *blocking {
	return &blocking{entered: make(chan string, 100), release: make(chan struct{})}
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- r.Method + " " + r.URL.Path
	<-b.release
	w.WriteHeader(http.StatusOK)
}

func TestMaxInFlightLimit(t *testing.T) {
	b := newBlocking()
	h := WithRequestInfo(WithMaxInFlightLimit(b, 2, 1, LongRunning))

	// Fill the limits: two reads and one write, each held by the handler.
	var wg sync.WaitGroup
	codes := make(chan int, 10)
	serve := func(method, target string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
			codes <- rec.Code
		}()
	}
	serve("GET", "/api/v1/namespaces/ns/pods/a")
	serve("GET", "/api/v1/pods")
	serve("POST", "/api/v1/namespaces/ns/pods")
	for range 3 {
		<-b.entered
	}

	// One more of each kind gets 429 with Retry-After; admins included.
	admin := &request.User{Name: "admin", Groups: []string{request.GroupMasters, request.GroupAuthenticated}}
	for _, tt := range []struct{ method, target string }{
		{"GET", "/api/v1/namespaces/ns/configmaps"},
		{"DELETE", "/api/v1/namespaces/ns/pods/a"},
		{"GET", "/healthz"}, // non-resource reads count too
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(tt.method, tt.target, nil)
		h.ServeHTTP(rec, r.WithContext(request.WithUser(r.Context(), admin)))
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("%s %s: got %d, want 429", tt.method, tt.target, rec.Code)
		}
		if got := rec.Header().Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After: got %q, want 1", got)
		}
		if reason, msg := status(t, rec.Body.Bytes()); reason != "TooManyRequests" || msg == "" {
			t.Errorf("got reason %q message %q", reason, msg)
		}
	}

	// Long-running requests are exempt: a watch and an exec get in while
	// both limits are full.
	serve("GET", "/api/v1/pods?watch=true")
	serve("POST", "/api/v1/namespaces/ns/pods/a/exec")
	for range 2 {
		if got := <-b.entered; !strings.Contains(got, "/api/v1/pods") && !strings.HasSuffix(got, "/exec") {
			t.Errorf("unexpected request entered: %s", got)
		}
	}

	close(b.release)
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("an admitted request got %d", code)
		}
	}

	// Slots are given back: the next request gets in.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/namespaces/ns/pods", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("after the release: got %d", rec.Code)
	}
}

func TestMaxInFlightLimitZeroIsUnlimited(t *testing.T) {
	b := newBlocking()
	h := WithRequestInfo(WithMaxInFlightLimit(b, 1, 0, LongRunning))
	var wg sync.WaitGroup
	for range 5 { // writes have no limit
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/namespaces/ns/pods", nil))
		}()
	}
	for range 5 {
		<-b.entered
	}
	close(b.release)
	wg.Wait()
}

func TestMaxInFlightLimitNeedsRequestInfo(t *testing.T) {
	h := WithMaxInFlightLimit(http.NotFoundHandler(), 1, 1, LongRunning)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/pods", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("got %d, want 500", rec.Code)
	}
}

// answerRecorder is a ResponseRecorder that says when the status was written.
type answerRecorder struct {
	*httptest.ResponseRecorder
	answered chan struct{}
}

func (a *answerRecorder) WriteHeader(code int) {
	a.ResponseRecorder.WriteHeader(code)
	close(a.answered)
}

func TestTimeout(t *testing.T) {
	handlerDone := make(chan error, 1)
	rec := &answerRecorder{httptest.NewRecorder(), make(chan struct{})}
	h := WithRequestInfo(WithTimeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a handler that waits on something slow, as a store call does
		// The client has its answer while the handler is still at work.
		select {
		case <-rec.answered:
		case <-time.After(10 * time.Second):
			t.Error("no answer while the handler ran past its deadline")
		}
		w.Header().Set("X-Late", "yes")
		_, err := w.Write([]byte("too late"))
		handlerDone <- err
	}), time.Millisecond, LongRunning))

	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/namespaces/ns/pods/a", nil))
	if rec.Code != http.StatusGatewayTimeout {
		t.Fatalf("got %d, want 504", rec.Code)
	}
	reason, msg := status(t, rec.Body.Bytes())
	if reason != "Timeout" || msg != "Timeout: request did not complete within the allotted timeout" {
		t.Errorf("got reason %q message %q", reason, msg)
	}
	// What the handler wrote after the timeout went nowhere.
	if err := <-handlerDone; err != http.ErrHandlerTimeout {
		t.Errorf("the handler's late write: got %v, want %v", err, http.ErrHandlerTimeout)
	}
	if rec.Header().Get("X-Late") != "" || strings.Contains(rec.Body.String(), "too late") {
		t.Errorf("a late write reached the client: %v %s", rec.Header(), rec.Body)
	}
}

func TestTimeoutAfterResponseStarted(t *testing.T) {
	h := WithRequestInfo(WithTimeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"kind":"PodList",`))
		<-r.Context().Done()
		w.Write([]byte(`"items":[]}`))
	}), time.Millisecond, LongRunning))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/pods", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != `{"kind":"PodList","items":[]}` {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
}

func TestTimeoutContextCancelled(t *testing.T) {
	cancelled := make(chan error, 1)
	h := WithRequestInfo(WithTimeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		cancelled <- r.Context().Err()
	}), time.Millisecond, LongRunning))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/namespaces/ns/pods", nil))
	if err := <-cancelled; err == nil {
		t.Error("the handler's context was not cancelled")
	}
	if rec.Code != http.StatusGatewayTimeout {
		t.Errorf("got %d, want 504", rec.Code)
	}
}

func TestTimeoutFastHandler(t *testing.T) {
	h := WithRequestInfo(WithTimeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Deadline(); !ok {
			t.Error("the handler's context has no deadline")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"kind":"Pod"}`))
	}), time.Hour, LongRunning))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/namespaces/ns/pods", nil))
	if rec.Code != http.StatusCreated || rec.Body.String() != `{"kind":"Pod"}` || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("got %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

func TestTimeoutExemptsWatches(t *testing.T) {
	h := WithRequestInfo(WithTimeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Deadline(); ok {
			t.Error("a watch got a deadline")
		}
		if _, ok := w.(http.Flusher); !ok {
			t.Error("a watch cannot flush")
		}
	}), time.Millisecond, LongRunning))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/pods?watch=true", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("got %d", rec.Code)
	}
}

func TestTimeoutPassesPanicsOn(t *testing.T) {
	h := WithPanicRecovery(WithRequestInfo(WithTimeout(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	}), time.Hour, LongRunning)))
	logs := captureLog(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/pods", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("got %d, want 500", rec.Code)
	}
	// The stack is the handler's, from its own goroutine.
	if !strings.Contains(logs.String(), "boom") || !strings.Contains(logs.String(), "TestTimeoutPassesPanicsOn") {
		t.Errorf("log: %s", logs.String())
	}
}
