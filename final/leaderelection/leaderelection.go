// Package leaderelection lets several replicas of the server agree on one of
// them to run the controllers that must not run twice. They compete for a
// coordination.k8s.io/v1 Lease, as kube-controller-manager's replicas do
// with client-go's leaderelection package: the holder renews the lease
// before it expires; anyone may take a lease whose holder stopped renewing.
// Every write is a compare-and-swap on the Lease's resourceVersion, so two
// replicas can never both believe they took it.
package leaderelection

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// Elector competes for one Lease.
type Elector struct {
	Store     *store.Store
	Leases    *registry.Resource
	Namespace string
	Name      string
	Identity  string // this replica's name, unique among replicas

	LeaseDuration time.Duration // how long a lease holds without renewal (15 s)
	RetryPeriod   time.Duration // how often to try to take or renew it (2 s)

	leading atomic.Bool
	now     func() time.Time // for tests
}

// IsLeader reports whether this replica holds the lease now.
func (e *Elector) IsLeader() bool { return e.leading.Load() }

// Run competes until ctx ends. While this replica leads, lead runs with a
// context that ends when the lease is lost (or ctx ends); it is started
// again if the lease is won again later.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) {
	if e.LeaseDuration == 0 {
		e.LeaseDuration = 15 * time.Second
	}
	if e.RetryPeriod == 0 {
		e.RetryPeriod = 2 * time.Second
	}
	var stop func() // ends lead; nil while not leading
	defer func() {
		if stop != nil {
			stop()
			e.release()
		}
		e.leading.Store(false)
	}()
	ticker := time.NewTicker(e.RetryPeriod)
	defer ticker.Stop()
	for {
		held := e.tryAcquireOrRenew(ctx)
		switch {
		case held && stop == nil:
			e.leading.Store(true)
			stop = startLeading(ctx, lead)
		case !held && stop != nil:
			e.leading.Store(false)
			stop()
			stop = nil
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// startLeading runs lead until the returned function is called, which
// waits for lead to return.
func startLeading(ctx context.Context, lead func(ctx context.Context)) func() {
	leadCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); lead(leadCtx) }()
	return func() { cancel(); <-done }
}

// tryAcquireOrRenew takes the lease if it is free or expired, renews it if
// it is ours, and reports whether it is ours now.
func (e *Elector) tryAcquireOrRenew(ctx context.Context) bool {
	now := time.Now
	if e.now != nil {
		now = e.now
	}
	t := now().UTC()
	stamp := t.Format("2006-01-02T15:04:05.000000Z07:00") // MicroTime
	seconds := int64(e.LeaseDuration / time.Second)
	lease, err := e.Store.Get(ctx, e.Leases, e.Namespace, e.Name)
	if apierrors.IsNotFound(err) {
		_, err := e.Store.Create(ctx, e.Leases, object.Object{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
			"metadata": map[string]any{"name": e.Name, "namespace": e.Namespace, "uid": object.NewUID(), "creationTimestamp": object.Now()},
			"spec": map[string]any{"holderIdentity": e.Identity, "leaseDurationSeconds": seconds,
				"acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}})
		return err == nil
	}
	if err != nil {
		return false
	}
	spec, _ := lease["spec"].(map[string]any)
	holder, _ := spec["holderIdentity"].(string)
	renewed, _ := time.Parse(time.RFC3339Nano, object.JSONString(spec["renewTime"]))
	duration, _ := strconv.ParseInt(object.JSONString(spec["leaseDurationSeconds"]), 10, 64)
	if holder != e.Identity && holder != "" && t.Before(renewed.Add(time.Duration(duration)*time.Second)) {
		return false // someone else holds it, and renews it
	}
	transitions, _ := strconv.ParseInt(object.JSONString(spec["leaseTransitions"]), 10, 64)
	if holder != e.Identity {
		transitions++
		spec["acquireTime"] = stamp
	}
	spec["holderIdentity"], spec["renewTime"], spec["leaseDurationSeconds"], spec["leaseTransitions"] =
		e.Identity, stamp, seconds, json.Number(strconv.FormatInt(transitions, 10))
	lease["spec"] = spec
	// The lease carries the resourceVersion we read: if another replica
	// wrote it meanwhile, this is a conflict, and we do not lead.
	_, err = e.Store.Update(ctx, e.Leases, e.Namespace, e.Name, func(object.Object) (object.Object, error) { return lease, nil })
	return err == nil
}

// release gives the lease up when this replica stops leading on purpose, so
// that another (or this server, restarted) takes it at once instead of
// waiting for it to expire, as client-go's ReleaseOnCancel does.
func (e *Elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = e.Store.Update(ctx, e.Leases, e.Namespace, e.Name, func(lease object.Object) (object.Object, error) {
		spec, _ := lease["spec"].(map[string]any)
		if spec == nil || spec["holderIdentity"] != e.Identity {
			return nil, errNotHolder
		}
		spec["holderIdentity"] = ""
		return lease, nil
	})
}

var errNotHolder = errors.New("the lease is held by another replica")
