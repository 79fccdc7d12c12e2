package storagetest

// Bench measures a backend on what an API server asks of it most: creates,
// gets and compare-and-swap updates from many clients at once, lists of a
// large prefix, and one write fanned out to many watchers. Besides ns/op,
// each reports ops/s and the p50 and p99 latency of one operation. With 16
// clients, ns/op is wall time over all their operations (throughput), not
// what one client waits (latency): a store that commits writes together
// shows in both, a store that makes writers queue shows in the latency.
//
// Writes are durable (each waits for its commit to reach the disk), so their
// figures are the disk's as much as the code's: run them with a -benchtime
// of seconds, and compare runs on one machine.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// Goroutines is how many clients the parallel benchmarks run: a busy API
// server has at least that many requests in flight.
const Goroutines = 16

// value is ~1 KiB, the size of a small Kubernetes object.
var value = bytes.Repeat([]byte("v"), 1024)

// Bench runs the benchmarks. open returns a fresh, empty backend (or, for
// etcd, a fresh key prefix) and closes it when the benchmark ends
// (b.Cleanup).
func Bench(b *testing.B, open func(b *testing.B) storage.Backend) {
	b.Run("Create", func(b *testing.B) { benchCreate(b, open(b)) })
	b.Run("Get", func(b *testing.B) { benchGet(b, open(b)) })
	b.Run("Update", func(b *testing.B) { benchUpdate(b, open(b)) })
	b.Run("UpdateContended", func(b *testing.B) { benchUpdateContended(b, open(b)) })
	b.Run("List10k", func(b *testing.B) { benchList(b, open(b), 0) })
	b.Run("ListPaged", func(b *testing.B) { benchList(b, open(b), 500) })
	for _, watchers := range []int{100, 1000} {
		b.Run(fmt.Sprintf("WatchFanOut/watchers=%d", watchers), func(b *testing.B) {
			benchWatchFanOut(b, open(b), watchers)
		})
	}
}

// Each goroutine creates keys of its own.
func benchCreate(b *testing.B, backend storage.Backend) {
	ctx := b.Context()
	var n atomic.Int64
	Parallel(b, func(int) error {
		_, err := backend.Create(ctx, fmt.Sprintf("/bench/create/%d", n.Add(1)), value)
		return err
	})
}

// Gets of keys picked at random among 1,000.
func benchGet(b *testing.B, backend storage.Backend) {
	ctx := b.Context()
	const keys = 1000
	Fill(b, keys, func(i int) error {
		_, err := backend.Create(ctx, fmt.Sprintf("/bench/get/%04d", i), value)
		return err
	})
	Parallel(b, func(int) error {
		_, err := backend.Get(ctx, fmt.Sprintf("/bench/get/%04d", rand.IntN(keys)))
		return err
	})
}

// Each goroutine updates a key of its own at the revision it last wrote:
// compare-and-swaps that never conflict, the cost of the write alone.
func benchUpdate(b *testing.B, backend storage.Backend) {
	ctx := b.Context()
	last := make([]storage.KeyValue, workers()) // each goroutine's key as it wrote it
	Fill(b, len(last), func(i int) error {
		var err error
		last[i], err = backend.Create(ctx, fmt.Sprintf("/bench/update/%d", i), value)
		return err
	})
	Parallel(b, func(g int) error {
		kv, err := backend.Update(ctx, last[g].Key, value, last[g].ModRevision)
		last[g] = kv
		return err
	})
}

// Every goroutine updates one key, as controllers fighting over an object
// do: each tries at the revision it saw last and, on a conflict, again at
// the one the conflict hands back (GuaranteedUpdate). An op is one update
// that went through; conflicts/op is how many tries lost on the way.
func benchUpdateContended(b *testing.B, backend storage.Backend) {
	ctx := b.Context()
	created, err := backend.Create(ctx, "/bench/contended", value)
	if err != nil {
		b.Fatal(err)
	}
	seen := make([]storage.KeyValue, workers()) // each goroutine's view of the key
	for i := range seen {
		seen[i] = created
	}
	var conflicts atomic.Int64
	Parallel(b, func(g int) error {
		for {
			kv, err := backend.Update(ctx, created.Key, value, seen[g].ModRevision)
			var conflict *storage.ConflictError
			if !errors.As(err, &conflict) {
				seen[g] = kv
				return err
			}
			conflicts.Add(1)
			seen[g] = conflict.Current
		}
	})
	b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/op")
}

// One op lists all of a prefix of 10,000 keys of ~1 KiB: in one read
// (limit 0) or in pages of limit, each after the last and at the first
// page's revision, as a client's continue token asks.
func benchList(b *testing.B, backend storage.Backend, limit int) {
	ctx := b.Context()
	const keys = 10000
	prefix := "/bench/list/"
	Fill(b, keys, func(i int) error {
		_, err := backend.Create(ctx, fmt.Sprintf("%s%05d", prefix, i), value)
		return err
	})
	pages := 0
	Serial(b, func() error {
		listed, after, rev := 0, "", int64(0)
		for more := true; more; pages++ {
			kvs, readAt, m, err := backend.List(ctx, prefix, after, limit, rev)
			if err != nil {
				return err
			}
			if len(kvs) > 0 {
				after = kvs[len(kvs)-1].Key
			}
			listed, rev, more = listed+len(kvs), readAt, m
		}
		if listed != keys {
			return fmt.Errorf("listed %d keys of %d", listed, keys)
		}
		return nil
	})
	if limit > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pages), "ns/page")
	}
}

// One op is one write delivered to every one of the watchers: the writer
// waits until the last has it. Each write carries the time it started, so
// each watcher measures its own delay, from the write's start (its commit
// included) to the event in its hands. ns/event is the op's time shared
// among the watchers.
func benchWatchFanOut(b *testing.B, backend storage.Backend, watchers int) {
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	key := "/bench/watch/key"
	if _, err := backend.Create(ctx, key, value); err != nil { // before the watches: not an event of theirs
		b.Fatal(err)
	}
	start := time.Now()
	var (
		remaining atomic.Int64             // watchers yet to receive the current write
		allHaveIt = make(chan struct{}, 1) // the last of them says so
		delays    = make([][]time.Duration, watchers)
		ended     sync.WaitGroup
	)
	for i := range watchers {
		events, err := backend.Watch(ctx, "/bench/watch/", 0)
		if err != nil {
			b.Fatal(err)
		}
		ended.Go(func() {
			for ev := range events {
				sent := time.Duration(binary.BigEndian.Uint64(ev.KV.Value))
				delays[i] = append(delays[i], time.Since(start)-sent)
				if remaining.Add(-1) == 0 {
					allHaveIt <- struct{}{}
				}
			}
		})
	}
	Serial(b, func() error {
		remaining.Store(int64(watchers))
		v := slices.Clone(value)
		binary.BigEndian.PutUint64(v, uint64(time.Since(start)))
		if _, err := backend.Update(ctx, key, v, 0); err != nil {
			return err
		}
		select {
		case <-allHaveIt:
			return nil
		case <-time.After(timeout):
			return fmt.Errorf("%d of %d watchers did not receive a write in %s", remaining.Load(), watchers, timeout)
		}
	})
	cancel()
	ended.Wait()
	all := slices.Concat(delays...)
	slices.Sort(all)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*watchers), "ns/event")
	b.ReportMetric(float64(percentile(all, 50)), "p50-delay-ns")
	b.ReportMetric(float64(percentile(all, 99)), "p99-delay-ns")
}

// Helpers for benchmarks, exported for those of the layers above.

// workers is how many goroutines Parallel runs: Goroutines, rounded up to a
// multiple of GOMAXPROCS (RunParallel's unit).
func workers() int {
	procs := runtime.GOMAXPROCS(0)
	return (Goroutines + procs - 1) / procs * procs
}

// Parallel runs op b.N times in all from Goroutines goroutines (a few more
// if GOMAXPROCS does not divide it), and reports ops/s and the p50 and p99
// latency of one op besides ns/op. Each goroutine passes op its own number,
// from 0, for work of its own (a key). An error stops the benchmark.
func Parallel(b *testing.B, op func(g int) error) {
	b.SetParallelism(workers() / runtime.GOMAXPROCS(0))
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
	)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := int(next.Add(1) - 1)
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if err := op(g); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		defer mu.Unlock()
		latencies = append(latencies, mine...)
	})
	b.StopTimer()
	report(b, latencies)
}

// Serial runs op in a b.Loop and reports, as Parallel does, ops/s and the
// p50 and p99 latency besides ns/op. The setup before it runs once.
func Serial(b *testing.B, op func() error) {
	var latencies []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, time.Since(start))
	}
	report(b, latencies)
}

// Fill calls write(0) … write(n-1) from Goroutines goroutines: the setup of
// a benchmark, quicker in parallel where the backend commits writes together.
func Fill(b *testing.B, n int, write func(i int) error) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make(chan error, Goroutines)
	)
	for range Goroutines {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := write(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

func report(b *testing.B, latencies []time.Duration) {
	if len(latencies) == 0 || b.Elapsed() == 0 {
		return
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(percentile(latencies, 50)), "p50-ns")
	b.ReportMetric(float64(percentile(latencies, 99)), "p99-ns")
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)*p+99)/100-1]
}
