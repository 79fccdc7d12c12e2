package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Ten times more clients than --max-requests-inflight and
// --max-mutating-requests-inflight allow: the excess gets 429 with
// Retry-After and changes nothing, what is admitted is served correctly,
// the server's memory stays bounded, and once the load stops every slot is
// free again.
func TestOverloadInflight(t *testing.T) {
	const maxReads, maxWrites = 5, 5
	rounds := 10
	if longMode() {
		rounds = 100
	}
	ts, cmd := startProcess(t, buildFinal(t), t.TempDir(),
		fmt.Sprintf("--max-requests-inflight=%d", maxReads), fmt.Sprintf("--max-mutating-requests-inflight=%d", maxWrites))
	const cms = "/api/v1/namespaces/default/configmaps"
	// Big objects, so that a read holds its slot for a while: reads would
	// otherwise be over too soon to meet. A get reads one of 1 MiB, a list
	// four, each decoded to test the selector and written out again.
	pad := strings.Repeat("p", 1<<20)
	expect(t, ts.do(t, "POST", cms, "application/json", `{"metadata":{"name":"probe"},"data":{"k":"v","pad":"`+pad+`"}}`), 201, "")
	for i := range 3 {
		expect(t, ts.do(t, "POST", cms, "application/json", fmt.Sprintf(`{"metadata":{"name":"ballast-%d"},"data":{"pad":"%s"}}`, i, pad)), 201, "")
	}

	// Every client has a connection of its own, as separate clients would.
	transport := ts.client.Transport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 10 * (maxReads + maxWrites)
	client := &http.Client{Timeout: time.Minute, Transport: transport}
	send := func(method, path, body string) (*http.Response, map[string]any, error) {
		req, _ := http.NewRequest(method, ts.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		var obj map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&obj); err != nil {
			return nil, nil, fmt.Errorf("%s %s: %d and a body that is not JSON: %w", method, path, resp.StatusCode, err)
		}
		return resp, obj, nil
	}
	var rejectedReads, rejectedWrites, created atomic.Int64
	var mu sync.Mutex
	var createdNames, rejectedNames []string
	tooMany := func(resp *http.Response, obj map[string]any) bool {
		if resp.StatusCode != 429 {
			return false
		}
		if resp.Header.Get("Retry-After") != "1" || obj["reason"] != "TooManyRequests" || field(obj, "details", "retryAfterSeconds") != float64(1) {
			t.Errorf("429 with Retry-After %q: %v", resp.Header.Get("Retry-After"), obj)
		}
		return true
	}

	peak := make(chan int64)
	sampling, stopSampling := context.WithCancel(context.Background())
	go func() { peak <- sampleRSS(sampling, cmd.Process.Pid) }()
	var clients sync.WaitGroup
	for c := range 10 * maxReads {
		clients.Go(func() {
			for range rounds {
				// A get of the probe, or a list that has every create
				// acknowledged before it began.
				path, before := cms+"/probe", created.Load()
				if c%2 == 1 {
					// A selector makes the server decode every item to
					// test it: a list that takes a while to serve.
					path = cms + "?labelSelector=probe%21%3Dnone"
				}
				resp, obj, err := send("GET", path, "")
				items, _ := obj["items"].([]any)
				switch {
				case err != nil:
					t.Error(err)
					return
				case tooMany(resp, obj):
					rejectedReads.Add(1)
				case resp.StatusCode != 200,
					c%2 == 0 && field(obj, "data", "k") != "v",
					c%2 == 1 && int64(len(items)) < before+1:
					t.Errorf("GET %s under load, after %d creates: %d, %d items, data.k %v, %v", path, before, resp.StatusCode, len(items), field(obj, "data", "k"), obj["message"])
				}
			}
		})
	}
	for c := range 10 * maxWrites {
		clients.Go(func() {
			for i := range rounds {
				name := fmt.Sprintf("load-%d-%d", c, i)
				resp, obj, err := send("POST", cms, `{"metadata":{"name":"`+name+`"},"data":{"k":"`+name+`"}}`)
				switch {
				case err != nil:
					t.Error(err)
					return
				case tooMany(resp, obj):
					rejectedWrites.Add(1)
					mu.Lock()
					rejectedNames = append(rejectedNames, name)
					mu.Unlock()
				case resp.StatusCode != 201 || field(obj, "data", "k") != name:
					t.Errorf("create under load: %d %v", resp.StatusCode, obj)
				default:
					created.Add(1)
					mu.Lock()
					createdNames = append(createdNames, name)
					mu.Unlock()
				}
			}
		})
	}
	clients.Wait()
	stopSampling()
	rss := <-peak
	reads, writes := int64(10*maxReads*rounds), int64(10*maxWrites*rounds)
	t.Logf("%d reads, %d rejected with 429; %d creates, %d rejected; peak VmRSS %d MiB",
		reads, rejectedReads.Load(), writes, rejectedWrites.Load(), rss>>20)
	if rejectedReads.Load() == 0 || rejectedWrites.Load() == 0 {
		t.Errorf("no 429 at ten times the limits: %d reads and %d writes rejected", rejectedReads.Load(), rejectedWrites.Load())
	}
	// A sanity bound, far above what a few hundred small requests need: a
	// server that queued the excess instead of refusing it would pass it.
	if rss > 512<<20 {
		t.Errorf("VmRSS reached %d MiB under load", rss>>20)
	}

	// The load is over: every slot is free, at once.
	var after sync.WaitGroup
	for i := range maxReads {
		after.Go(func() { expect(t, ts.do(t, "GET", cms+"/probe", "", ""), 200, "") })
		if i < maxWrites {
			after.Go(func() {
				expect(t, ts.do(t, "POST", cms, "application/json", fmt.Sprintf(`{"metadata":{"name":"after-%d"}}`, i)), 201, "")
			})
		}
	}
	after.Wait()
	// Admitted creates are there with their data; refused ones are not.
	list := ts.do(t, "GET", cms, "", "")
	stored := map[string]any{}
	items, _ := list.obj["items"].([]any)
	for _, item := range items {
		stored[field(item, "metadata", "name").(string)] = field(item, "data", "k")
	}
	for _, name := range createdNames {
		if stored[name] != name {
			t.Errorf("%s was acknowledged; stored: %v", name, stored[name])
		}
	}
	for _, name := range rejectedNames {
		if _, ok := stored[name]; ok {
			t.Errorf("%s was refused with 429, and created", name)
		}
	}
}

// sampleRSS reads a process's VmRSS every 20 ms until ctx ends, and returns
// the highest, in bytes.
func sampleRSS(ctx context.Context, pid int) int64 {
	var peak int64
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	for {
		peak = max(peak, vmRSS(pid))
		select {
		case <-ctx.Done():
			return peak
		case <-ticker.C:
		}
	}
}

// vmRSS is a process's resident memory, from /proc/<pid>/status.
func vmRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	m := regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		return 0
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// Many watchers and one that never reads, whose connection's buffers fill
// up: the writers and the other watchers go on as if it were not there
// (each watcher gets every event, in order), and the server closes the
// stuck one instead of queueing for it without end.
func TestWatchersAndOneThatNeverReads(t *testing.T) {
	watchers := 100
	if longMode() {
		watchers = 1000
	}
	ts := startServer(t)
	const cms = "/api/v1/namespaces/default/configmaps"
	expect(t, ts.do(t, "POST", cms, "application/json", `{"metadata":{"name":"changing"},"data":{"n":"0"}}`), 201, "")
	from := revisionOf(t, ts, cms)
	watchPath := cms + "?watch=true&resourceVersion=" + from

	stuck := dialStuckWatcher(t, ts, watchPath)
	defer stuck.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	transport := ts.client.Transport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = watchers
	client := &http.Client{Transport: transport}
	type result struct {
		events int
		last   string
		err    error
	}
	results := make(chan result, watchers)
	var ready sync.WaitGroup
	for range watchers {
		ready.Add(1)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+watchPath, nil)
			resp, err := client.Do(req)
			ready.Done()
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			var r result
			prev := int64(0)
			lines := bufio.NewScanner(resp.Body)
			for lines.Scan() {
				var ev struct { // only what is checked: every watcher decodes every event
					Type   string
					Object struct {
						Metadata struct{ Name, ResourceVersion string }
					}
				}
				if err := json.Unmarshal(lines.Bytes(), &ev); err != nil || ev.Type != "MODIFIED" && ev.Type != "ADDED" {
					r.err = fmt.Errorf("event %q: %v", lines.Text(), err)
					break
				}
				rv, _ := strconv.ParseInt(ev.Object.Metadata.ResourceVersion, 10, 64)
				if rv <= prev {
					r.err = fmt.Errorf("event at %d after %d", rv, prev)
					break
				}
				prev, r.last = rv, ev.Object.Metadata.Name
				r.events++
				if r.last == "the-end" {
					break
				}
			}
			if r.err == nil && r.last != "the-end" {
				r.err = fmt.Errorf("the watch ended after %d events: %v", r.events, lines.Err())
			}
			results <- r
		}()
	}
	ready.Wait()
	for deadline := time.Now().Add(time.Minute); watchCount(t, ts) < watchers+1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d watches open, want %d", watchCount(t, ts), watchers+1)
		}
	}

	// Writes, until the server has closed the stuck watch (with a bound, so
	// that a server that never does fails the test rather than hangs).
	value := strings.Repeat("x", 512)
	writes := 0
	for watchCount(t, ts) > watchers {
		if writes >= 20000 {
			t.Fatalf("%d writes, and the watcher that does not read is still open", writes)
		}
		var batch sync.WaitGroup
		for range 8 {
			writes++
			body := fmt.Sprintf(`{"metadata":{"name":"changing"},"data":{"n":"%d","v":"%s"}}`, writes, value)
			batch.Go(func() {
				r := ts.do(t, "PUT", cms+"/changing", "application/json", body)
				if r.code != 200 {
					t.Errorf("update: %d %s", r.code, r.raw)
				}
			})
		}
		batch.Wait()
	}
	expect(t, ts.do(t, "POST", cms, "application/json", `{"metadata":{"name":"the-end"}}`), 201, "")
	want := writes + 1
	for range watchers {
		r := <-results
		if r.err != nil || r.events != want {
			t.Fatalf("a watcher got %d of %d events: %v", r.events, want, r.err)
		}
	}
	// The stuck connection was closed by the server: reading it now
	// drains what its buffers held, then ends, without the last events.
	_ = stuck.SetReadDeadline(time.Now().Add(time.Minute))
	held, err := io.ReadAll(stuck)
	var timeout net.Error
	if errors.As(err, &timeout) && timeout.Timeout() {
		t.Fatalf("the stuck watcher's connection is still open after %d bytes", len(held))
	}
	if strings.Contains(string(held), `"the-end"`) {
		t.Error("the stuck watcher got every event")
	}
	t.Logf("%d watchers got all %d events; the one that did not read was closed, its buffers held %d KiB", watchers, want, len(held)>>10)
}

// watchCount is how many watches of configmaps are open, from /metrics.
func watchCount(t *testing.T, ts *testServer) int {
	t.Helper()
	metrics := ts.do(t, "GET", "/metrics", "", "")
	m := regexp.MustCompile(`(?m)^apiserver_longrunning_requests\{[^}]*resource="configmaps"[^}]*verb="WATCH"[^}]*\} (\d+)`).FindStringSubmatch(metrics.raw)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// dialStuckWatcher opens a watch on a raw TLS connection with small
// buffers, reads its response header, and then nothing more: the server's
// writes to it soon block.
func dialStuckWatcher(t *testing.T, ts *testServer, path string) *tls.Conn {
	t.Helper()
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		_ = c.Control(func(fd uintptr) { // small segments and a small window
			err = errors.Join(syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096),
				syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1024))
		})
		return err
	}}
	config := ts.client.Transport.(*http.Transport).TLSClientConfig.Clone()
	config.NextProtos = []string{"http/1.1"}
	host := strings.TrimPrefix(ts.url, "https://")
	conn, err := tls.DialWithDialer(&dialer, "tcp", host, config)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host)
	head := bufio.NewReaderSize(conn, 16)
	status, err := head.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("the stuck watch: %q %v", status, err)
	}
	for { // the header, byte by byte: nothing of the body is read
		line, err := head.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	if head.Buffered() > 0 { // the first event came with the header: it is not read either
		t.Logf("%d bytes of the body came with the header", head.Buffered())
	}
	return conn
}
