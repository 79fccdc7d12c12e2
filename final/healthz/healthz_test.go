package healthz

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// quietLog keeps the failures' log lines out of the test output.
func quietLog(t *testing.T) {
	old := log.Writer()
	log.SetOutput(io.Discard)
	t.Cleanup(func() { log.SetOutput(old) })
}

func get(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	return rec.Code, rec.Body.String()
}

func TestPassing(t *testing.T) {
	h := Handler("/readyz", Ping, Check{Name: "etcd", Fn: func(context.Context) error { return nil }})
	if code, body := get(t, h, "/readyz"); code != 200 || body != "ok" {
		t.Errorf("got %d %q", code, body)
	}
	want := "[+]ping ok\n[+]etcd ok\nreadyz check passed\n"
	if code, body := get(t, h, "/readyz?verbose"); code != 200 || body != want {
		t.Errorf("got %d %q, want %q", code, body, want)
	}
	if code, body := get(t, h, "/readyz/etcd"); code != 200 || body != "ok" {
		t.Errorf("got %d %q", code, body)
	}
	if code, _ := get(t, h, "/readyz/nosuch"); code != 404 {
		t.Errorf("an unknown check: got %d", code)
	}
}

func TestFailing(t *testing.T) {
	quietLog(t)
	etcd := Check{Name: "etcd", Fn: func(context.Context) error { return errors.New("dial tcp 10.0.0.1:2379: connection refused") }}
	h := Handler("/healthz", Ping, etcd)

	// A failure is always verbose, and never says why.
	want := "[+]ping ok\n[-]etcd failed: reason withheld\nhealthz check failed\n"
	for _, target := range []string{"/healthz", "/healthz?verbose"} {
		code, body := get(t, h, target)
		if code != http.StatusInternalServerError || body != want {
			t.Errorf("%s: got %d %q, want %q", target, code, body, want)
		}
	}
	// The check's own path says why.
	code, body := get(t, h, "/healthz/etcd")
	if code != http.StatusInternalServerError || !strings.Contains(body, "connection refused") {
		t.Errorf("got %d %q", code, body)
	}

	// Excluding the failing check passes.
	want = "[+]ping ok\n[+]etcd excluded: ok\nwarn: some health checks cannot be excluded: no matches for \"nosuch\"\nhealthz check passed\n"
	if code, body := get(t, h, "/healthz?verbose&exclude=etcd&exclude=nosuch"); code != 200 || body != want {
		t.Errorf("got %d %q, want %q", code, body, want)
	}
	if code, body := get(t, h, "/healthz?exclude=etcd"); code != 200 || body != "ok" {
		t.Errorf("got %d %q", code, body)
	}
}

func TestDefaultsToPing(t *testing.T) {
	want := "[+]ping ok\nlivez check passed\n"
	if code, body := get(t, Handler("/livez"), "/livez?verbose"); code != 200 || body != want {
		t.Errorf("got %d %q", code, body)
	}
}

func TestShutdown(t *testing.T) {
	quietLog(t)
	stop := make(chan struct{})
	h := Handler("/readyz", Ping, Shutdown(stop))
	if code, _ := get(t, h, "/readyz"); code != 200 {
		t.Errorf("before shutdown: %d", code)
	}
	close(stop)
	if code, body := get(t, h, "/readyz"); code != 500 || !strings.Contains(body, "[-]shutdown failed: reason withheld") {
		t.Errorf("after shutdown: %d %q", code, body)
	}
	if _, body := get(t, h, "/readyz/shutdown"); !strings.Contains(body, "process is shutting down") {
		t.Errorf("got %q", body)
	}
}

func TestServeMux(t *testing.T) {
	mux := http.NewServeMux()
	h := Handler("/livez", Ping)
	mux.Handle("/livez", h)
	mux.Handle("/livez/", h)
	for _, target := range []string{"/livez", "/livez/ping"} {
		if code, body := get(t, mux, target); code != 200 || body != "ok" {
			t.Errorf("%s: got %d %q", target, code, body)
		}
	}
}
