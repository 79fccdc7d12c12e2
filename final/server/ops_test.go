package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Health with per-check detail, Prometheus metrics, and the audit log.
func TestOperations(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	logFile := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policy, []byte(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: RequestResponse
  resources: [{group: "", resources: [configmaps]}]
- level: None
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "--audit-policy-file="+policy, "--audit-log-path="+logFile)

	ready := ts.do(t, "GET", "/readyz?verbose", "", "")
	if ready.code != 200 || !strings.Contains(ready.raw, "[+]etcd ok") || !strings.Contains(ready.raw, "readyz check passed") {
		t.Errorf("readyz?verbose: %d %s", ready.code, ready.raw)
	}
	expect(t, ts.do(t, "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":{"name":"audited"}}`), 201, "")
	expect(t, ts.do(t, "GET", "/api/v1/namespaces/default/configmaps/missing", "", ""), 404, "NotFound")
	metrics := ts.do(t, "GET", "/metrics", "", "")
	for _, series := range []string{
		`apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="POST",version="v1"}`,
		`apiserver_request_duration_seconds_bucket{`,
		`etcd_request_duration_seconds_bucket{operation="create",type="configmaps"`,
	} {
		if !strings.Contains(metrics.raw, series) {
			t.Errorf("/metrics has no %s", series)
		}
	}
	if !strings.Contains(metrics.raw, `code="404"`) {
		t.Error("/metrics does not count the 404")
	}

	ts.stop() // the audit log is complete once the server has stopped
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var created, missing bool
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if field(ev, "objectRef", "resource") != "configmaps" {
			t.Errorf("audited a request the policy says None to: %s", line)
		}
		switch {
		case ev["verb"] == "create" && field(ev, "responseObject", "metadata", "name") == "audited" && ev["level"] == "RequestResponse":
			created = true
		case ev["verb"] == "get" && field(ev, "responseStatus", "code") == float64(404):
			missing = true
		}
	}
	if !created || !missing {
		t.Errorf("audit log (create %v, 404 %v):\n%s", created, missing, data)
	}
}

// On shutdown /readyz fails first, watches end, and Run returns.
func TestGracefulShutdown(t *testing.T) {
	ts := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/api/v1/namespaces/default/configmaps?watch=true", nil)
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ended := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
		}
		close(ended)
	}()
	stopped := make(chan struct{})
	go func() { ts.stop(); close(stopped) }()
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatal("the watch did not end on shutdown")
	}
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("Run did not return")
	}
}

// --profiling (on by default, as in kube-apiserver) serves Go's profiles
// to whoever RBAC lets read /debug/pprof/: admins, not anonymous users.
// --profiling=false leaves the path unrouted.
func TestProfiling(t *testing.T) {
	ts := startServer(t)
	index := ts.do(t, "GET", "/debug/pprof/", "", "")
	if index.code != 200 || !strings.Contains(index.raw, "goroutine") {
		t.Errorf("/debug/pprof/: %d %.200s", index.code, index.raw)
	}
	heap := ts.do(t, "GET", "/debug/pprof/heap?debug=1", "", "")
	if heap.code != 200 || !strings.Contains(heap.raw, "heap profile:") {
		t.Errorf("/debug/pprof/heap: %d %.200s", heap.code, heap.raw)
	}
	anonymous := &tokenUser{ts: ts, client: tlsClient(t, ts.dir, nil)}
	expect(t, anonymous.do(t, "GET", "/debug/pprof/heap", "", nil), 403, "Forbidden")
	ts.stop()

	off := startServer(t, "--profiling=false")
	expect(t, off.do(t, "GET", "/debug/pprof/", "", ""), 404, "NotFound")
}
