package server

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // PRAGMA integrity_check on the killed server's file
)

// longMode tells whether the long versions of the reliability tests run
// (LONG=1): more crash cycles, more watchers, a soak of minutes.
func longMode() bool { return os.Getenv("LONG") == "1" }

// Crash consistency of the SQLite store. final runs as a process; writers
// create, update and delete configmaps while two watchers follow them, and
// the process is killed (SIGKILL) at a random moment, then started again on
// the same data directory, cycle after cycle. After every kill the database
// passes PRAGMA integrity_check, and after every restart:
//
//   - every acknowledged write is there with its value and resourceVersion,
//     and an acknowledged delete stays deleted. A write that was in flight
//     at the kill may or may not have happened: the test reads which, and
//     from then on holds the server to it;
//   - the revision never goes back: each writer's acknowledged
//     resourceVersions increase across restarts, and the store's revision is
//     at least the highest anyone saw;
//   - watchers that resume from the last resourceVersion they saw get, over
//     all cycles, each key's writes exactly once, in order, with the values
//     and resourceVersions the writers were told, and nothing else.
//
// SIGKILL ends the process, not the machine: what the kernel had accepted
// still reaches the disk. Power loss is what synchronous=FULL is for; this
// test shows that nothing acknowledged is held only in the process.
func TestCrashDuringWrites(t *testing.T) {
	cycles, writers, keysEach := 3, 6, 8
	if longMode() {
		cycles = 25
	}
	bin := buildFinal(t)
	dir := t.TempDir()
	c := &crashRun{t: t, bin: bin, dir: dir, watchers: []*crashWatcher{{}, {bookmarks: true}}}
	for w := range writers {
		c.writers = append(c.writers, &crashWriter{id: w})
		for i := range keysEach {
			c.writers[w].keys = append(c.writers[w].keys, &crashKey{name: fmt.Sprintf("k%d-%d", w, i)})
		}
	}

	ts, cmd := startProcess(t, bin, dir)
	expect(t, ts.do(t, "POST", "/api/v1/namespaces", "application/json", `{"metadata":{"name":"crash"}}`), 201, "")
	start := revisionOf(t, ts, crashPath)
	for _, w := range c.watchers {
		w.rv, _ = strconv.ParseInt(start, 10, 64)
	}
	for cycle := range cycles {
		if cycle > 0 {
			ts, cmd = startProcess(t, bin, dir)
			c.verifyRestart(ts)
		}
		c.runUntilKilled(ts, cmd, cycle)
		c.checkIntegrity()
	}

	// A last start: verify, then one more write that the watchers must reach,
	// and compare what they saw with what the writers were told.
	ts, _ = startProcess(t, bin, dir)
	c.verifyRestart(ts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var watching sync.WaitGroup
	for _, w := range c.watchers {
		watching.Go(func() { c.watch(ctx, ts, w) })
	}
	end := ts.do(t, "POST", crashPath, "application/json", `{"metadata":{"name":"the-end"}}`)
	expect(t, end, 201, "")
	endRV, _ := strconv.ParseInt(field(end.obj, "metadata", "resourceVersion").(string), 10, 64)
	for deadline := time.Now().Add(20 * time.Second); !c.caughtUp(endRV); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the watchers did not see revision %d within 20 s", endRV)
		}
	}
	cancel()
	watching.Wait()
	events := c.compareWatches()
	t.Logf("%d crash cycles: %d writes acknowledged and checked, %d in flight at a kill (%d of them had happened), %d watch events checked, 0 lost",
		cycles, c.acked.Load(), c.doubts, c.landedDoubts, events)
}

const crashPath = "/api/v1/namespaces/crash/configmaps"

// crashRun is the state of TestCrashDuringWrites across restarts.
type crashRun struct {
	t        *testing.T
	bin, dir string
	writers  []*crashWriter
	watchers []*crashWatcher

	mu      sync.Mutex
	highest int64 // the highest resourceVersion a writer or watcher has seen

	acked                atomic.Int64
	doubts, landedDoubts int
}

// crashWrite is one write a client sent.
type crashWrite struct {
	op    string // create, update or delete
	value string // data.v: the value written, or for a delete the value deleted
	rv    int64  // its revision; 0 for a delete in doubt that turned out to have happened
}

// eventType is the watch event a write makes.
func (w crashWrite) eventType() string {
	return map[string]string{"create": "ADDED", "update": "MODIFIED", "delete": "DELETED"}[w.op]
}

// crashKey is what the clients know of one configmap: the writes that
// happened, in order, and the one in doubt, if any.
type crashKey struct {
	name   string
	landed []crashWrite
	doubt  *crashWrite
}

// state is the key as its last write left it.
func (k *crashKey) state() (exists bool, value string, rv int64) {
	if len(k.landed) == 0 {
		return false, "", 0
	}
	last := k.landed[len(k.landed)-1]
	return last.op != "delete", last.value, last.rv
}

// crashWriter writes its own keys, one write at a time: no other writer
// touches them, so the order of its writes is the order they happened in.
type crashWriter struct {
	id     int
	keys   []*crashKey
	lastRV int64 // of its last acknowledged write, across restarts
}

// runUntilKilled writes and watches until a random moment, then kills the
// server and waits until every client has noticed.
func (c *crashRun) runUntilKilled(ts *testServer, cmd *exec.Cmd, cycle int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var clients sync.WaitGroup
	for _, w := range c.watchers {
		clients.Go(func() { c.watch(ctx, ts, w) })
	}
	for _, w := range c.writers {
		clients.Go(func() { c.write(ts, w, cycle) })
	}
	time.Sleep(time.Duration(50+rand.IntN(450)) * time.Millisecond)
	_ = cmd.Process.Kill() // SIGKILL: no shutdown, no last commit
	_, _ = cmd.Process.Wait()
	clients.Wait()
}

// write creates, updates (with its resourceVersion as a precondition) and
// deletes (likewise) until the server is gone. The write the server did
// not answer stays in doubt.
func (c *crashRun) write(ts *testServer, w *crashWriter, cycle int) {
	for i := 0; ; i++ {
		k := w.keys[rand.IntN(len(w.keys))]
		exists, value, rv := k.state()
		write := crashWrite{op: "create", value: fmt.Sprintf("%d.%d.%d", w.id, cycle, i)}
		method, path, want := "POST", crashPath, 201
		body := fmt.Sprintf(`{"metadata":{"name":%q},"data":{"v":%q}}`, k.name, write.value)
		switch {
		case exists && rand.IntN(4) == 0:
			write = crashWrite{op: "delete", value: value}
			method, path, want = "DELETE", crashPath+"/"+k.name, 200
			body = fmt.Sprintf(`{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"resourceVersion":"%d"}}`, rv)
		case exists:
			write.op = "update"
			method, path, want = "PUT", crashPath+"/"+k.name, 200
			body = fmt.Sprintf(`{"metadata":{"name":%q,"resourceVersion":"%d"},"data":{"v":%q}}`, k.name, rv, write.value)
		}
		r, err := ts.try(method, path, body)
		if err != nil { // killed: it may or may not have happened
			k.doubt = &write
			return
		}
		if r.code != want {
			c.t.Errorf("%s %s: %d %s", method, path, r.code, r.raw)
			return
		}
		write.rv = resourceVersionOf(c.t, r.obj)
		if got := field(r.obj, "data", "v"); got != write.value {
			c.t.Errorf("%s %s answered data.v %v, want %s", method, path, got, write.value)
		}
		if write.rv <= w.lastRV {
			c.t.Errorf("writer %d: resourceVersion %d acknowledged after %d", w.id, write.rv, w.lastRV)
		}
		w.lastRV = write.rv
		k.landed = append(k.landed, write)
		c.acked.Add(1)
		c.saw(write.rv)
	}
}

func resourceVersionOf(t *testing.T, obj map[string]any) int64 {
	s, _ := field(obj, "metadata", "resourceVersion").(string)
	rv, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Errorf("resourceVersion %q: %v", s, err)
	}
	return rv
}

func (c *crashRun) saw(rv int64) {
	c.mu.Lock()
	c.highest = max(c.highest, rv)
	c.mu.Unlock()
}

// checkIntegrity opens the killed server's database read-only, with the
// driver the server uses, and runs SQLite's own consistency check.
func (c *crashRun) checkIntegrity() {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(c.dir, "state.db")+"?mode=ro")
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`PRAGMA integrity_check`)
	if err != nil {
		c.t.Fatalf("integrity_check: %v", err)
	}
	defer rows.Close()
	var report []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			c.t.Fatal(err)
		}
		report = append(report, line)
	}
	if err := rows.Err(); err != nil || len(report) != 1 || report[0] != "ok" {
		c.t.Fatalf("integrity_check after SIGKILL: %v %q", err, report)
	}
}

// verifyRestart reads every key after a restart: writes in doubt are
// settled (they happened or not), and then each key must be as its last
// write left it.
func (c *crashRun) verifyRestart(ts *testServer) {
	list := ts.do(c.t, "GET", crashPath, "", "")
	expect(c.t, list, 200, "")
	type stored struct {
		value string
		rv    int64
	}
	found := map[string]stored{}
	items, _ := list.obj["items"].([]any)
	for _, item := range items {
		obj, _ := item.(map[string]any)
		v, _ := field(obj, "data", "v").(string)
		found[field(obj, "metadata", "name").(string)] = stored{v, resourceVersionOf(c.t, obj)}
	}
	c.mu.Lock()
	highest := c.highest
	c.mu.Unlock()
	if rev := resourceVersionOf(c.t, list.obj); rev < highest {
		c.t.Errorf("after the restart the revision is %d, below %d seen before", rev, highest)
	}
	for _, w := range c.writers {
		for _, k := range w.keys {
			got, present := found[k.name]
			if _, _, rv := k.state(); k.doubt != nil {
				d := k.doubt
				k.doubt = nil
				c.doubts++
				happened := false
				switch {
				case d.op == "delete":
					happened = !present
				default:
					happened = present && got.value == d.value && got.rv > rv
					d.rv = got.rv
				}
				if happened {
					c.landedDoubts++
					k.landed = append(k.landed, *d)
					w.lastRV = max(w.lastRV, d.rv)
				}
			}
			exists, value, rv := k.state()
			switch {
			case exists != present:
				c.t.Errorf("%s: present %v after the restart, want %v (writes %+v)", k.name, present, exists, k.landed)
			case exists && (got.value != value || got.rv != rv):
				c.t.Errorf("%s: %s at %d after the restart, want %s at %d (writes %+v)", k.name, got.value, got.rv, value, rv, k.landed)
			}
		}
	}
}

// crashWatcher follows the test's namespace across restarts, each time
// from the last resourceVersion it saw.
type crashWatcher struct {
	bookmarks bool
	rv        int64
	events    []crashEvent
}

// watchEvent is one line of a watch stream.
type watchEvent struct {
	Type   string         `json:"type"`
	Object map[string]any `json:"object"`
}

type crashEvent struct {
	typ, name, value string
	rv               int64
}

// watch reads events until the stream ends (the server was killed) or ctx
// does. Each event must come after the last one seen.
func (c *crashRun) watch(ctx context.Context, ts *testServer, w *crashWatcher) {
	c.mu.Lock()
	path := fmt.Sprintf("%s?watch=true&resourceVersion=%d", crashPath, w.rv)
	c.mu.Unlock()
	if w.bookmarks {
		path += "&allowWatchBookmarks=true"
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+path, nil)
	resp, err := (&http.Client{Transport: ts.client.Transport}).Do(req) // no timeout: a watch lasts
	if err != nil {
		return // killed before the watch started
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		raw, _ := io.ReadAll(resp.Body)
		c.t.Errorf("watch from %d: %d %s", w.rv, resp.StatusCode, raw)
		return
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var ev watchEvent
		if json.Unmarshal(lines.Bytes(), &ev) != nil {
			return // cut by the kill; the event comes again after the restart
		}
		if ev.Type == "ERROR" {
			c.t.Errorf("watch from %d: %s", w.rv, lines.Text())
			return
		}
		rv := resourceVersionOf(c.t, ev.Object)
		c.mu.Lock()
		if rv <= w.rv && ev.Type != "BOOKMARK" {
			c.t.Errorf("watch event at %d after %d: %s", rv, w.rv, lines.Text())
		}
		w.rv = max(w.rv, rv)
		if name, _ := field(ev.Object, "metadata", "name").(string); strings.HasPrefix(name, "k") && ev.Type != "BOOKMARK" {
			value, _ := field(ev.Object, "data", "v").(string)
			w.events = append(w.events, crashEvent{ev.Type, name, value, rv})
		}
		c.mu.Unlock()
		c.saw(rv)
	}
}

func (c *crashRun) caughtUp(rv int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.watchers {
		if w.rv < rv {
			return false
		}
	}
	return true
}

// compareWatches checks that each watcher saw each key's writes, the
// acknowledged ones and those in doubt that happened, once each and in
// order, and nothing else. It returns how many events it checked.
func (c *crashRun) compareWatches() int {
	checked := 0
	for i, w := range c.watchers {
		byKey := map[string][]crashEvent{}
		for _, ev := range w.events {
			byKey[ev.name] = append(byKey[ev.name], ev)
		}
		for _, wr := range c.writers {
			for _, k := range wr.keys {
				seen := byKey[k.name]
				if len(seen) != len(k.landed) {
					c.t.Errorf("watcher %d: %s: %d events %+v, want the %d writes %+v", i, k.name, len(seen), seen, len(k.landed), k.landed)
					continue
				}
				for j, write := range k.landed {
					ev := seen[j]
					if ev.typ != write.eventType() || ev.value != write.value || write.rv != 0 && ev.rv != write.rv {
						c.t.Errorf("watcher %d: %s: event %d is %+v, want the write %+v", i, k.name, j, ev, write)
					}
					checked++
				}
			}
		}
	}
	return checked
}

// finalBinary is the final binary, built once for the tests that run it as
// a process; TestMain removes it.
var finalBinary struct {
	once     sync.Once
	dir, bin string
	err      error
}

func buildFinal(t *testing.T) string {
	t.Helper()
	finalBinary.once.Do(func() {
		if finalBinary.dir, finalBinary.err = os.MkdirTemp("", "final-bin"); finalBinary.err != nil {
			return
		}
		finalBinary.bin = filepath.Join(finalBinary.dir, "final")
		build := exec.Command("go", "build", "-o", finalBinary.bin, ".")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			finalBinary.err = fmt.Errorf("building final: %w\n%s", err, out)
		}
	})
	if finalBinary.err != nil {
		t.Fatal(finalBinary.err)
	}
	return finalBinary.bin
}

// removeFinalBinary removes what buildFinal built, if anything.
func removeFinalBinary() {
	if finalBinary.dir != "" {
		os.RemoveAll(finalBinary.dir)
	}
}

// startProcess runs the final binary on a data directory, with more flags
// if given, and waits until it serves.
func startProcess(t *testing.T, bin, dir string, flags ...string) (*testServer, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--secure-port=0", "--data-dir=" + dir}, flags...)...)
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
