// The order of /apis. kube-apiserver registers an APIService for each group
// version it serves itself, with a fixed groupPriorityMinimum, and one for
// each CRD group version with 1000; kube-aggregator then lists every group,
// its own and the extensions', by the highest priority among its
// APIServices (cmd/kube-apiserver/app/aggregator.go,
// pkg/controlplane/apiserver/aggregator.go and kube-aggregator's
// handler_apis.go). Clients pick the first group that has a resource of a
// given name, so the order decides what `kubectl get <name>` means when two
// groups use it.
package server

// builtinGroupPriorities are kube-apiserver's groupPriorityMinimum for the
// groups it serves itself (the aggregator's own group sits above every
// APIService, which may go up to 20000).
var builtinGroupPriorities = map[string]int64{
	"apiregistration.k8s.io":       20001,
	"apps":                         17800,
	"events.k8s.io":                17750,
	"authentication.k8s.io":        17700,
	"authorization.k8s.io":         17600,
	"autoscaling":                  17500,
	"batch":                        17400,
	"certificates.k8s.io":          17300,
	"networking.k8s.io":            17200,
	"policy":                       17100,
	"rbac.authorization.k8s.io":    17000,
	"storage.k8s.io":               16800,
	"admissionregistration.k8s.io": 16700,
	"apiextensions.k8s.io":         16700,
	"scheduling.k8s.io":            16600,
	"coordination.k8s.io":          16500,
	"node.k8s.io":                  16300,
	"discovery.k8s.io":             16200,
	"resource.k8s.io":              16200,
	"flowcontrol.apiserver.k8s.io": 16100,
	"internal.apiserver.k8s.io":    16000,
	"storagemigration.k8s.io":      15800,
	"lifecycle.k8s.io":             15700,
}

// crdGroupPriority is what a CRD's group gets (the crdregistration
// controller's), whatever the CRD says.
const crdGroupPriority = 1000

// groupPriority places a group in /apis: the highest groupPriorityMinimum
// among the APIServices that would exist for it in kube-apiserver (the
// built-in one, a CRD's, or the ones stored).
func (s *Server) groupPriority(group string) int64 {
	p := s.aggregator.GroupPriority(group)
	switch builtin, ok := builtinGroupPriorities[group]; {
	case ok:
		p = max(p, builtin)
	case len(s.registry.Versions(group)) > 0: // a group of CRDs
		p = max(p, crdGroupPriority)
	}
	return p
}
