// The phases: each puts one kind of load on the server with every client
// at once, and measures it. The work a phase needs done first (objects to
// read, a namespace filled to --list-size) is done before its measurement
// starts, and is not part of it.
package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// phaseFuncs are the phases after coldstart, by name.
var phaseFuncs = map[string]func(context.Context, *loadTest) (PhaseResult, error){
	"create":        createPhase,
	"get":           getPhase,
	"update":        updatePhase,
	"update-shared": updateSharedPhase,
	"list":          listPhase,
	"list-paged":    listPagedPhase,
	"list-page":     listPagePhase,
	"watch":         watchPhase,
	"ceiling":       ceilingPhase,
	"leases":        leasesPhase,
}

// readyTimeout bounds the cold start.
const readyTimeout = 2 * time.Minute

// coldStart starts --exec and times it until --ready-url answers 200. The
// server then serves the other phases; the returned stop ends it.
func (lt *loadTest) coldStart(ctx context.Context) (*PhaseResult, func() error, error) {
	var output *os.File // none: the null device
	if lt.cfg.execLog != "" {
		f, err := os.Create(lt.cfg.execLog)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close() // the child has its own copy of the descriptor
		output = f
	}
	start := time.Now()
	proc, err := startServer(lt.cfg.exec, output)
	if err != nil {
		return nil, nil, fmt.Errorf("--exec: %w", err)
	}
	lt.pids = append([]int{proc.cmd.Process.Pid}, lt.pids...)
	p := &PhaseResult{Name: "coldstart"}
	var ready time.Duration
	var readyErr error
	err = lt.measure(p, func() {
		readyCtx, cancel := context.WithTimeout(ctx, readyTimeout)
		defer cancel()
		readyErr = waitReady(readyCtx, lt.cfg.readyURL, proc.exited)
		ready = time.Since(start)
	})
	if err = errors.Join(readyErr, err); err != nil {
		return nil, proc.stop, fmt.Errorf("cold start of %q: %w", lt.cfg.exec, err)
	}
	p.Seconds, p.Ops = ready.Seconds(), 1
	return p, proc.stop, nil
}

// measure runs f while sampling the server's processes, and adds the
// server's CPU and memory and the tool's own CPU to the phase.
func (lt *loadTest) measure(p *PhaseResult, f func()) error {
	cpu := selfCPU()
	s := startSampling(lt.pids)
	f()
	p.ClientCPUSeconds = (selfCPU() - cpu).Seconds()
	var err error
	p.ServerUsage, err = s.finish()
	return err
}

// op is one operation of a client: the i-th of a counted phase, or the
// client's i-th of a timed one. Its latency runs from when it starts to
// when its last response has arrived: decoding that response is the
// client's work, not the server's.
type op func(ctx context.Context, c *client, i int) error

// timed, as drive's count, runs a phase for --duration.
const timed = -1

// drive runs op on every client at once: count operations shared out
// among them, or for --duration (count == timed).
func (lt *loadTest) drive(ctx context.Context, name string, count int, op op) (PhaseResult, error) {
	p := PhaseResult{Name: name}
	var elapsed time.Duration
	err := lt.measure(&p, func() {
		start := time.Now()
		deadline := start.Add(lt.cfg.duration)
		var wg sync.WaitGroup
		for _, c := range lt.clients {
			c.tally = tally{}
			wg.Go(func() {
				for n := 0; ctx.Err() == nil; n++ {
					i := n
					if count != timed {
						if i = c.id + n*len(lt.clients); i >= count {
							return
						}
					} else if time.Now().After(deadline) {
						return
					}
					began := time.Now()
					if err := op(ctx, c, i); err != nil {
						c.tally.fail(err)
						continue
					}
					c.tally.latencies = append(c.tally.latencies, c.received.Sub(began))
				}
			})
		}
		wg.Wait()
		elapsed = time.Since(start)
	})
	tallies := make([]*tally, len(lt.clients))
	for i, c := range lt.clients {
		tallies[i] = &c.tally
	}
	p.merge(tallies...)
	p.Seconds, p.Throughput = elapsed.Seconds(), perSecond(p.Ops, elapsed)
	return p, errors.Join(err, ctx.Err())
}

// objectName names the i-th object of the shared pool.
func objectName(i int) string { return fmt.Sprintf("cm-%06d", i) }

func newRand(seed int) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 1)) }

// createPhase creates --objects ConfigMaps, which the next phases use.
func createPhase(ctx context.Context, lt *loadTest) (PhaseResult, error) {
	lt.grow(lt.cfg.objects)
	return lt.drive(ctx, "create", lt.cfg.objects, func(ctx context.Context, c *client, i int) error {
		return lt.createObject(ctx, c, i)
	})
}

// grow makes room for n objects.
func (lt *loadTest) grow(n int) {
	if n > len(lt.objects) {
		lt.objects = append(lt.objects, make([]*configMap, n-len(lt.objects))...)
	}
}

func (lt *loadTest) createObject(ctx context.Context, c *client, i int) error {
	cm, err := c.create(ctx, newConfigMap(lt.cfg.namespace, objectName(i)))
	if err == nil {
		lt.objects[i] = cm
	}
	return err
}

// ensureObjects makes sure objects 0…n-1 exist, unmeasured, for the
// phases that read or write them when create did not run (or failed some).
func (lt *loadTest) ensureObjects(ctx context.Context, n int) error {
	lt.grow(n)
	var missing []int
	for i := range n {
		if lt.objects[i] == nil {
			missing = append(missing, i)
		}
	}
	errs := make([]error, len(lt.clients))
	var wg sync.WaitGroup
	for k, c := range lt.clients {
		wg.Go(func() {
			for j := k; j < len(missing) && errs[k] == nil; j += len(lt.clients) {
				i := missing[j]
				err := lt.createObject(ctx, c, i)
				if isStatus(err, http.StatusConflict) { // AlreadyExists: left in a namespace that was reused
					lt.objects[i], err = c.get(ctx, lt.cfg.namespace, objectName(i))
				}
				errs[k] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// getPhase reads objects at random, for --duration.
func getPhase(ctx context.Context, lt *loadTest) (PhaseResult, error) {
	n := len(lt.objects)
	if n == 0 { // create did not run
		n = max(lt.cfg.objects, 1)
	}
	if err := lt.ensureObjects(ctx, n); err != nil {
		return PhaseResult{}, err
	}
	return lt.drive(ctx, "get", timed, func(ctx context.Context, c *client, _ int) error {
		_, err := c.do(ctx, http.MethodGet, configMapsPath(lt.cfg.namespace)+"/"+objectName(c.rng.IntN(len(lt.objects))), nil)
		return err
	})
}

// updatePhase has each client update its own object, over and over: no
// one else writes it, so no update should conflict.
func updatePhase(ctx context.Context, lt *loadTest) (PhaseResult, error) {
	if err := lt.ensureObjects(ctx, len(lt.clients)); err != nil {
		return PhaseResult{}, err
	}
	return lt.drive(ctx, "update", timed, func(ctx context.Context, c *client, i int) error {
		cm := lt.objects[c.id]
		cm.Data["counter"] = strconv.Itoa(i)
		updated, err := c.update(ctx, cm)
		if err != nil { // read it again, so that the next update can succeed
			if fresh, getErr := c.get(ctx, lt.cfg.namespace, cm.Metadata.Name); getErr == nil {
				lt.objects[c.id] = fresh
			}
			return err
		}
		lt.objects[c.id] = updated
		return nil
	})
}

// sharedName is the object every client updates in update-shared.
const sharedName = "shared"

// updateSharedPhase has every client update one object, as controllers
// fighting over a status do: read it, change it, write it back, and on 409
// Conflict (someone wrote in between) read and try again, as client-go's
// retry.RetryOnConflict does. An operation is one update that got in, its
// latency all its attempts. The object is deleted afterwards, so that it
// does not count in the lists.
func updateSharedPhase(ctx context.Context, lt *loadTest) (PhaseResult, error) {
	c0 := lt.clients[0]
	if _, err := c0.create(ctx, newConfigMap(lt.cfg.namespace, sharedName)); err != nil && !isStatus(err, http.StatusConflict) {
		return PhaseResult{}, err
	}
	p, err := lt.drive(ctx, "update-shared", timed, func(ctx context.Context, c *client, i int) error {
		for ctx.Err() == nil {
			cm, err := c.get(ctx, lt.cfg.namespace, sharedName)
			if err != nil {
				return err
			}
			cm.Data["counter"] = fmt.Sprintf("%d-%d", c.id, i)
			if _, err = c.update(ctx, cm); !isStatus(err, http.StatusConflict) {
				return err
			}
			c.tally.conflicts++
		}
		return ctx.Err()
	})
	_, delErr := c0.do(context.WithoutCancel(ctx), http.MethodDelete, configMapsPath(lt.cfg.namespace)+"/"+sharedName, nil)
	return p, errors.Join(err, delErr)
}

// fillForLists brings the namespace to --list-size ConfigMaps, unmeasured.
func (lt *loadTest) fillForLists(ctx context.Context) error {
	var list listMeta
	if _, err := lt.clients[0].getJSON(ctx, configMapsPath(lt.cfg.namespace), &list); err != nil {
		return err
	}
	if missing := lt.cfg.listSize - len(list.Items); missing > 0 {
		return lt.ensureObjects(ctx, len(lt.objects)+missing)
	}
	return nil
}

// listPhase lists the whole namespace in one response, for --duration.
// Each client decodes its first list, to count the items; later ones it
// only receives: decoding 10,000 objects costs the client about as much
// CPU as serving them costs the server, and the two share the machine.
func listPhase(ctx context.Context, lt *loadTest) (PhaseResult, error) {
	if err := lt.fillForLists(ctx); err != nil {
		return PhaseResult{}, err
	}
	return lt.drive(ctx, "list", timed, func(ctx context.Context, c *client, _ int) error {
		if c.tally.pages > 0 { // counted already
			_, err := c.do(ctx, http.MethodGet, configMapsPath(lt.cfg.namespace), nil)
			return err
		}
		var list listMeta
		size, err := c.getJSON(ctx, configMapsPath(lt.cfg.namespace), &list)
		if err != nil {
			return err
		}
		c.tally.items, c.tally.pages, c.tally.bytes = len(list.Items), 1, size
		return nil
	})
}

// listPagedPhase lists the namespace in pages of --page-size, following
// the continue token to the end, as informers and kubectl do; one
// operation is the whole list. Every page is decoded, for its token.
func listPagedPhase(ctx context.Context, lt *loadTest) (PhaseResult, error) {
	if err := lt.fillForLists(ctx); err != nil {
		return PhaseResult{}, err
	}
	return lt.drive(ctx, "list-paged", timed, func(ctx context.Context, c *client, _ int) error {
		items, pages, bytes, token := 0, 0, 0, ""
		for {
			query := url.Values{"limit": {strconv.Itoa(lt.cfg.pageSize)}}
			if token != "" {
				query.Set("continue", token)
			}
			var list listMeta
			size, err := c.getJSON(ctx, configMapsPath(lt.cfg.namespace)+"?"+query.Encode(), &list)
			if err != nil {
				return err
			}
			items, pages, bytes, token = items+len(list.Items), pages+1, bytes+size, list.Metadata.Continue
			if token == "" {
				break
			}
		}
		c.tally.items, c.tally.pages, c.tally.bytes = items, pages, bytes
		return nil
	})
}

// listPagePhase is list-paged seen one request at a time: each operation is
// one page of --page-size, each client walking the list from the start to
// the end and again. A page should cost the same however long the list is
// (the store seeks to where the page starts), which is what running it
// with 10,000 and with 100,000 objects shows.
func listPagePhase(ctx context.Context, lt *loadTest) (PhaseResult, error) {
	if err := lt.fillForLists(ctx); err != nil {
		return PhaseResult{}, err
	}
	tokens := make([]string, len(lt.clients)) // where each client is in its walk
	return lt.drive(ctx, "list-page", timed, func(ctx context.Context, c *client, _ int) error {
		query := url.Values{"limit": {strconv.Itoa(lt.cfg.pageSize)}}
		if tokens[c.id] != "" {
			query.Set("continue", tokens[c.id])
		}
		var list listMeta
		size, err := c.getJSON(ctx, configMapsPath(lt.cfg.namespace)+"?"+query.Encode(), &list)
		if err != nil {
			tokens[c.id] = ""
			return err
		}
		tokens[c.id] = list.Metadata.Continue
		// The last page of a walk may be short: report the full page size.
		c.tally.items, c.tally.pages, c.tally.bytes = max(c.tally.items, len(list.Items)), 1, max(c.tally.bytes, size)
		return nil
	})
}
