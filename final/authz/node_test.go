package authz

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

var pods = &registry.Resource{Version: "v1", Name: "pods", Kind: "Pod", Namespaced: true}

// Kubelets, as their client certificates name them.
var (
	worker1 = &request.User{Name: "system:node:worker-1", Groups: []string{GroupNodes, request.GroupAuthenticated}}
	worker2 = &request.User{Name: "system:node:worker-2", Groups: []string{GroupNodes, request.GroupAuthenticated}}
)

// newNode returns a Node authorizer over newRBAC's store, holding pods:
//
//	ns/web     on worker-1: secret volume, configmap volume, envFrom, env
//	           valueFrom, image pull secret, projected sources, a claim, an
//	           ephemeral volume, service account "web-sa"
//	ns/db      on worker-2: secret "db-secret", configmap "db-config"
//	ns/pending on no node:  secret "pending-secret"
//	ns/mirror  on worker-1, a mirror pod: secret "mirror-secret"
//	other/web  on worker-2: secret "app-secret" (the name web uses in ns)
func newNode(t *testing.T) (*RBAC, *Node) {
	t.Helper()
	r := newRBAC(t)
	n := &Node{Store: r.Store, Pods: pods}
	container := func(env ...any) map[string]any {
		return map[string]any{"name": "c", "image": "nginx", "env": env}
	}
	for _, pod := range []object.Object{
		podObject("ns", "web", "worker-1", nil, map[string]any{
			"serviceAccountName": "web-sa",
			"imagePullSecrets":   []any{map[string]any{"name": "registry-secret"}},
			"initContainers": []any{map[string]any{"name": "init", "image": "busybox",
				"envFrom": []any{map[string]any{"secretRef": map[string]any{"name": "init-env-secret"}}}}},
			"containers": []any{container(
				map[string]any{"name": "A", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "env-secret", "key": "a"}}},
				map[string]any{"name": "B", "valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": "env-config", "key": "b"}}},
			)},
			"volumes": []any{
				map[string]any{"name": "s", "secret": map[string]any{"secretName": "app-secret"}},
				map[string]any{"name": "c", "configMap": map[string]any{"name": "app-config"}},
				map[string]any{"name": "p", "projected": map[string]any{"sources": []any{
					map[string]any{"secret": map[string]any{"name": "projected-secret"}},
					map[string]any{"configMap": map[string]any{"name": "projected-config"}},
				}}},
				map[string]any{"name": "csi", "csi": map[string]any{"driver": "d", "nodePublishSecretRef": map[string]any{"name": "csi-secret"}}},
				map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "web-data"}},
				map[string]any{"name": "scratch", "ephemeral": map[string]any{"volumeClaimTemplate": map[string]any{}}},
			},
		}),
		podObject("ns", "db", "worker-2", nil, map[string]any{"containers": []any{container()}, "volumes": []any{
			map[string]any{"name": "s", "secret": map[string]any{"secretName": "db-secret"}},
			map[string]any{"name": "c", "configMap": map[string]any{"name": "db-config"}},
		}}),
		podObject("ns", "pending", "", nil, map[string]any{"containers": []any{container()}, "volumes": []any{
			map[string]any{"name": "s", "secret": map[string]any{"secretName": "pending-secret"}},
		}}),
		podObject("ns", "mirror", "worker-1", map[string]any{mirrorPodAnnotation: "abc"}, map[string]any{"containers": []any{container()}, "volumes": []any{
			map[string]any{"name": "s", "secret": map[string]any{"secretName": "mirror-secret"}},
		}}),
		podObject("other", "web", "worker-2", nil, map[string]any{"containers": []any{container()}, "volumes": []any{
			map[string]any{"name": "s", "secret": map[string]any{"secretName": "app-secret"}},
		}}),
	} {
		if _, err := r.Store.Create(context.Background(), pods, pod); err != nil {
			t.Fatal(err)
		}
	}
	return r, n
}

func podObject(namespace, name, node string, annotations, spec map[string]any) object.Object {
	meta := map[string]any{"name": name, "namespace": namespace}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	if node != "" {
		spec["nodeName"] = node
	}
	return toJSON(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
}

// selecting is a list or watch with a field selector.
func selecting(a Attributes, fieldSelector string) Attributes {
	a.FieldSelector = fieldSelector
	return a
}

func TestNodeAuthorizer(t *testing.T) {
	_, n := newNode(t)
	noGroup := &request.User{Name: "system:node:worker-1", Groups: []string{request.GroupAuthenticated}}
	noPrefix := &request.User{Name: "worker-1", Groups: []string{GroupNodes}}
	nameless := &request.User{Name: "system:node:", Groups: []string{GroupNodes}}
	res := resourceAttrs
	tests := []struct {
		name   string
		attrs  Attributes
		want   Decision
		reason string // for NoOpinion; "" to not check it
	}{
		// Who is a node.
		{"not in system:nodes", res(noGroup, "get", "", "nodes", "", "worker-1"), NoOpinion, ""},
		{"not named system:node:", res(noPrefix, "get", "", "nodes", "", "worker-1"), NoOpinion, ""},
		{"a node without a name", res(nameless, "get", "", "nodes", "", ""), NoOpinion, `unknown node for user "system:node:"`},
		{"someone else", res(alice, "get", "", "pods", "ns", "web"), NoOpinion, ""},

		// Its own Node, and not another's.
		{"get own node", res(worker1, "get", "", "nodes", "", "worker-1"), Allow, ""},
		{"get another node", res(worker1, "get", "", "nodes", "", "worker-2"), NoOpinion, `node "worker-1" cannot get Node "worker-2", only its own Node object`},
		{"watch own node", res(worker1, "watch", "", "nodes", "", "worker-1"), Allow, ""},
		{"list all nodes", res(worker1, "list", "", "nodes", "", ""), NoOpinion, `node "worker-1" can only list its own Node object, not all nodes`},
		{"create a node", res(worker1, "create", "", "nodes", "", ""), Allow, ""},
		{"update own node", res(worker1, "update", "", "nodes", "", "worker-1"), Allow, ""},
		{"patch another node", res(worker1, "patch", "", "nodes", "", "worker-2"), NoOpinion, `node "worker-1" cannot patch Node "worker-2", only its own Node object`},
		{"patch own status", res(worker1, "patch", "", "nodes/status", "", "worker-1"), Allow, ""},
		{"update another's status", res(worker1, "update", "", "nodes/status", "", "worker-2"), NoOpinion, ""},
		{"delete own node", res(worker1, "delete", "", "nodes", "", "worker-1"), NoOpinion, ""},

		// Pods bound to it, and no others.
		{"get a bound pod", res(worker1, "get", "", "pods", "ns", "web"), Allow, ""},
		{"get another node's pod", res(worker2, "get", "", "pods", "ns", "web"), NoOpinion, `no relationship found between node "worker-2" and this object`},
		{"get a pending pod", res(worker1, "get", "", "pods", "ns", "pending"), NoOpinion, `no relationship found between node "worker-1" and this object`},
		{"get a missing pod", res(worker1, "get", "", "pods", "ns", "nope"), NoOpinion, `no relationship found between node "worker-1" and this object`},
		{"list with its nodeName", selecting(res(worker1, "list", "", "pods", "", ""), "spec.nodeName=worker-1"), Allow, ""},
		{"watch with its nodeName (==)", selecting(res(worker1, "watch", "", "pods", "ns", ""), "spec.nodeName==worker-1"), Allow, ""},
		{"list with its nodeName among others", selecting(res(worker1, "list", "", "pods", "", ""), "metadata.namespace=ns,spec.nodeName=worker-1"), Allow, ""},
		{"list without a selector", res(worker1, "list", "", "pods", "", ""), NoOpinion, "can only list/watch pods with spec.nodeName field selector"},
		{"list another node's pods", selecting(res(worker1, "list", "", "pods", "", ""), "spec.nodeName=worker-2"), NoOpinion, "can only list/watch pods with spec.nodeName field selector"},
		{"list all but its pods", selecting(res(worker1, "list", "", "pods", "", ""), "spec.nodeName!=worker-1"), NoOpinion, ""},
		{"watch one bound pod by name", res(worker1, "watch", "", "pods", "ns", "web"), Allow, ""},
		{"watch one unbound pod by name", res(worker1, "watch", "", "pods", "ns", "db"), NoOpinion, ""},
		{"update a bound pod's status", res(worker1, "update", "", "pods/status", "ns", "web"), Allow, ""},
		{"patch another node's pod's status", res(worker1, "patch", "", "pods/status", "ns", "db"), NoOpinion, ""},
		{"update a bound pod", res(worker1, "update", "", "pods", "ns", "web"), NoOpinion, ""},
		{"create a pod", res(worker1, "create", "", "pods", "ns", ""), NoOpinion, ""},
		{"delete a bound pod", res(worker1, "delete", "", "pods", "ns", "web"), NoOpinion, ""},
		{"a bound pod's log", res(worker1, "get", "", "pods/log", "ns", "web"), NoOpinion, ""},

		// What its pods refer to, and nothing else.
		{"secret volume", res(worker1, "get", "", "secrets", "ns", "app-secret"), Allow, ""},
		{"image pull secret", res(worker1, "get", "", "secrets", "ns", "registry-secret"), Allow, ""},
		{"init container envFrom", res(worker1, "get", "", "secrets", "ns", "init-env-secret"), Allow, ""},
		{"env valueFrom secret", res(worker1, "get", "", "secrets", "ns", "env-secret"), Allow, ""},
		{"projected secret", res(worker1, "get", "", "secrets", "ns", "projected-secret"), Allow, ""},
		{"CSI secret", res(worker1, "get", "", "secrets", "ns", "csi-secret"), Allow, ""},
		{"watch a referenced secret by name", res(worker1, "watch", "", "secrets", "ns", "app-secret"), Allow, ""},
		{"list a referenced secret by name", res(worker1, "list", "", "secrets", "ns", "app-secret"), Allow, ""},
		{"another node's pod's secret", res(worker1, "get", "", "secrets", "ns", "db-secret"), NoOpinion, `no relationship found between node "worker-1" and this object`},
		{"the secret, for the node its pod is on", res(worker2, "get", "", "secrets", "ns", "db-secret"), Allow, ""},
		{"a pending pod's secret", res(worker1, "get", "", "secrets", "ns", "pending-secret"), NoOpinion, ""},
		{"a mirror pod's secret", res(worker1, "get", "", "secrets", "ns", "mirror-secret"), NoOpinion, ""},
		{"same name, namespace whose pod is elsewhere", res(worker1, "get", "", "secrets", "other", "app-secret"), NoOpinion, ""},
		{"an unreferenced secret", res(worker1, "get", "", "secrets", "ns", "admin-secret"), NoOpinion, ""},
		{"list secrets", res(worker1, "list", "", "secrets", "ns", ""), NoOpinion, "no object name found"},
		{"list secrets everywhere", res(worker1, "list", "", "secrets", "", ""), NoOpinion, "can only read namespaced secrets"},
		{"update a referenced secret", res(worker1, "update", "", "secrets", "ns", "app-secret"), NoOpinion, "can only get/list/watch secrets"},
		{"configmap volume", res(worker1, "get", "", "configmaps", "ns", "app-config"), Allow, ""},
		{"env valueFrom configmap", res(worker1, "get", "", "configmaps", "ns", "env-config"), Allow, ""},
		{"projected configmap", res(worker1, "watch", "", "configmaps", "ns", "projected-config"), Allow, ""},
		{"another node's pod's configmap", res(worker1, "get", "", "configmaps", "ns", "db-config"), NoOpinion, ""},
		{"its pod's service account", res(worker1, "get", "", "serviceaccounts", "ns", "web-sa"), Allow, ""},
		{"a token for its pod's service account", res(worker1, "create", "", "serviceaccounts/token", "ns", "web-sa"), Allow, ""},
		{"another service account", res(worker1, "get", "", "serviceaccounts", "ns", "default"), NoOpinion, ""},
		{"a token for another service account", res(worker1, "create", "", "serviceaccounts/token", "ns", "default"), NoOpinion, ""},
		{"list service accounts", res(worker1, "list", "", "serviceaccounts", "ns", "web-sa"), NoOpinion, "can only get serviceaccounts"},
		{"its pod's claim", res(worker1, "get", "", "persistentvolumeclaims", "ns", "web-data"), Allow, ""},
		{"its pod's ephemeral claim", res(worker1, "get", "", "persistentvolumeclaims", "ns", "web-scratch"), Allow, ""},
		{"watch its pod's claim", res(worker1, "watch", "", "persistentvolumeclaims", "ns", "web-data"), NoOpinion, "can only get persistentvolumeclaims"},

		// Its lease.
		{"get own lease", res(worker1, "get", "coordination.k8s.io", "leases", "kube-node-lease", "worker-1"), Allow, ""},
		{"update another's lease", res(worker1, "update", "coordination.k8s.io", "leases", "kube-node-lease", "worker-2"), NoOpinion, ""},
		{"a lease elsewhere", res(worker1, "get", "coordination.k8s.io", "leases", "kube-system", "worker-1"), NoOpinion, ""},

		// What every kubelet may do, and what none may.
		{"report an event", res(worker1, "create", "", "events", "ns", ""), Allow, ""},
		{"watch services", res(worker1, "watch", "", "services", "", ""), Allow, ""},
		{"review a token", res(worker1, "create", "authentication.k8s.io", "tokenreviews", "", ""), Allow, ""},
		{"delete a service", res(worker1, "delete", "", "services", "ns", "web"), NoOpinion, ""},
		{"list namespaces", res(worker1, "list", "", "namespaces", "", ""), NoOpinion, ""},
		{"read roles", res(worker1, "get", Group, "roles", "ns", "r"), NoOpinion, ""},
		{"a non-resource path", Attributes{User: worker1, Verb: "get", Path: "/metrics"}, NoOpinion, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := decide(t, n, tt.attrs)
			if got != tt.want || got == NoOpinion && tt.reason != "" && reason != tt.reason {
				t.Errorf("got %v %q, want %v %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestPodReferences(t *testing.T) {
	_, n := newNode(t)
	web, err := n.Store.Get(context.Background(), pods, "ns", "web")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"serviceaccounts":        {"web-sa"},
		"secrets":                {"registry-secret", "init-env-secret", "env-secret", "app-secret", "projected-secret", "csi-secret"},
		"configmaps":             {"env-config", "app-config", "projected-config"},
		"persistentvolumeclaims": {"web-data", "web-scratch"},
	}
	got := podReferences(web)
	for resource, names := range want {
		if !slices.Equal(got[resource], names) {
			t.Errorf("%s: got %v, want %v", resource, got[resource], names)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
	mirror, _ := n.Store.Get(context.Background(), pods, "ns", "mirror")
	if refs := podReferences(mirror); len(refs) != 0 {
		t.Errorf("a mirror pod refers to %v", refs)
	}
}

// With Node,RBAC, what the Node authorizer has no opinion on is RBAC's to
// allow; and a 403 says why both said no.
func TestNodeThenRBAC(t *testing.T) {
	r, n := newNode(t)
	a, err := New("Node,RBAC", r, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	createClusterRole(t, r, "read-configmaps", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}})
	createClusterRoleBinding(t, r, "nodes-read-configmaps", "read-configmaps", group(GroupNodes))
	if got, _ := decide(t, a, resourceAttrs(worker1, "get", "", "configmaps", "ns", "db-config")); got != Allow {
		t.Errorf("RBAC's grant to system:nodes: %v", got)
	}
	got, reason := decide(t, a, resourceAttrs(worker1, "get", "", "secrets", "ns", "db-secret"))
	if want := `node: no relationship found between node "worker-1" and this object`; got != NoOpinion || reason != want {
		t.Errorf("got %v %q, want NoOpinion %q", got, reason, want)
	}
}

// Through the filter, a list's field selector and a watch of one object by
// metadata.name reach the authorizer, as kube-apiserver's RequestInfo
// carries them.
func TestNodeAuthorizationFilter(t *testing.T) {
	r, n := newNode(t)
	a, err := New("Node,RBAC", r, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := WithAuthorization(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), a)
	tests := []struct {
		target string
		want   int
	}{
		{"/api/v1/pods?fieldSelector=spec.nodeName%3Dworker-1", http.StatusOK},
		{"/api/v1/pods?fieldSelector=spec.nodeName%3Dworker-1&watch=true", http.StatusOK},
		{"/api/v1/pods?fieldSelector=spec.nodeName%3Dworker-2", http.StatusForbidden},
		{"/api/v1/pods", http.StatusForbidden},
		{"/api/v1/nodes?fieldSelector=metadata.name%3Dworker-1&watch=true", http.StatusOK},
		{"/api/v1/nodes?fieldSelector=metadata.name%3Dworker-2", http.StatusForbidden},
		{"/api/v1/nodes", http.StatusForbidden},
		{"/api/v1/nodes/worker-1", http.StatusOK},
		{"/api/v1/namespaces/ns/secrets?fieldSelector=metadata.name%3Dapp-secret&watch=1", http.StatusOK},
		{"/api/v1/namespaces/ns/secrets?fieldSelector=metadata.name%3Ddb-secret&watch=1", http.StatusForbidden},
		{"/api/v1/namespaces/ns/secrets", http.StatusForbidden},
	}
	for _, tt := range tests {
		code, body := serve(t, h, worker1, http.MethodGet, tt.target, nil)
		if code != tt.want {
			t.Errorf("GET %s: %d %v, want %d", tt.target, code, body["message"], tt.want)
		}
	}
	// The name of a watched object is in the 403, as in Kubernetes.
	_, body := serve(t, h, worker1, http.MethodGet, "/api/v1/nodes?fieldSelector=metadata.name%3Dworker-2&watch=true", nil)
	if msg, _ := body["message"].(string); !strings.HasPrefix(msg, `nodes "worker-2" is forbidden: User "system:node:worker-1" cannot watch resource "nodes"`) {
		t.Errorf("message %q", msg)
	}
}

// RBAC's resourceNames cover a list or watch of metadata.name=<name>, as
// in Kubernetes (kubectl get configmap x -w asks that way).
func TestResourceNamesCoverAWatchByName(t *testing.T) {
	r, a := newChain(t)
	createRole(t, r, "ns", "one", PolicyRule{Verbs: []string{"list", "watch"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"one"}})
	createRoleBinding(t, r, "ns", "bob-one", role("one"), user("bob"))
	h := WithAuthorization(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), a)
	for target, want := range map[string]int{
		"/api/v1/namespaces/ns/configmaps?fieldSelector=metadata.name%3Done&watch=true": http.StatusOK,
		"/api/v1/namespaces/ns/configmaps?fieldSelector=metadata.name%3Done":            http.StatusOK,
		"/api/v1/namespaces/ns/configmaps?fieldSelector=metadata.name%3Dtwo":            http.StatusForbidden,
		"/api/v1/namespaces/ns/configmaps?fieldSelector=metadata.name!%3Done":           http.StatusForbidden,
		"/api/v1/namespaces/ns/configmaps":                                              http.StatusForbidden,
	} {
		if code, body := serve(t, h, bob, http.MethodGet, target, nil); code != want {
			t.Errorf("GET %s: %d %v, want %d", target, code, body["message"], want)
		}
	}
}
