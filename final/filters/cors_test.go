package filters

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCompileCORSOrigins(t *testing.T) {
	for _, ok := range []string{`//example\.com(:|$)`, `^https://example\.com(:|$)`, `^http://127\.0\.0\.1:`} {
		if _, err := CompileCORSOrigins([]string{ok}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for pattern, want := range map[string]string{
		`example\.com`:        "does not pin to start/end of host",
		`^example`:            "does not pin to start/end of host",
		`example\.com$`:       "does not pin to start/end of host",
		`^https://(example:$`: "invalid regular expression: error parsing regexp",
		``:                    "empty value in --cors-allowed-origins",
	} {
		_, err := CompileCORSOrigins([]string{`//ok(:|$)`, pattern})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", pattern, err, want)
		}
	}
}

func TestWithCORS(t *testing.T) {
	allowed, err := CompileCORSOrigins([]string{`//app\.example\.com(:|$)`})
	if err != nil {
		t.Fatal(err)
	}
	served := 0
	h := WithCORS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served++
		w.WriteHeader(http.StatusUnauthorized) // what authentication would answer
	}), allowed)
	send := func(method, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/api/v1/namespaces", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	// The preflight of an allowed origin is answered here, before authentication.
	w := send("OPTIONS", "https://app.example.com:8443")
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example.com:8443",
		"Access-Control-Allow-Methods":     "POST, GET, OPTIONS, PUT, DELETE, PATCH",
		"Access-Control-Allow-Headers":     "Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token, Authorization, X-Requested-With, If-Modified-Since",
		"Access-Control-Expose-Headers":    "Date",
		"Access-Control-Allow-Credentials": "true",
	}
	if w.Code != http.StatusNoContent || served != 0 {
		t.Errorf("preflight: %d, served %d times", w.Code, served)
	}
	for name, value := range want {
		if got := w.Header().Get(name); got != value {
			t.Errorf("preflight %s = %q, want %q", name, got, value)
		}
	}

	// The request itself goes on, with the headers.
	w = send("GET", "https://app.example.com")
	if w.Code != http.StatusUnauthorized || served != 1 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("GET: %d, served %d, headers %v", w.Code, served, w.Header())
	}

	// Other origins, and requests without one, get no CORS header at all.
	for _, origin := range []string{"https://app.example.com.evil.test", "https://evil.test", ""} {
		served = 0
		w = send("OPTIONS", origin)
		if served != 1 || w.Code != http.StatusUnauthorized {
			t.Errorf("%q: %d, served %d times", origin, w.Code, served)
		}
		for name := range w.Header() {
			if strings.HasPrefix(name, "Access-Control-") {
				t.Errorf("%q: got %s", origin, name)
			}
		}
	}
}
