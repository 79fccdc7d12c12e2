// The watch fan-out: --watchers watches of the namespace's ConfigMaps,
// opened from its current resourceVersion, then --watch-events objects
// created. Every watcher must receive every one of them, exactly once; the
// delay of each (watcher, event) runs from just before the write was sent
// to when the watcher read it, so it holds the write itself, the fan-out,
// and the stream's way to the client.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// deliveryTimeout is how long, after the last write, the watchers have to
// receive everything: what has not arrived by then counts as not delivered.
const deliveryTimeout = time.Minute

// watchName names the i-th object the watch phase writes.
func watchName(i int) string { return fmt.Sprintf("watch-%06d", i) }

// watchIndex is the inverse of watchName.
func watchIndex(name string) (int, bool) {
	n, ok := strings.CutPrefix(name, "watch-")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	return i, err == nil
}

// watcher is one watch and what it received. Times are durations since the
// phase's start, on the monotonic clock, like the writes' send times.
type watcher struct {
	received  []time.Duration // by write, 0 until it arrives
	count     int
	dups      int
	bookmarks int
	openErr   error         // read once every watch is open
	err       error         // how the watch ended early, read once it has ended
	complete  chan struct{} // closed when every write has arrived
	ended     chan struct{} // closed when the watch has ended, for whatever reason
}

func watchPhase(ctx context.Context, lt *loadTest) (PhaseResult, error) {
	n, m := lt.cfg.watchers, lt.cfg.watchEvents
	p := PhaseResult{Name: "watch", Watch: &WatchResult{Watchers: n, Events: m, Expected: n * m}}
	var list listMeta
	if _, err := lt.clients[0].getJSON(ctx, configMapsPath(lt.cfg.namespace)+"?limit=1", &list); err != nil {
		return p, err
	}

	// The watches get connections of their own, so that the writes do not
	// queue behind event streams on the same connections.
	conns := lt.newClients(len(lt.clients))
	defer func() {
		for _, c := range conns {
			c.http.CloseIdleConnections()
		}
	}()
	for _, c := range conns {
		if _, _, err := c.version(ctx); err != nil {
			return p, err
		}
	}
	watchCtx, stopWatches := context.WithCancel(ctx)
	defer stopWatches()
	start := time.Now()
	watchers := make([]*watcher, n)
	var opened, running sync.WaitGroup
	for j := range watchers {
		w := &watcher{received: make([]time.Duration, m), complete: make(chan struct{}), ended: make(chan struct{})}
		if m == 0 {
			close(w.complete)
		}
		watchers[j] = w
		opened.Add(1)
		running.Go(func() {
			w.watch(watchCtx, conns[j%len(conns)], lt.cfg.namespace, list.Metadata.ResourceVersion, start, &opened)
		})
	}
	opened.Wait()
	p.Watch.OpenSeconds = time.Since(start).Seconds()
	for _, w := range watchers {
		if w.openErr != nil {
			return p, fmt.Errorf("opening a watch: %w", w.openErr)
		}
	}

	sent := make([]time.Duration, m)
	var firstSend time.Duration
	err := lt.measure(&p, func() {
		firstSend = time.Since(start)
		lt.writeForWatchers(ctx, sent, start, &p)
		timeout := time.After(deliveryTimeout)
		for _, w := range watchers {
			select {
			case <-w.complete:
			case <-w.ended: // early: it will get nothing more
			case <-timeout:
			case <-ctx.Done():
			}
		}
	})
	stopWatches()
	running.Wait()

	var delays []time.Duration
	var last time.Duration
	for _, w := range watchers {
		p.Watch.Delivered += w.count
		p.Watch.Duplicates += w.dups
		p.Watch.Bookmarks += w.bookmarks
		if w.err != nil {
			p.Errors++
			if p.FirstError == "" {
				p.FirstError = w.err.Error()
			}
		}
		for i, at := range w.received {
			if at > 0 && sent[i] > 0 {
				delays = append(delays, at-sent[i])
				last = max(last, at)
			}
		}
	}
	p.Ops = p.Watch.Delivered
	p.Latency = summarize(delays)
	if last > firstSend { // from the first write to the last delivery
		p.Seconds = (last - firstSend).Seconds()
		p.Throughput = perSecond(p.Ops, last-firstSend)
	}
	return p, errors.Join(err, ctx.Err())
}

// writeForWatchers creates the objects every watcher waits for, with every
// client at once, noting when each was sent.
func (lt *loadTest) writeForWatchers(ctx context.Context, sent []time.Duration, start time.Time, p *PhaseResult) {
	var wg sync.WaitGroup
	for _, c := range lt.clients {
		c.tally = tally{}
		wg.Go(func() {
			for i := c.id; i < len(sent) && ctx.Err() == nil; i += len(lt.clients) {
				cm := newConfigMap(lt.cfg.namespace, watchName(i))
				sent[i] = time.Since(start)
				if _, err := c.create(ctx, cm); err != nil {
					sent[i] = 0 // no event to wait for
					c.tally.fail(err)
				}
			}
		})
	}
	wg.Wait()
	for _, c := range lt.clients {
		p.Errors += c.tally.errors
		p.Throttled += c.tally.throttled
		if p.FirstError == "" {
			p.FirstError = c.tally.firstErr
		}
	}
}

// watchEvent is what a watcher reads of an event.
type watchEvent struct {
	typ, name string
	message   string // of an ERROR event's Status
}

// readEvent reads one event's line: its type and name with eventHead when
// it can, by decoding the line when eventHead cannot or the event is an
// ERROR, whose Status message the report should show.
func readEvent(line []byte) (watchEvent, error) {
	if typ, name, ok := eventHead(line); ok && typ != "ERROR" {
		return watchEvent{typ: typ, name: name}, nil
	}
	var ev struct {
		Type   string `json:"type"`
		Object struct {
			Metadata objectMeta `json:"metadata"`
			Message  string     `json:"message"`
		} `json:"object"`
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		return watchEvent{}, fmt.Errorf("decoding an event: %w", err)
	}
	return watchEvent{typ: ev.Type, name: ev.Object.Metadata.Name, message: ev.Object.Message}, nil
}

// readLine returns the next line without its newline, skipping empty ones.
// It is r's own buffer when the line fits, *long (reused) when it does not;
// either way only until the next call.
func readLine(r *bufio.Reader, long *[]byte) ([]byte, error) {
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			*long = append((*long)[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				*long = append(*long, line...)
			}
			line = *long
		}
		if err != nil {
			return nil, err
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			return line, nil
		}
	}
}

// watch opens the watch, says so on opened, and reads events until ctx
// ends. It watches from resourceVersion, so it receives only what is
// written after it; bookmarks are asked for, as informers do, and counted.
func (w *watcher) watch(ctx context.Context, c *client, namespace, resourceVersion string, start time.Time, opened *sync.WaitGroup) {
	query := url.Values{"watch": {"true"}, "allowWatchBookmarks": {"true"}, "resourceVersion": {resourceVersion},
		"timeoutSeconds": {"3600"}}
	defer close(w.ended)
	resp, err := w.open(ctx, c, configMapsPath(namespace)+"?"+query.Encode())
	w.openErr = err
	opened.Done()
	if err != nil {
		return
	}
	defer resp.Body.Close()
	// Both kube-apiserver and final end each JSON event with a newline.
	r := bufio.NewReaderSize(resp.Body, 16<<10)
	var long []byte
	for {
		line, err := readLine(r, &long)
		if err != nil {
			if ctx.Err() == nil {
				w.err = fmt.Errorf("watch ended: %w", err)
			}
			return
		}
		ev, err := readEvent(line)
		if err != nil {
			w.err = fmt.Errorf("watch ended: %w", err)
			return
		}
		at := time.Since(start)
		switch ev.typ {
		case "BOOKMARK":
			w.bookmarks++
		case "ERROR":
			w.err = fmt.Errorf("watch ended by an ERROR event: %s", ev.message)
			return
		case "ADDED":
			i, ok := watchIndex(ev.name)
			if !ok || i >= len(w.received) {
				continue
			}
			if w.received[i] != 0 {
				w.dups++
				continue
			}
			w.received[i] = at
			if w.count++; w.count == len(w.received) {
				close(w.complete)
			}
		}
	}
}

// open sends the watch request and returns once its headers are in: a
// Kubernetes API server sends them (and flushes) before any event.
func (w *watcher) open(ctx context.Context, c *client, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.server+path, nil)
	if err != nil {
		return nil, err
	}
	c.authorize(req)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var body [4096]byte
		k, _ := resp.Body.Read(body[:])
		return nil, decodeStatus(resp.StatusCode, body[:k])
	}
	return resp, nil
}
