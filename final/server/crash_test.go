package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// SIGKILL in the middle of a write burst loses no acknowledged write, and
// revisions go on increasing after the restart.
func TestCrashDuringWrites(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "final")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building final: %v\n%s", err, out)
	}
	dir := t.TempDir()
	ts, cmd := startProcess(t, bin, dir)

	type ack struct{ name, rv string }
	var mu sync.Mutex
	var acked []ack
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				r, err := ts.try("POST", "/api/v1/namespaces/default/configmaps", `{"metadata":{"name":"`+name+`"},"data":{"k":"v"}}`)
				if err != nil {
					return // the server is gone
				}
				if r.code == 201 {
					mu.Lock()
					acked = append(acked, ack{name, field(r.obj, "metadata", "resourceVersion").(string)})
					mu.Unlock()
				}
			}
		})
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d writes acknowledged in 20 s", n)
		}
	}
	_ = cmd.Process.Kill() // SIGKILL, mid-burst
	_, _ = cmd.Process.Wait()
	close(stop)
	wg.Wait()

	again, _ := startProcess(t, bin, dir)
	var highest int64
	for _, a := range acked {
		r := again.do(t, "GET", "/api/v1/namespaces/default/configmaps/"+a.name, "", "")
		if r.code != 200 || field(r.obj, "metadata", "resourceVersion") != a.rv {
			t.Fatalf("acknowledged %s at %s; after the crash: %d %s", a.name, a.rv, r.code, r.raw)
		}
		rv, _ := strconv.ParseInt(a.rv, 10, 64)
		highest = max(highest, rv)
	}
	next := again.do(t, "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":{"name":"after-crash"}}`)
	expect(t, next, 201, "")
	if rv, _ := strconv.ParseInt(field(next.obj, "metadata", "resourceVersion").(string), 10, 64); rv <= highest {
		t.Errorf("the revision went back: %d after %d", rv, highest)
	}
	t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
}

// startProcess runs the final binary on a data directory and waits for it.
func startProcess(t *testing.T, bin, dir string) (*testServer, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, "--secure-port=0", "--data-dir="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatal("final exited before saying where it serves")
	}
	first := lines.Text()
	go func() { // keep reading, so the server never blocks on a full pipe
		for lines.Scan() {
		}
	}()
	m := regexp.MustCompile(`^final serving on (\S+)`).FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first line %q", first)
	}
	return &testServer{url: m[1], dir: dir, client: adminClient(t, dir), stop: func() {}}, cmd
}

// try is do without failing the test: a crashing server is expected here.
func (ts *testServer) try(method, path, body string) (response, error) {
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := ts.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	r := response{code: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.obj)
	return r, nil
}
