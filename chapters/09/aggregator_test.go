package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
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

// The proxy sends the caller's identity and nothing a client made up.
func TestProxySetsIdentityHeaders(t *testing.T) {
	var got http.Header
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusTeapot)
	}))
	defer backend.Close()
	svc := &apiService{name: "v1.test.example.com", endpoint: strings.TrimPrefix(backend.URL, "https://"),
		transport: backend.Client().Transport.(*http.Transport)}

	req := httptest.NewRequest(http.MethodGet, "/apis/test.example.com/v1/things", nil)
	req.Header.Set("X-Remote-User", "admin")
	req.Header["x-remote-group"] = []string{"system:masters"} // not canonical: must go too
	req.Header.Set("Impersonate-User", "admin")
	req.Header.Set("X-Remote-Extra-Scopes", "all")
	user := &userInfo{Name: "bob", Groups: []string{"devs", "system:authenticated"},
		Extra: map[string][]string{"example.com/scopes": {"read", "write"}}}
	rec := httptest.NewRecorder()
	(&aggregator{}).proxy(svc).ServeHTTP(rec, req.WithContext(withUser(req.Context(), user)))

	if rec.Code != http.StatusTeapot {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	if v := got.Values("X-Remote-User"); !slices.Equal(v, []string{"bob"}) {
		t.Errorf("X-Remote-User %v", v)
	}
	if v := got.Values("X-Remote-Group"); !slices.Equal(v, []string{"devs", "system:authenticated"}) {
		t.Errorf("X-Remote-Group %v", v)
	}
	if v := got.Values("X-Remote-Extra-Example.com%2fscopes"); !slices.Equal(v, []string{"read", "write"}) {
		t.Errorf("extra %v (all: %v)", v, got)
	}
	for _, forged := range []string{"Impersonate-User", "X-Remote-Extra-Scopes"} {
		if v := got.Values(forged); len(v) > 0 {
			t.Errorf("%s reached the extension: %v", forged, v)
		}
	}
}
