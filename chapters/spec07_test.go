// Chapter 07's checks: watch. kubectl get -w and a client-go informer see
// changes live; a watch resumes from a resourceVersion with no gap and no
// duplicate; bookmarks, 410 after compaction, selector transitions, the
// timeout, and a slow watcher that is closed instead of blocking writers.
package chapters_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func chapter07Checks() []check {
	return []check{
		{7, "kubectl get -w shows changes live", checkKubectlWatch},
		{7, "a client-go informer syncs and follows changes", checkInformer},
		{7, "a watch resumes from a resourceVersion with no gap or duplicate", checkWatchResume},
		{7, "a watch from now starts with the current state", checkWatchInitialState},
		{7, "bookmarks, and the initial-events-end bookmark", checkBookmarks},
		{7, "a compacted resourceVersion is an ERROR event with 410", checkWatchExpired},
		{7, "selectors turn changes into ADDED and DELETED", checkWatchSelectors},
		{7, "bad watch parameters are 400", checkBadWatchParameters},
		{7, "a watcher that falls behind is closed, writers never wait", checkSlowWatcher},
	}
}

type event struct {
	Type   string         `json:"type"`
	Object map[string]any `json:"object"`
}

// watchStream opens a watch and delivers its events on a channel, closed
// when the stream ends. Cancel the context to leave.
func (s *server) watchStream(t *testing.T, ctx context.Context, path string) <-chan event {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := *s.client
	client.Timeout = 0 // a watch outlives the usual request timeout
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("watch %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("watch %s: HTTP %d", path, resp.StatusCode)
	}
	events := make(chan event, 10000)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var ev event
			if dec.Decode(&ev) != nil {
				return
			}
			events <- ev
		}
	}()
	return events
}

// collect reads events until want of them arrived, the stream ended, or 10 s passed.
func collect(events <-chan event, want int) []event {
	return collectWithin(events, want, 10*time.Second)
}

// collectWithin is collect with a deadline of the caller's choice.
func collectWithin(events <-chan event, want int, limit time.Duration) []event {
	var got []event
	deadline := time.After(limit)
	for len(got) < want {
		select {
		case ev, ok := <-events:
			if !ok {
				return got
			}
			got = append(got, ev)
		case <-deadline:
			return got
		}
	}
	return got
}

func summary(events []event) []string {
	var out []string
	for _, ev := range events {
		out = append(out, ev.Type+" "+str(ev.Object, "metadata", "name"))
	}
	return out
}

func checkKubectlWatch(t *testing.T, s *server) {
	s.mustKubectl(t, "", "create", "namespace", "kwatch")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, needKubectl(t), "get", "configmaps", "-n", "kwatch", "-w", "--output-watch-events", "--no-headers")
	cmd.Env = append(cmd.Environ(), "KUBECONFIG="+s.kubeconfig, "HOME="+s.dataDir)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(500 * time.Millisecond) // let kubectl list and start watching
	s.mustKubectl(t, "", "create", "configmap", "live", "-n", "kwatch")
	s.mustKubectl(t, "", "label", "configmap", "live", "-n", "kwatch", "seen=yes")
	s.mustKubectl(t, "", "delete", "configmap", "live", "-n", "kwatch")
	want := []string{"ADDED live", "MODIFIED live", "DELETED live"}
	var got []string
	for deadline := time.After(10 * time.Second); len(got) < len(want); {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl get -w ended; saw %v", got)
			}
			if fields := strings.Fields(line); len(fields) >= 2 { // EVENT NAME AGE
				got = append(got, fields[0]+" "+fields[1])
			}
		case <-deadline:
			t.Fatalf("kubectl get -w saw %v, want %v", got, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("kubectl get -w: %v, want %v", got, want)
	}
}

func checkInformer(t *testing.T, s *server) {
	exe := filepath.Join(t.TempDir(), "informer")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Dir = filepath.Join("testdata", "informer")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the client-go informer: %v\n%s", err, out)
	}
	s.mustKubectl(t, "", "create", "namespace", "informed")
	s.mustKubectl(t, "", "create", "configmap", "existing", "-n", "informed", "--from-literal=v=0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "--kubeconfig", s.kubeconfig, "--namespace", "informed", "--for", "25s")
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(want string) {
		t.Helper()
		select {
		case line, ok := <-lines:
			if !ok || line != want {
				t.Fatalf("informer printed %q (open %v), want %q; stderr:\n%s", line, ok, want, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("informer: no %q within 15 s; stderr:\n%s", want, stderr.String())
		}
	}
	next("ADD existing 0")
	next("SYNCED")
	s.mustKubectl(t, "", "create", "configmap", "fresh", "-n", "informed", "--from-literal=v=1")
	next("ADD fresh 1")
	s.mustKubectl(t, "", "patch", "configmap", "fresh", "-n", "informed", "-p", `{"data":{"v":"2"}}`)
	next("UPDATE fresh 2")
	s.mustKubectl(t, "", "delete", "configmap", "fresh", "-n", "informed")
	next("DELETE fresh")
}

func checkWatchResume(t *testing.T, s *server) {
	const ns = "/api/v1/namespaces/resume/configmaps"
	expect(t, s.post(t, "/api/v1/namespaces", `{"metadata":{"name":"resume"}}`), http.StatusCreated, "")
	var rvs []string
	for i := 1; i <= 6; i++ {
		r := s.post(t, ns, fmt.Sprintf(`{"metadata":{"name":"r%d"}}`, i))
		expect(t, r, http.StatusCreated, "")
		rvs = append(rvs, str(r.obj, "metadata", "resourceVersion"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// From the third write's revision: r4, r5, r6 from the log, then live.
	events := s.watchStream(t, ctx, ns+"?watch=true&resourceVersion="+rvs[2])
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // writes racing with the switch from log to live
		defer wg.Done()
		for i := 7; i <= 12; i++ {
			s.post(t, ns, fmt.Sprintf(`{"metadata":{"name":"r%d"}}`, i))
		}
	}()
	got := collect(events, 9)
	wg.Wait()
	var want []string
	for i := 4; i <= 12; i++ {
		want = append(want, fmt.Sprintf("ADDED r%d", i))
	}
	if !slices.Equal(summary(got), want) {
		t.Errorf("resumed watch: %v, want %v", summary(got), want)
	}
	last := ""
	for _, ev := range got {
		rv := str(ev.Object, "metadata", "resourceVersion")
		if len(rv) < len(last) || len(rv) == len(last) && rv <= last {
			t.Errorf("events out of revision order: %s after %s", rv, last)
		}
		last = rv
	}
}

func checkWatchInitialState(t *testing.T, s *server) {
	const ns = "/api/v1/namespaces/initial/configmaps"
	expect(t, s.post(t, "/api/v1/namespaces", `{"metadata":{"name":"initial"}}`), http.StatusCreated, "")
	for _, n := range []string{"a", "b"} {
		expect(t, s.post(t, ns, `{"metadata":{"name":"`+n+`"}}`), http.StatusCreated, "")
	}
	for _, rv := range []string{"", "0"} {
		ctx, cancel := context.WithCancel(context.Background())
		events := s.watchStream(t, ctx, ns+"?watch=true&resourceVersion="+rv)
		initial := collect(events, 2)
		expect(t, s.do(t, http.MethodPatch, ns+"/a", "application/merge-patch+json", `{"data":{"rv":"`+rv+`"}}`), http.StatusOK, "")
		live := collect(events, 1)
		cancel()
		if got := summary(append(initial, live...)); !slices.Equal(got, []string{"ADDED a", "ADDED b", "MODIFIED a"}) {
			t.Errorf("watch with resourceVersion=%q: %v", rv, got)
		}
	}
}

func checkBookmarks(t *testing.T, s *server) {
	other := start(t, s.exe, s.chapter, "--watch-bookmark-interval=200ms")
	const ns = "/api/v1/namespaces/default/configmaps"
	last := other.post(t, ns, `{"metadata":{"name":"marked"}}`)
	expect(t, last, http.StatusCreated, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := other.watchStream(t, ctx, ns+"?watch=true&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=2")
	got := collect(events, 100) // until the 2 s timeout ends the stream
	types := []string{}
	for _, ev := range got {
		types = append(types, ev.Type)
	}
	if len(got) < 3 || got[0].Type != "ADDED" || got[1].Type != "BOOKMARK" ||
		str(got[1].Object, "metadata", "annotations", "k8s.io/initial-events-end") != "true" {
		t.Fatalf("want ADDED, then the initial-events-end BOOKMARK, then bookmarks; got %v", types)
	}
	for _, ev := range got[1:] {
		if ev.Type != "BOOKMARK" || rvOf(t, ev.Object) < rvOf(t, last.obj) {
			t.Errorf("a bookmark behind the last write, or another event: %v", ev)
		}
	}
	// Without allowWatchBookmarks, none.
	quiet := collect(other.watchStream(t, ctx, ns+"?watch=true&timeoutSeconds=1"), 100)
	if got := summary(quiet); !slices.Equal(got, []string{"ADDED marked"}) {
		t.Errorf("a watch that does not allow bookmarks got %v", got)
	}
}

func checkWatchExpired(t *testing.T, s *server) {
	const ns = "/api/v1/namespaces/default/configmaps"
	old := s.post(t, ns, `{"metadata":{"name":"bygone"}}`)
	expect(t, old, http.StatusCreated, "")
	expect(t, s.post(t, ns, `{"metadata":{"name":"later"}}`), http.StatusCreated, "")
	expect(t, s.post(t, "/storage/compact", nil), http.StatusOK, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := collect(s.watchStream(t, ctx, ns+"?watch=true&resourceVersion="+str(old.obj, "metadata", "resourceVersion")), 2)
	if len(got) != 1 || got[0].Type != "ERROR" || fmt.Sprint(got[0].Object["code"]) != "410" || got[0].Object["reason"] != "Expired" {
		t.Errorf("watch from a compacted revision: %v", got)
	}
}

func checkWatchSelectors(t *testing.T, s *server) {
	const ns = "/api/v1/namespaces/default/configmaps"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := str(s.get(t, ns).obj, "metadata", "resourceVersion")
	events := s.watchStream(t, ctx, ns+"?watch=true&resourceVersion="+now+"&labelSelector=team%3Dred")
	label := func(team string) {
		expect(t, s.do(t, http.MethodPatch, ns+"/mover", "application/merge-patch+json", `{"metadata":{"labels":{"team":"`+team+`"}}}`), http.StatusOK, "")
	}
	expect(t, s.post(t, ns, `{"metadata":{"name":"bystander","labels":{"team":"blue"}}}`), http.StatusCreated, "")
	expect(t, s.post(t, ns, `{"metadata":{"name":"mover","labels":{"team":"red"}}}`), http.StatusCreated, "")
	label("blue")
	label("blue") // still not matching: nothing
	label("red")
	expect(t, s.do(t, http.MethodDelete, ns+"/mover", "", nil), http.StatusOK, "")
	expect(t, s.do(t, http.MethodDelete, ns+"/bystander", "", nil), http.StatusOK, "")
	want := []string{"ADDED mover", "DELETED mover", "ADDED mover", "DELETED mover"}
	if got := summary(collect(events, 4)); !slices.Equal(got, want) {
		t.Errorf("selector transitions: %v, want %v", got, want)
	}
}

func checkBadWatchParameters(t *testing.T, s *server) {
	const ns = "/api/v1/namespaces/default/configmaps?watch=true"
	for name, query := range map[string]string{
		"resourceVersion not a number": "&resourceVersion=abc",
		"timeoutSeconds not a number":  "&timeoutSeconds=soon",
		"sendInitialEvents alone":      "&sendInitialEvents=true",
		"sendInitialEvents not a bool": "&sendInitialEvents=maybe",
		"bad label selector":           "&labelSelector=a%20b",
		"unknown field selector":       "&fieldSelector=spec.x%3D1",
	} {
		t.Run(name, func(t *testing.T) { expect(t, s.get(t, ns+query), http.StatusBadRequest, "BadRequest") })
	}
}

// checkSlowWatcher opens one watch that never reads and one that does, then
// writes more than the slow one's buffer and its connection can hold.
func checkSlowWatcher(t *testing.T, s *server) {
	expect(t, s.post(t, "/api/v1/namespaces", `{"metadata":{"name":"flood"}}`), http.StatusCreated, "")
	const ns = "/api/v1/namespaces/flood/configmaps"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := str(s.get(t, ns).obj, "metadata", "resourceVersion")
	// The slow client: a raw request whose body nobody reads.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+ns+"?watch=true&resourceVersion="+now, nil)
	client := *s.client
	client.Timeout = 0
	slow, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Body.Close()
	healthy := s.watchStream(t, ctx, ns+"?watch=true&resourceVersion="+now)

	const writes = 1500
	payload := strings.Repeat("x", 16<<10) // 16 KiB a write: far more than socket buffers hold
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < writes; i += 4 {
				r := s.post(t, ns, fmt.Sprintf(`{"metadata":{"name":"f%d"},"data":{"x":%q}}`, i, payload))
				if r.code != http.StatusCreated {
					t.Errorf("write %d: HTTP %d", i, r.code)
					return
				}
			}
		}()
	}
	// The healthy watcher gets every event while the writes go on. 1500
	// durable writes of 16 KiB take a while on a busy machine: the deadline
	// is generous, since only a missing event is a failure here.
	got := collectWithin(healthy, writes, 2*time.Minute)
	wg.Wait()
	if len(got) != writes {
		t.Errorf("the healthy watcher got %d of %d events", len(got), writes)
	}
	// The slow one was cut off: reading it now ends before all events.
	dec := json.NewDecoder(slow.Body)
	n := 0
	for {
		var ev event
		if dec.Decode(&ev) != nil {
			break
		}
		n++
	}
	if n >= writes {
		t.Errorf("the slow watcher was never closed: it got all %d events", n)
	}
}
