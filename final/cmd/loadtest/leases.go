// The leases phase: --leases Lease objects, each renewed every
// --lease-period by its holder, for --lease-duration, as a thousand
// kubelets renew their node leases. It is the load that hurts a store
// keeping every revision (kine's known pain): the writes never stop, so
// history grows until compaction removes it. What it reports is whether
// anything drifts: the renewals' latency in consecutive windows, and, with
// --data-file, the size of the server's database file at the end of each.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// LeaseResult is the leases phase's own part of its result.
type LeaseResult struct {
	Leases        int           `json:"leases"`
	PeriodSeconds float64       `json:"periodSeconds"`
	Late          int           `json:"late"` // renewals that started a whole period after they were due
	Windows       []LeaseWindow `json:"windows"`
}

// LeaseWindow is one stretch of the phase: the renewals that started in it,
// and the database's size when it ended.
type LeaseWindow struct {
	EndSeconds float64  `json:"endSeconds"`
	Renewals   int      `json:"renewals"`
	Latency    *Latency `json:"latencyMs,omitempty"`
	DataBytes  int64    `json:"dataBytes,omitempty"` // --data-file and its -wal, when given
}

// leaseWindows is how many windows the phase is cut into.
const leaseWindows = 10

func leasesPath(namespace string) string {
	return "/apis/coordination.k8s.io/v1/namespaces/" + namespace + "/leases"
}

// lease is one Lease as last written: decoded JSON, sent back whole with a
// new renewTime, so that the update carries its resourceVersion.
type lease map[string]any

func newLease(namespace string, i int) lease {
	key, value, _ := strings.Cut(loadLabel, "=")
	return lease{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
		"metadata": map[string]any{"name": fmt.Sprintf("node-%06d", i), "namespace": namespace, "labels": map[string]any{key: value}},
		"spec":     map[string]any{"holderIdentity": fmt.Sprintf("node-%06d", i), "leaseDurationSeconds": 40, "renewTime": microTime(time.Now())}}
}

// microTime is a metav1.MicroTime as JSON has it.
func microTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

func (l lease) name() string {
	meta, _ := l["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	return name
}

// write sends the lease (POST to create, PUT to renew) and keeps what the
// server answered.
func (c *client) writeLease(ctx context.Context, namespace string, l *lease, create bool) error {
	body, _ := json.Marshal(*l)
	method, path := http.MethodPut, leasesPath(namespace)+"/"+l.name()
	if create {
		method, path = http.MethodPost, leasesPath(namespace)
	}
	data, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	var answer lease
	if err := json.Unmarshal(data, &answer); err != nil {
		return err
	}
	*l = answer
	return nil
}

func leasesPhase(ctx context.Context, lt *loadTest) (PhaseResult, error) {
	n, period, duration := lt.cfg.leases, lt.cfg.leasePeriod, lt.cfg.leaseDuration
	p := PhaseResult{Name: "leases", Leases: &LeaseResult{Leases: n, PeriodSeconds: period.Seconds()}}
	leases := make([]lease, n)
	errs := make([]error, len(lt.clients))
	var wg sync.WaitGroup
	for k, c := range lt.clients { // created unmeasured
		wg.Go(func() {
			for i := k; i < n && errs[k] == nil; i += len(lt.clients) {
				leases[i] = newLease(lt.cfg.namespace, i)
				errs[k] = c.writeLease(ctx, lt.cfg.namespace, &leases[i], true)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return p, fmt.Errorf("creating the leases: %w", err)
	}

	// Lease i is due at start + i/n of a period, then every period: the
	// renewals are spread evenly, as kubelets' are. Each lease has its own
	// holder, as each node has its kubelet: a slow answer delays that
	// lease's next renewal, not the others'. The holders share the
	// clients' connections.
	window := duration / leaseWindows
	type renewal struct {
		at      time.Duration // when it started, since start
		latency time.Duration
	}
	done := make([][]renewal, n)
	holders := make([]*client, n)
	for i := range holders {
		c := lt.clients[i%len(lt.clients)]
		holders[i] = &client{id: i, server: c.server, token: c.token, http: c.http}
	}
	var windowEnds []time.Time
	var sizes []int64
	start := time.Now()
	err := lt.measure(&p, func() {
		stopSizes := make(chan struct{})
		var sampler sync.WaitGroup
		sampler.Go(func() { // the database's size at the end of each window
			for w := 1; w <= leaseWindows; w++ {
				select {
				case <-time.After(time.Until(start.Add(time.Duration(w) * window))):
				case <-stopSizes: // the renewals are over: the windows left end now
				}
				windowEnds = append(windowEnds, time.Now())
				sizes = append(sizes, dataBytes(lt.cfg.dataFile))
			}
		})
		var wg sync.WaitGroup
		for i, c := range holders {
			wg.Go(func() {
				for due := start.Add(period * time.Duration(i) / time.Duration(n)); ; due = due.Add(period) {
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					} else if -wait > period {
						c.tally.late++
					}
					if time.Since(start) >= duration || ctx.Err() != nil {
						return
					}
					spec, _ := leases[i]["spec"].(map[string]any)
					if spec == nil {
						spec = map[string]any{}
						leases[i]["spec"] = spec
					}
					began := time.Now()
					spec["renewTime"] = microTime(began)
					if err := c.writeLease(ctx, lt.cfg.namespace, &leases[i], false); err != nil {
						c.tally.fail(err)
						continue
					}
					d := c.received.Sub(began)
					c.tally.latencies = append(c.tally.latencies, d)
					done[i] = append(done[i], renewal{began.Sub(start), d})
				}
			})
		}
		wg.Wait()
		close(stopSizes)
		sampler.Wait()
	})
	elapsed := time.Since(start)
	tallies := make([]*tally, n)
	for i, c := range holders {
		tallies[i] = &c.tally
		p.Leases.Late += c.tally.late
	}
	p.merge(tallies...)
	p.Seconds, p.Throughput = elapsed.Seconds(), perSecond(p.Ops, elapsed)

	byWindow := make([][]time.Duration, leaseWindows)
	for _, rs := range done {
		for _, r := range rs {
			w := min(int(r.at/window), leaseWindows-1)
			byWindow[w] = append(byWindow[w], r.latency)
		}
	}
	for w, latencies := range byWindow {
		lw := LeaseWindow{EndSeconds: (time.Duration(w+1) * window).Seconds(), Renewals: len(latencies), Latency: summarize(latencies)}
		if w < len(sizes) { // always, unless the phase was interrupted
			lw.EndSeconds, lw.DataBytes = windowEnds[w].Sub(start).Seconds(), sizes[w]
		}
		p.Leases.Windows = append(p.Leases.Windows, lw)
	}
	_, delErr := lt.clients[0].do(context.WithoutCancel(ctx), http.MethodDelete,
		leasesPath(lt.cfg.namespace)+"?labelSelector="+url.QueryEscape(loadLabel), nil)
	return p, errors.Join(err, ctx.Err(), delErr)
}

// dataBytes is the size of a SQLite database and its write-ahead log; 0
// without a file.
func dataBytes(file string) int64 {
	if file == "" {
		return 0
	}
	var total int64
	for _, f := range []string{file, file + "-wal"} {
		if info, err := os.Stat(f); err == nil {
			total += info.Size()
		}
	}
	return total
}
