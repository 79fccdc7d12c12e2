package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/storagetest"
)

// etcd stops in the middle of a load and starts again, same data, same
// port, while final keeps running. During the outage requests end with a
// 504 Timeout within --request-timeout (kube-apiserver answers the same:
// its timeout filter's 504) and /readyz fails its etcd check; afterwards
// service comes back without restarting final; no acknowledged write is
// lost; and a watcher that lists and watches as an informer does (resume
// from its last resourceVersion when a watch ends, list again on 410 Gone)
// ends up with exactly the server's state.
func TestEtcdFaultsUnderLoad(t *testing.T) {
	storagetest.RequireEtcd(t, etcdEndpoint)
	e, err := storagetest.NewEtcd()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Remove()
	const requestTimeout = 3 * time.Second // longer than /readyz's 2 s for its etcd check
	ts := startServer(t, "--etcd-servers="+e.URL, "--request-timeout="+requestTimeout.String())
	const cms = "/api/v1/namespaces/default/configmaps"
	// A request that does not end within the request timeout and a margin
	// hangs: the client gives up, and the test fails.
	client := &http.Client{Timeout: requestTimeout + 15*time.Second, Transport: ts.client.Transport}
	send := func(method, path, body string) (response, error) {
		req, _ := http.NewRequest(method, ts.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return response{}, err
		}
		defer resp.Body.Close()
		r := response{code: resp.StatusCode}
		err = json.NewDecoder(resp.Body).Decode(&r.obj)
		return r, err
	}

	watchCtx, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()
	inf := &etcdInformer{}
	var watching sync.WaitGroup
	watching.Go(func() { inf.run(watchCtx, t, ts, cms) })
	ctx, stop := context.WithCancel(context.Background()) // the writers'
	defer stop()

	var timeouts, broken, acked atomic.Int64
	model := make([]map[string]etcdKey, 4) // each writer's keys, as it knows them
	var writing sync.WaitGroup
	for w := range model {
		model[w] = map[string]etcdKey{}
		writing.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("e%d-%d", w, i%10)
				k, exists := model[w][name]
				value := fmt.Sprintf("%d.%d", w, i)
				method, path, want := "POST", cms, 201
				body := fmt.Sprintf(`{"metadata":{"name":%q},"data":{"v":%q}}`, name, value)
				if exists {
					method, path, want = "PUT", cms+"/"+name, 200
					body = fmt.Sprintf(`{"metadata":{"name":%q,"resourceVersion":%q},"data":{"v":%q}}`, name, k.rv, value)
				}
				r, err := send(method, path, body)
				switch {
				case err != nil:
					t.Errorf("%s %s: %v", method, path, err) // it hung, or the server closed the connection
					return
				case r.code == want:
					model[w][name] = etcdKey{value, field(r.obj, "metadata", "resourceVersion").(string)}
					acked.Add(1)
					continue
				case r.code == 504 && r.obj["reason"] == "Timeout":
					timeouts.Add(1)
				case r.code == 500 && r.obj["reason"] == "InternalError":
					// etcd went away with the request in flight: its
					// connection broke (Kubernetes answers 500 then too).
					broken.Add(1)
				default:
					t.Errorf("%s %s without etcd: %d %v", method, path, r.code, r.obj)
					return
				}
				// The write may have happened, or not. Read the key, when
				// etcd answers again, to know which.
				for ctx.Err() == nil {
					r, err := send("GET", cms+"/"+name, "")
					if err != nil {
						t.Errorf("GET %s: %v", name, err)
						return
					}
					if r.code == 504 {
						timeouts.Add(1)
						time.Sleep(50 * time.Millisecond)
						continue
					}
					switch got, _ := field(r.obj, "data", "v").(string); {
					case r.code == 200 && got == value:
						model[w][name] = etcdKey{value, field(r.obj, "metadata", "resourceVersion").(string)}
					case r.code == 200 && exists && got == k.value && field(r.obj, "metadata", "resourceVersion") == k.rv,
						r.code == 404 && !exists:
						// it did not happen
					default:
						t.Errorf("after a 504 on %s = %s: %d %v, last acknowledged %+v", name, value, r.code, r.obj, k)
						return
					}
					break
				}
			}
		})
	}

	time.Sleep(time.Second) // load with etcd
	e.Stop()
	var ready response
	for deadline := time.Now().Add(requestTimeout + 10*time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ready = ts.do(t, "GET", "/readyz?verbose", "", ""); ready.code != 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz passes without etcd")
		}
	}
	if ready.code != 500 || !strings.Contains(ready.raw, "[-]etcd failed") {
		t.Errorf("/readyz without etcd: %d %s", ready.code, ready.raw)
	}
	time.Sleep(requestTimeout + time.Second) // load without etcd: requests time out
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ts.do(t, "GET", "/readyz", "", "").code != 200; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not ready 30 s after etcd came back")
		}
	}
	before := acked.Load()
	for deadline := time.Now().Add(30 * time.Second); acked.Load() < before+50; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes acknowledged in 30 s after etcd came back", acked.Load()-before)
		}
	}
	stop()
	writing.Wait()

	// Every acknowledged write, and those that turned out to have happened
	// after a 504, is there; the informer has the same.
	list := ts.do(t, "GET", cms, "", "")
	expect(t, list, 200, "")
	stored := map[string]etcdKey{}
	items, _ := list.obj["items"].([]any)
	for _, item := range items {
		name := field(item, "metadata", "name").(string)
		if strings.HasPrefix(name, "e") {
			v, _ := field(item, "data", "v").(string)
			stored[name] = etcdKey{v, field(item, "metadata", "resourceVersion").(string)}
		}
	}
	keys := 0
	for w := range model {
		for name, k := range model[w] {
			keys++
			if stored[name] != k {
				t.Errorf("%s: acknowledged %+v, stored %+v", name, k, stored[name])
			}
		}
	}
	if len(stored) != keys {
		t.Errorf("%d keys stored, the writers know of %d", len(stored), keys)
	}
	// The informer converges on the server's state (its last events may
	// still be on their way).
	converged := func() (diff []string) {
		inf.mu.Lock()
		defer inf.mu.Unlock()
		for name, k := range stored {
			if inf.items[name] != k {
				diff = append(diff, fmt.Sprintf("%s: the informer has %+v, the server %+v", name, inf.items[name], k))
			}
		}
		for name, k := range inf.items {
			if _, ok := stored[name]; !ok && strings.HasPrefix(name, "e") {
				diff = append(diff, fmt.Sprintf("the informer has %s %+v, the server does not", name, k))
			}
		}
		return diff
	}
	for deadline := time.Now().Add(20 * time.Second); len(converged()) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the informer (%d lists, %d watches, %d events, %d 410) differs from the server:\n%s", inf.lists, inf.watches, inf.events, inf.gone, strings.Join(converged(), "\n"))
		}
	}
	inf.mu.Lock()
	t.Logf("%d writes acknowledged, none lost; while etcd was away %d requests answered 504 Timeout, %d in flight 500 InternalError; the watcher listed %d times, watched %d times, got %d events (%d ERROR 410)",
		acked.Load(), timeouts.Load(), broken.Load(), inf.lists, inf.watches, inf.events, inf.gone)
	inf.mu.Unlock()
	stopWatching()
	watching.Wait()
	ts.stop() // while etcd is there: stopping without it waits for its timeouts
}

// etcdKey is a key's value and resourceVersion.
type etcdKey struct{ value, rv string }

// etcdInformer lists and watches, as client-go's reflector does: it resumes a
// watch that ended from the last resourceVersion it saw, and lists again
// when told 410 Gone (or when a list fails).
type etcdInformer struct {
	mu                           sync.Mutex
	items                        map[string]etcdKey
	rv                           string
	lists, watches, events, gone int
}

func (inf *etcdInformer) run(ctx context.Context, t *testing.T, ts *testServer, path string) {
	client := &http.Client{Transport: ts.client.Transport}
	relist := true
	for ctx.Err() == nil {
		if relist {
			r, err := ts.try("GET", path, "")
			if err != nil || r.code != 200 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			inf.mu.Lock()
			inf.items = map[string]etcdKey{}
			items, _ := r.obj["items"].([]any)
			for _, item := range items {
				v, _ := field(item, "data", "v").(string)
				inf.items[field(item, "metadata", "name").(string)] = etcdKey{v, field(item, "metadata", "resourceVersion").(string)}
			}
			inf.rv = field(r.obj, "metadata", "resourceVersion").(string)
			inf.lists++
			inf.mu.Unlock()
			relist = false
		}
		relist = inf.watch(ctx, t, client, ts.url+path)
		if ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// watch follows one watch until it ends, and tells whether to list again.
func (inf *etcdInformer) watch(ctx context.Context, t *testing.T, client *http.Client, url string) (relist bool) {
	inf.mu.Lock()
	from := inf.rv
	inf.watches++
	inf.mu.Unlock()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"?watch=true&allowWatchBookmarks=true&resourceVersion="+from, nil)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == 410:
		inf.mu.Lock()
		inf.gone++
		inf.mu.Unlock()
		return true
	case resp.StatusCode != 200:
		return false // 504 while etcd is away: try again
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var ev watchEvent
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Errorf("a watch event: %q: %v", lines.Text(), err)
			return true
		}
		if ev.Type == "ERROR" {
			inf.mu.Lock()
			if field(ev.Object, "code") == float64(410) {
				inf.gone++
			}
			inf.mu.Unlock()
			return true // 410 Expired, or another error: list again
		}
		rv, _ := field(ev.Object, "metadata", "resourceVersion").(string)
		name, _ := field(ev.Object, "metadata", "name").(string)
		v, _ := field(ev.Object, "data", "v").(string)
		inf.mu.Lock()
		if n, last := atoi64(rv), atoi64(inf.rv); n <= last && ev.Type != "BOOKMARK" {
			t.Errorf("a watch from %s sent %s at %s after %s", from, ev.Type, rv, inf.rv)
		}
		if atoi64(rv) > atoi64(inf.rv) {
			inf.rv = rv
		}
		switch ev.Type {
		case "ADDED", "MODIFIED":
			inf.items[name] = etcdKey{v, rv}
			inf.events++
		case "DELETED":
			delete(inf.items, name)
			inf.events++
		}
		inf.mu.Unlock()
	}
	return false // the watch ended: resume from the last resourceVersion
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
