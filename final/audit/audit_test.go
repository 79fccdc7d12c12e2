package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// memorySink keeps events, as encoded JSON and decoded back, to test what
// the log would hold.
type memorySink struct {
	mu     sync.Mutex
	events []Event
	fail   bool
}

func (s *memorySink) ProcessEvents(events ...*Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range events {
		line, err := json.Marshal(ev)
		if err != nil {
			panic(err)
		}
		var back Event
		if err := json.Unmarshal(line, &back); err != nil {
			panic(err)
		}
		s.events = append(s.events, back)
	}
	return !s.fail
}

func (s *memorySink) all() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

var alice = &request.User{Name: "alice", UID: "a-1", Groups: []string{"dev", request.GroupAuthenticated}}

// withUser stands for authentication (and the RequestInfo filter) before the
// audit filter.
func withUser(next http.Handler, u *request.User) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := request.WithRequestInfo(request.WithUser(r.Context(), u), request.Resolve(r))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func policyAt(level Level, omit ...Stage) *Policy {
	return &Policy{APIVersion: "audit.k8s.io/v1", Kind: "Policy", OmitStages: omit, Rules: []PolicyRule{{Level: level}}}
}

// echo reads the body and answers it back with 201, as a create does.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(body)
})

const pod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`

func TestEventStages(t *testing.T) {
	sink := &memorySink{}
	h := withUser(WithAudit(echo, policyAt(LevelMetadata), sink), alice)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/api/v1/namespaces/default/pods?fieldManager=kubectl", strings.NewReader(pod))
	r.Header.Set("User-Agent", "kubectl/v1.34.0")
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	r.RemoteAddr = "192.0.2.1:54321"
	h.ServeHTTP(rec, r)
	if rec.Body.String() != pod {
		t.Errorf("the handler did not get the whole body: %s", rec.Body)
	}

	events := sink.all()
	if len(events) != 2 || events[0].Stage != StageRequestReceived || events[1].Stage != StageResponseComplete {
		t.Fatalf("got %+v", events)
	}
	ev := events[1]
	if ev.AuditID == "" || ev.AuditID != events[0].AuditID || rec.Header().Get("Audit-ID") != ev.AuditID {
		t.Errorf("audit IDs: %q %q header %q", events[0].AuditID, ev.AuditID, rec.Header().Get("Audit-ID"))
	}
	if ev.Kind != "Event" || ev.APIVersion != "audit.k8s.io/v1" || ev.Level != LevelMetadata || ev.Verb != "create" ||
		ev.RequestURI != "/api/v1/namespaces/default/pods?fieldManager=kubectl" || ev.UserAgent != "kubectl/v1.34.0" {
		t.Errorf("got %+v", ev)
	}
	if ev.User.Username != "alice" || ev.User.UID != "a-1" || len(ev.User.Groups) != 2 || ev.ImpersonatedUser != nil {
		t.Errorf("user: %+v, impersonated %+v", ev.User, ev.ImpersonatedUser)
	}
	if strings.Join(ev.SourceIPs, ",") != "203.0.113.7,192.0.2.1" {
		t.Errorf("sourceIPs: %v", ev.SourceIPs)
	}
	// The name of a created object is in its body: objectRef has it.
	want := ObjectReference{Resource: "pods", Namespace: "default", Name: "web", APIVersion: "v1"}
	if ev.ObjectRef == nil || *ev.ObjectRef != want {
		t.Errorf("objectRef: got %+v, want %+v", ev.ObjectRef, want)
	}
	if ev.ResponseStatus == nil || ev.ResponseStatus.Code != 201 || ev.ResponseStatus.Reason != "" {
		t.Errorf("responseStatus: %+v", ev.ResponseStatus)
	}
	if ev.RequestObject != nil || ev.ResponseObject != nil {
		t.Error("Metadata level keeps bodies")
	}
	if events[0].ResponseStatus != nil || events[0].StageTimestamp != events[0].RequestReceivedTimestamp {
		t.Errorf("RequestReceived: %+v", events[0])
	}
}

func TestTimestampsHaveMicroseconds(t *testing.T) {
	sink := &memorySink{}
	w := httptest.NewRecorder()
	withUser(WithAudit(echo, policyAt(LevelMetadata), sink), alice).ServeHTTP(w, httptest.NewRequest("GET", "/version", nil))
	var raw map[string]any
	line, _ := json.Marshal(sink.all()[1])
	json.Unmarshal(line, &raw)
	micro := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
	for _, field := range []string{"requestReceivedTimestamp", "stageTimestamp"} {
		if s, _ := raw[field].(string); !micro.MatchString(s) {
			t.Errorf("%s: %q", field, raw[field])
		}
	}
	if _, ok := raw["objectRef"]; ok {
		t.Error("a path has an objectRef")
	}
}

func TestLevelsAndBodies(t *testing.T) {
	for _, tt := range []struct {
		level                     Level
		wantRequest, wantResponse bool
	}{
		{LevelMetadata, false, false},
		{LevelRequest, true, false},
		{LevelRequestResponse, true, true},
	} {
		sink := &memorySink{}
		h := withUser(WithAudit(echo, policyAt(tt.level, StageRequestReceived), sink), alice)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/namespaces/default/pods", strings.NewReader(pod)))
		events := sink.all()
		if len(events) != 1 {
			t.Fatalf("%s: %d events with RequestReceived omitted", tt.level, len(events))
		}
		ev := events[0]
		if got := ev.RequestObject != nil; got != tt.wantRequest {
			t.Errorf("%s: requestObject %s", tt.level, ev.RequestObject)
		}
		if got := ev.ResponseObject != nil; got != tt.wantResponse {
			t.Errorf("%s: responseObject %s", tt.level, ev.ResponseObject)
		}
		if tt.wantRequest && !jsonEqual(ev.RequestObject, pod) {
			t.Errorf("%s: requestObject %s", tt.level, ev.RequestObject)
		}
		if tt.wantResponse && !jsonEqual(ev.ResponseObject, pod) {
			t.Errorf("%s: responseObject %s", tt.level, ev.ResponseObject)
		}
	}
}

func jsonEqual(raw json.RawMessage, want string) bool {
	var a, b any
	return json.Unmarshal(raw, &a) == nil && json.Unmarshal([]byte(want), &b) == nil && jsonString(a) == jsonString(b)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestLargeOrOddBodiesAreLeftOut(t *testing.T) {
	big := `{"data":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	for name, body := range map[string]string{"too large": big, "not JSON": "\x0a\x03k8s\x00protobuf"} {
		sink := &memorySink{}
		h := withUser(WithAudit(echo, policyAt(LevelRequestResponse, StageRequestReceived), sink), alice)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/namespaces/default/configmaps", strings.NewReader(body)))
		if rec.Body.String() != body {
			t.Errorf("%s: the handler did not get the body", name)
		}
		ev := sink.all()[0]
		if ev.RequestObject != nil || ev.ResponseObject != nil || ev.ResponseStatus.Code != 201 {
			t.Errorf("%s: got requestObject %d bytes, responseObject %d bytes, status %+v", name, len(ev.RequestObject), len(ev.ResponseObject), ev.ResponseStatus)
		}
	}
}

func TestFailedRequest(t *testing.T) {
	sink := &memorySink{}
	forbid := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apierrors.WriteError(w, apierrors.NewForbidden("", "secrets", "token", errors.New(`User "alice" cannot get resource "secrets": not allowed`)))
	})
	h := withUser(WithAudit(forbid, policyAt(LevelMetadata, StageRequestReceived), sink), alice)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/namespaces/kube-system/secrets/token", nil))
	rs := sink.all()[0].ResponseStatus
	if rs == nil || rs.Code != 403 || rs.Status != "Failure" || rs.Reason != "Forbidden" || !strings.Contains(rs.Message, "not allowed") {
		t.Errorf("responseStatus: %+v", rs)
	}
	if sink.all()[0].ResponseObject != nil {
		t.Error("Metadata level kept the response")
	}
}

func TestWatchIsAuditedOnceAtTheEnd(t *testing.T) {
	sink := &memorySink{}
	opened, closeWatch := make(chan struct{}), make(chan struct{})
	watch := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"type":"ADDED","object":{"kind":"Pod"}}` + "\n"))
		w.(http.Flusher).Flush()
		close(opened)
		<-closeWatch
		w.Write([]byte(`{"type":"DELETED","object":{"kind":"Pod"}}` + "\n"))
	})
	srv := httptest.NewServer(withUser(WithAudit(watch, policyAt(LevelRequestResponse, StageRequestReceived), sink), alice))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/api/v1/namespaces/default/pods?watch=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The first event arrives while the watch is open: Flush went through.
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, "ADDED") {
		t.Fatalf("first event: %q %v", line, err)
	}
	<-opened
	if n := len(sink.all()); n != 0 {
		t.Errorf("%d events while the watch is open", n)
	}
	close(closeWatch)
	io.Copy(io.Discard, resp.Body)

	events := sink.all()
	if len(events) != 1 {
		t.Fatalf("got %d events", len(events))
	}
	ev := events[0]
	if ev.Stage != StageResponseComplete || ev.Verb != "watch" || ev.ResponseStatus.Code != 200 || ev.ResponseObject != nil {
		t.Errorf("got %+v", ev)
	}
}

func TestImpersonatedUser(t *testing.T) {
	sink := &memorySink{}
	bob := &request.User{Name: "bob", Groups: []string{request.GroupAuthenticated}}
	// impersonate stands for authz.WithImpersonation: the request goes on as bob.
	impersonate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Impersonate-User") == "bob" {
				r = r.WithContext(request.WithUser(r.Context(), bob))
			}
			next.ServeHTTP(w, r)
		})
	}
	h := withUser(WithAudit(impersonate(WithImpersonatedUser(echo)), policyAt(LevelMetadata, StageRequestReceived), sink), alice)

	r := httptest.NewRequest("GET", "/api/v1/namespaces/default/pods", nil)
	r.Header.Set("Impersonate-User", "bob")
	h.ServeHTTP(httptest.NewRecorder(), r)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/namespaces/default/pods", nil))

	events := sink.all()
	if events[0].User.Username != "alice" || events[0].ImpersonatedUser == nil || events[0].ImpersonatedUser.Username != "bob" {
		t.Errorf("impersonated: user %+v as %+v", events[0].User, events[0].ImpersonatedUser)
	}
	if events[1].ImpersonatedUser != nil {
		t.Errorf("not impersonated: %+v", events[1].ImpersonatedUser)
	}
}

func TestLevelNoneAndNoPolicy(t *testing.T) {
	sink := &memorySink{}
	p := &Policy{Rules: []PolicyRule{{Level: LevelNone, NonResourceURLs: []string{"/healthz*"}}, {Level: LevelMetadata}}}
	h := withUser(WithAudit(echo, p, sink), alice)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if len(sink.all()) != 0 {
		t.Errorf("level None logged %d events", len(sink.all()))
	}
	if rec.Header().Get("Audit-ID") == "" {
		t.Error("no Audit-ID header")
	}
	// A client's own Audit-ID is kept.
	r := httptest.NewRequest("GET", "/version", nil)
	r.Header.Set("Audit-ID", "my-request-1")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Header().Get("Audit-ID") != "my-request-1" || sink.all()[1].AuditID != "my-request-1" {
		t.Errorf("got header %q event %q", rec.Header().Get("Audit-ID"), sink.all()[1].AuditID)
	}

	if WithAudit(echo, nil, sink) == nil || WithAudit(echo, p, nil) == nil {
		t.Error("no policy or no sink: the handler itself is expected")
	}
}

func TestPanicStage(t *testing.T) {
	sink := &memorySink{}
	h := withUser(WithAudit(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }),
		policyAt(LevelMetadata, StageRequestReceived), sink), alice)
	func() {
		defer func() {
			if recover() != "boom" {
				t.Error("the panic was not passed on")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("DELETE", "/api/v1/namespaces/default/pods/web", nil))
	}()
	ev := sink.all()[0]
	if ev.Stage != StagePanic || ev.ResponseStatus.Code != 500 || !strings.Contains(ev.ResponseStatus.Message, "boom") {
		t.Errorf("got %+v %+v", ev, ev.ResponseStatus)
	}
}

func TestSinkFailureRefusesTheRequest(t *testing.T) {
	sink := &memorySink{fail: true}
	served := false
	h := withUser(WithAudit(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }), policyAt(LevelMetadata), sink), alice)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("DELETE", "/api/v1/namespaces/default/pods/web", nil))
	if rec.Code != http.StatusInternalServerError || served {
		t.Errorf("got %d, served %v", rec.Code, served)
	}
}

func TestLogBackend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit", "audit.log")
	backend, err := OpenLogBackend(path)
	if err != nil {
		t.Fatal(err)
	}
	h := withUser(WithAudit(echo, policyAt(LevelRequest), backend), alice)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/namespaces/default/pods", strings.NewReader(pod)))
		}()
	}
	wg.Wait()
	if err := backend.Close(); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 40 {
		t.Fatalf("got %d lines", len(lines))
	}
	for _, line := range lines {
		var ev Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Kind != "Event" {
			t.Fatalf("not an Event (%v): %s", err, line)
		}
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the log is readable by others: %v %v", info.Mode(), err)
	}

	stdout, err := OpenLogBackend("-")
	if err != nil || stdout.w != os.Stdout || stdout.Close() != nil {
		t.Errorf("-: %+v %v", stdout, err)
	}
}
