package aggregator

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/features"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

func TestEscapeHeaderKey(t *testing.T) {
	for key, want := range map[string]string{
		"scopes":                 "scopes",
		"example.com/scopes":     "example.com%2Fscopes",
		"a b:c@d=e%":             "a%20b%3Ac%40d%3De%25",
		"authentication.k8s.io~": "authentication.k8s.io~",
	} {
		got := escapeHeaderKey(key)
		if got != want {
			t.Errorf("escapeHeaderKey(%q) = %q, want %q", key, got, want)
		}
		if back, err := url.PathUnescape(got); err != nil || back != key {
			t.Errorf("unescaping %q gives %q, %v", got, back, err)
		}
	}
}

// remote is an available remote APIService served by backend.
func remote(backend *httptest.Server, name, group, version string) *apiService {
	return &apiService{name: name, group: group, version: version, groupPriority: 1000, versionPriority: 15,
		endpoint: strings.TrimPrefix(backend.URL, "https://"), transport: backend.Client().Transport.(*http.Transport),
		available: true, reason: "Passed", message: "all checks passed"}
}

func serving(services ...*apiService) *Aggregator {
	a := &Aggregator{served: map[string]*apiService{}}
	for _, svc := range services {
		a.served[svc.group+"/"+svc.version] = svc
	}
	return a
}

func asUser(r *http.Request, u *request.User) *http.Request {
	return r.WithContext(request.WithUser(r.Context(), u))
}

// The proxy sends the caller's identity and nothing a client made up.
func TestProxySetsIdentityHeaders(t *testing.T) {
	var got http.Header
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusTeapot)
	}))
	defer backend.Close()
	svc := remote(backend, "v1.test.example.com", "test.example.com", "v1")

	req := httptest.NewRequest(http.MethodGet, "/apis/test.example.com/v1/things", nil)
	req.Header.Set("X-Remote-User", "admin")
	req.Header["x-remote-group"] = []string{"system:masters"} // not canonical: must go too
	req.Header["X-REMOTE-UID"] = []string{"forged"}
	req.Header.Set("Impersonate-User", "admin")
	req.Header["impersonate-group"] = []string{"system:masters"}
	req.Header.Set("X-Remote-Extra-Scopes", "all")
	user := &request.User{Name: "bob", UID: "uid-bob", Groups: []string{"devs", "system:authenticated"},
		Extra: map[string][]string{"example.com/scopes": {"read", "write"}}}
	rec := httptest.NewRecorder()
	serving(svc).proxy(svc).ServeHTTP(rec, asUser(req, user))

	if rec.Code != http.StatusTeapot {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	for name, want := range map[string][]string{
		"X-Remote-User":                       {"bob"},
		"X-Remote-Uid":                        {"uid-bob"},
		"X-Remote-Group":                      {"devs", "system:authenticated"},
		"X-Remote-Extra-Example.com%2fscopes": {"read", "write"},
	} {
		if v := got.Values(name); !slices.Equal(v, want) {
			t.Errorf("%s %v, want %v (all: %v)", name, v, want, got)
		}
	}
	for name := range got {
		if lower := strings.ToLower(name); strings.HasPrefix(lower, "impersonate-") || lower == "x-remote-extra-scopes" {
			t.Errorf("%s reached the extension: %v", name, got[name])
		}
	}
}

// A user without a UID sends no X-Remote-Uid.
func TestProxyWithoutUID(t *testing.T) {
	var got http.Header
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer backend.Close()
	svc := remote(backend, "v1.test.example.com", "test.example.com", "v1")
	req := httptest.NewRequest(http.MethodGet, "/apis/test.example.com/v1/things", nil)
	req.Header.Set("X-Remote-Uid", "forged")
	serving(svc).proxy(svc).ServeHTTP(httptest.NewRecorder(), asUser(req, &request.User{Name: "alice"}))
	if v, ok := got["X-Remote-Uid"]; ok {
		t.Errorf("X-Remote-Uid %v", v)
	}
}

// With the RemoteRequestHeaderUID feature gate off, as before Kubernetes
// 1.33, the UID stays here.
func TestProxyWithoutRemoteRequestHeaderUID(t *testing.T) {
	var got http.Header
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer backend.Close()
	svc := remote(backend, "v1.test.example.com", "test.example.com", "v1")
	a := serving(svc)
	var err error
	if a.Features, err = features.Parse([]string{"RemoteRequestHeaderUID=false"}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/apis/test.example.com/v1/things", nil)
	req.Header.Set("X-Remote-Uid", "forged")
	a.proxy(svc).ServeHTTP(httptest.NewRecorder(), asUser(req, &request.User{Name: "bob", UID: "uid-bob"}))
	if v, ok := got["X-Remote-Uid"]; ok || got.Get("X-Remote-User") != "bob" {
		t.Errorf("X-Remote-Uid %v, X-Remote-User %q", v, got.Get("X-Remote-User"))
	}
}

// What goes where: the extension's group versions and their OpenAPI
// documents to the extension, /apis/{group} answered here, the rest local,
// and an unavailable APIService a 503 that says which and why.
func TestHandlerRoutes(t *testing.T) {
	var paths []string
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.RequestURI())
		_, _ = w.Write([]byte("remote"))
	}))
	defer backend.Close()
	v1 := remote(backend, "v1.test.example.com", "test.example.com", "v1")
	v2beta1 := remote(backend, "v2beta1.test.example.com", "test.example.com", "v2beta1")
	v2beta1.versionPriority = 15
	down := &apiService{name: "v1.down.example.com", group: "down.example.com", version: "v1", groupPriority: 100, versionPriority: 1,
		reason: "ServiceNotFound", message: `service/missing in "default" is not present`}
	local := &apiService{name: "v1.apps", group: "apps", version: "v1", local: true, available: true}
	h := serving(v1, v2beta1, down, local).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("local"))
	}))
	get := func(path string) (int, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, asUser(httptest.NewRequest(http.MethodGet, path, nil), &request.User{Name: "admin"}))
		return rec.Code, rec.Body.String()
	}

	for path, want := range map[string]string{
		"/apis/test.example.com/v1":                               "remote",
		"/apis/test.example.com/v1/namespaces/default/things?x=1": "remote",
		"/openapi/v3/apis/test.example.com/v2beta1":               "remote",
		"/openapi/v3apis/test.example.com/v1":                     "local",
		"/apis/apps/v1/deployments":                               "local",
		"/api/v1/pods":                                            "local",
		"/apis/other.example.com/v1":                              "local",
		"/apis":                                                   "local",
		"/apis/apps":                                              "local",
	} {
		if code, body := get(path); code != http.StatusOK || body != want {
			t.Errorf("GET %s: %d %q, want %s", path, code, body, want)
		}
	}
	slices.Sort(paths)
	if want := []string{"/apis/test.example.com/v1", "/apis/test.example.com/v1/namespaces/default/things?x=1",
		"/openapi/v3/apis/test.example.com/v2beta1"}; !slices.Equal(paths, want) {
		t.Errorf("the extension got %q, want %q", paths, want)
	}

	code, body := get("/apis/test.example.com")
	var group struct {
		Kind             string `json:"kind"`
		PreferredVersion struct {
			GroupVersion string `json:"groupVersion"`
		} `json:"preferredVersion"`
		Versions []struct {
			Version string `json:"version"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(body), &group); err != nil || code != http.StatusOK || group.Kind != "APIGroup" ||
		group.PreferredVersion.GroupVersion != "test.example.com/v1" || len(group.Versions) != 2 || group.Versions[1].Version != "v2beta1" {
		t.Errorf("GET /apis/test.example.com: %d %s", code, body)
	}

	code, body = get("/apis/down.example.com/v1/things")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"reason":"ServiceUnavailable"`) ||
		!strings.Contains(body, "v1.down.example.com") || !strings.Contains(body, "ServiceNotFound") || !strings.Contains(body, "not present") {
		t.Errorf("unavailable: %d %s", code, body)
	}
}

// An extension that cannot be reached is a 503 Status, not a hang or a 502.
func TestProxyUnreachable(t *testing.T) {
	backend := httptest.NewTLSServer(http.NotFoundHandler())
	svc := remote(backend, "v1.test.example.com", "test.example.com", "v1")
	backend.Close()
	rec := httptest.NewRecorder()
	req := asUser(httptest.NewRequest(http.MethodGet, "/apis/test.example.com/v1/things", nil), &request.User{Name: "admin"})
	serving(svc).Handler(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "error trying to reach service") {
		t.Errorf("HTTP %d %s", rec.Code, rec.Body)
	}
}

// A watch's events reach the client as the extension sends them, not when
// the response ends.
func TestProxyStreamsWatches(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"type":"ADDED","object":{}}` + "\n"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer backend.Close()
	defer close(release)
	svc := remote(backend, "v1.test.example.com", "test.example.com", "v1")
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serving(svc).Handler(http.NotFoundHandler()).ServeHTTP(w, asUser(r, &request.User{Name: "admin"}))
	}))
	defer front.Close()

	resp, err := front.Client().Get(front.URL + "/apis/test.example.com/v1/things?watch=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(resp.Body).ReadString('\n')
		line <- l
		_, _ = io.Copy(io.Discard, resp.Body)
	}()
	select {
	case l := <-line:
		if !strings.Contains(l, `"ADDED"`) {
			t.Errorf("first event %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not come through while the watch was open")
	}
}
