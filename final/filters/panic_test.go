package filters

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPanicRecovery(t *testing.T) {
	logs := captureLog(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic("secret detail") })
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	srv := httptest.NewServer(WithPanicRecovery(WithRequestInfo(mux)))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/panic")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("got %d, want 500", resp.StatusCode)
	}
	reason, msg := status(t, body)
	if reason != "InternalError" || strings.Contains(msg, "secret detail") {
		t.Errorf("got reason %q message %q", reason, msg)
	}
	if !strings.Contains(logs.String(), "secret detail") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("the log has no panic value or no stack: %s", logs.String())
	}

	// The server still serves.
	resp, err = http.Get(srv.URL + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("after the panic: got %d %s", resp.StatusCode, body)
	}
}

func TestPanicAfterResponseStarted(t *testing.T) {
	captureLog(t)
	srv := httptest.NewServer(WithPanicRecovery(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"kind":"PodList","items":[`))
		w.(http.Flusher).Flush()
		panic("half way")
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The client sees a broken response, not a 200 that looks complete.
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("the response ended cleanly after a panic")
	}
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}
