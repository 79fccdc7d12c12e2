// The object counts of /metrics: kube-apiserver's
// --etcd-count-metric-poll-period.

package server

import (
	"context"
	"log"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/features"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// countObjects sets apiserver_resource_objects for every stored resource,
// custom ones included, at once and then every period (0: never), with a
// count-only read of the resource's key prefix. A resource served in
// several versions is counted once; one no longer served (a deleted CRD's)
// is dropped; a count that fails reads -1, as in kube-apiserver.
func (s *Server) countObjects(ctx context.Context, period time.Duration) {
	if period <= 0 {
		return
	}
	type groupResource struct{ group, resource string }
	var counted map[groupResource]bool
	for {
		now := map[groupResource]bool{}
		for _, res := range s.registry.All() {
			gr := groupResource{res.Group, res.Name}
			if res.Virtual || now[gr] {
				continue
			}
			now[gr] = true
			n, err := s.backend.Count(ctx, store.Prefix(res, ""))
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				n = -1
			}
			s.metrics.SetObjectCount(res.Group, res.Name, n)
		}
		for gr := range counted {
			if !now[gr] {
				s.metrics.ForgetObjectCount(gr.group, gr.resource)
			}
		}
		counted = now
		select {
		case <-ctx.Done():
			return
		case <-time.After(period):
		}
	}
}

// logFeatureGates says, at start-up, what kube-apiserver warns about (GA
// and deprecated gates set), and which gates moved from their default
// change nothing here.
func logFeatureGates(g *features.Gates) {
	for _, w := range g.Warnings() {
		log.Printf("Warning: %s", w)
	}
	if ignored := g.Ignored(); len(ignored) > 0 {
		log.Printf("--feature-gates: this server does not implement %v; it behaves as with their defaults", ignored)
	}
}
