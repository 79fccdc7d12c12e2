package server

import (
	"bufio"
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/storagetest"
)

// etcdEndpoint is the etcd TestMain started, "" without etcd on PATH.
var etcdEndpoint string

func TestMain(m *testing.M) {
	endpoint, stop, err := storagetest.StartEtcd()
	if err != nil {
		log.Print(err)
		os.Exit(1)
	}
	etcdEndpoint = endpoint
	code := m.Run()
	stop()
	removeFinalBinary()
	os.Exit(code)
}

// Two servers on one etcd are two replicas of one API server: a write
// through one is read, listed and watched through the other.
func TestTwoReplicasShareOneEtcd(t *testing.T) {
	storagetest.RequireEtcd(t, etcdEndpoint)
	dir := t.TempDir() // one set of credentials, as replicas share them
	flags := []string{"--data-dir=" + dir, "--etcd-servers=" + etcdEndpoint, "--etcd-prefix=/replicas/registry"}
	a := startServer(t, flags...)
	b := startServer(t, flags...)

	const cms = "/api/v1/namespaces/default/configmaps"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.url+cms+"?watch=true&resourceVersion="+revisionOf(t, b, cms), nil)
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	created := a.do(t, "POST", cms, "application/json", `{"metadata":{"name":"shared"},"data":{"k":"v"}}`)
	expect(t, created, 201, "")
	var event struct {
		Type   string         `json:"type"`
		Object map[string]any `json:"object"`
	}
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() {
		t.Fatalf("the watch through b ended: %v", lines.Err())
	}
	if err := json.Unmarshal(lines.Bytes(), &event); err != nil || event.Type != "ADDED" || field(event.Object, "metadata", "name") != "shared" {
		t.Fatalf("the watch through b saw %s", lines.Text())
	}
	if field(event.Object, "metadata", "resourceVersion") != field(created.obj, "metadata", "resourceVersion") {
		t.Errorf("resourceVersions differ: %v through a, %v through b", field(created.obj, "metadata", "resourceVersion"), field(event.Object, "metadata", "resourceVersion"))
	}
	// A write through b with a's resourceVersion, then a stale one through a.
	rv := field(created.obj, "metadata", "resourceVersion").(string)
	update := `{"metadata":{"name":"shared","resourceVersion":"` + rv + `"},"data":{"k":"b"}}`
	expect(t, b.do(t, "PUT", cms+"/shared", "application/json", update), 200, "")
	expect(t, a.do(t, "PUT", cms+"/shared", "application/json", update), 409, "Conflict")
	if got := a.do(t, "GET", cms+"/shared", "", ""); field(got.obj, "data", "k") != "b" {
		t.Errorf("a reads %s", got.raw)
	}
}

func revisionOf(t *testing.T, ts *testServer, path string) string {
	t.Helper()
	list := ts.do(t, "GET", path, "", "")
	expect(t, list, 200, "")
	return field(list.obj, "metadata", "resourceVersion").(string)
}

// When etcd goes away, /readyz fails and requests get a Status (504) instead
// of hanging; when it comes back, the server serves again on its own.
func TestEtcdOutage(t *testing.T) {
	storagetest.RequireEtcd(t, etcdEndpoint)
	e, err := storagetest.NewEtcd()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Remove()
	ts := startServer(t, "--etcd-servers="+e.URL)
	const cms = "/api/v1/namespaces/default/configmaps"
	expect(t, ts.do(t, "GET", "/readyz", "", ""), 200, "")

	e.Stop()
	if r := ts.do(t, "GET", "/readyz?verbose", "", ""); r.code != 500 || !strings.Contains(r.raw, "[-]etcd failed") {
		t.Errorf("readyz without etcd: %d %s", r.code, r.raw)
	}
	expect(t, ts.do(t, "GET", cms, "", ""), 504, "Timeout")

	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ts.do(t, "GET", "/readyz", "", "").code != 200; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not ready 30 s after etcd came back")
		}
	}
	expect(t, ts.do(t, "POST", cms, "application/json", `{"metadata":{"name":"after-outage"}}`), 201, "")
}
