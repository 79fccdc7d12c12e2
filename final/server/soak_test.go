package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A mixed workload on an in-process server: creates, updates, deletes,
// lists, and watches that come and go (some end by their timeoutSeconds,
// some are dropped by their client mid-stream). When it is over and its
// clients are gone, the server holds no more goroutines, open files or
// heap than before, within stated bounds; when it stops, it stops cleanly
// and leaves no goroutine behind.
func TestSoak(t *testing.T) {
	duration := 5 * time.Second
	if longMode() {
		duration = 5 * time.Minute
	}
	beforeServer := settledGoroutines(0)
	ts := startServer(t)
	transport := ts.client.Transport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 16
	w := &soakWorkload{t: t, ts: ts, transport: transport, client: &http.Client{Timeout: time.Minute, Transport: transport}}
	// The same workload twice: a short run warms up what lives as long as
	// the server (the controllers, which start once this replica holds the
	// lease, a watch cache per resource the workload touches, SQLite's pool
	// of connections), then the baseline, then the run that is measured.
	w.run(time.Second)
	goroutines, files, heap := settledGoroutines(0), openFiles(t), heapInUse()
	w.ops.Store(0)
	middleHeap, middleFiles := w.run(duration)

	// Bounds: a few goroutines of the server's own that may start during
	// the run (a timer, a controller's connection); the files of SQLite's
	// pool, which keeps up to 16 idle connections of two files each,
	// opened as the load needs them; and the watch cache's window of
	// recent changes (75 s of them) on the heap.
	afterGoroutines := settledGoroutines(goroutines + 5)
	afterFiles, afterHeap := openFiles(t), heapInUse()
	t.Logf("%v, %d requests: goroutines %d -> %d, open files %d -> %d (%d half-way), heap in use %d -> %d MiB (%d half-way)",
		duration, w.ops.Load(), goroutines, afterGoroutines, files, afterFiles, middleFiles, heap>>20, afterHeap>>20, middleHeap>>20)
	if afterGoroutines > goroutines+5 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after the workload, %d before:\n%s", afterGoroutines, goroutines, buf[:runtime.Stack(buf, true)])
	}
	if afterFiles > files+40 {
		t.Errorf("%d open files after the workload, %d before", afterFiles, files)
	}
	if afterHeap > heap+256<<20 {
		t.Errorf("heap in use %d MiB after the workload, %d MiB before", afterHeap>>20, heap>>20)
	}
	if longMode() && middleHeap > 0 && afterHeap > middleHeap+64<<20 {
		t.Errorf("heap in use grew from %d MiB half-way to %d MiB at the end", middleHeap>>20, afterHeap>>20)
	}
	if longMode() && middleFiles > 0 && afterFiles > middleFiles+5 {
		t.Errorf("open files grew from %d half-way (clients' connections included) to %d at the end", middleFiles, afterFiles)
	}
	expect(t, ts.do(t, "GET", "/readyz", "", ""), 200, "")

	ts.stop() // fails the test if Run returns an error
	if left := settledGoroutines(beforeServer + 2); left > beforeServer+2 {
		t.Errorf("%d goroutines after the server stopped, %d before it started", left, beforeServer)
	}
}

// soakWorkload is TestSoak's clients.
type soakWorkload struct {
	t         *testing.T
	ts        *testServer
	transport *http.Transport
	client    *http.Client
	ops       atomic.Int64
}

const soakPath = "/api/v1/namespaces/default/configmaps"

// run runs the workload for a while, and returns the heap in use and the
// open files half-way. Its clients are gone when it returns.
func (w *soakWorkload) run(duration time.Duration) (middleHeap uint64, middleFiles int) {
	t := w.t
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var clients sync.WaitGroup
	clients.Go(func() {
		select {
		case <-time.After(duration / 2):
			middleHeap, middleFiles = heapInUse(), openFiles(t)
		case <-ctx.Done():
		}
	})
	for writer := range 4 { // writers, each with keys of its own
		clients.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("soak-%d-%d", writer, rand.IntN(50))
				body := fmt.Sprintf(`{"metadata":{"name":%q},"data":{"i":"%d","pad":%q}}`, name, i, strings.Repeat("p", rand.IntN(2048)))
				var code int
				var err error
				switch rand.IntN(3) {
				case 0:
					code, err = w.send("POST", soakPath, body)
				case 1:
					code, err = w.send("PUT", soakPath+"/"+name, body)
				default:
					code, err = w.send("DELETE", soakPath+"/"+name, "")
				}
				if err != nil || code != 200 && code != 201 && code != 404 && code != 409 {
					t.Errorf("a write: %d %v", code, err)
					return
				}
				w.ops.Add(1)
			}
		})
	}
	for range 2 { // listers: from the storage, and from the watch cache
		clients.Go(func() {
			for ctx.Err() == nil {
				path := soakPath
				if rand.IntN(2) == 0 {
					path += "?resourceVersion=0"
				}
				if code, err := w.send("GET", path, ""); code != 200 || err != nil {
					t.Errorf("a list: %d %v", code, err)
					return
				}
				w.ops.Add(1)
			}
		})
	}
	for range 4 { // watchers that come and go
		clients.Go(func() {
			for ctx.Err() == nil {
				if err := soakWatch(ctx, w.ts, w.transport, soakPath); err != nil {
					t.Error(err)
					return
				}
				w.ops.Add(1)
			}
		})
	}
	clients.Wait()
	w.transport.CloseIdleConnections()
	return middleHeap, middleFiles
}

func (w *soakWorkload) send(method, path, body string) (int, error) {
	req, _ := http.NewRequest(method, w.ts.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// soakWatch watches for a while: until its timeoutSeconds (the server ends
// it), or until the client walks away mid-stream.
func soakWatch(ctx context.Context, ts *testServer, transport *http.Transport, path string) error {
	path += "?watch=true&allowWatchBookmarks=true"
	clientEnds := rand.IntN(2) == 0
	if !clientEnds {
		path += "&timeoutSeconds=1"
	}
	wctx, cancel := context.WithCancel(ctx)
	if clientEnds {
		wctx, cancel = context.WithTimeout(ctx, time.Duration(100+rand.IntN(900))*time.Millisecond)
	}
	defer cancel()
	req, _ := http.NewRequestWithContext(wctx, "GET", ts.url+path, nil)
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		if wctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("a watch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("a watch: %d", resp.StatusCode)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		if strings.Contains(lines.Text(), `"type":"ERROR"`) {
			return fmt.Errorf("a watch: %s", lines.Text())
		}
	}
	if err := lines.Err(); err != nil && wctx.Err() == nil {
		return fmt.Errorf("a watch ended: %w", err)
	}
	return nil
}

// settledGoroutines waits up to 10 s for the number of goroutines to come
// down to at most want (0: until it has not changed for half a second), and
// returns it.
func settledGoroutines(want int) int {
	n, same := runtime.NumGoroutine(), 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			same++
		} else {
			same = 0
		}
		if want > 0 && m <= want || want == 0 && same == 5 {
			return m
		}
		n = m
	}
	return n
}

// openFiles counts this process's file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// heapInUse is the heap in use after a garbage collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
