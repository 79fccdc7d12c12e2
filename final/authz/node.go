// The Node authorizer (--authorization-mode=Node): a kubelet may read and
// write what its own node needs and nothing of other nodes: its Node, the
// pods bound to it, and the secrets, configmaps, service accounts and
// persistent volume claims those pods refer to. RBAC could only grant a
// kubelet "all secrets"; this authorizer grants "the secrets of my pods".
// Kubernetes: plugin/pkg/auth/authorizer/node (node_authorizer.go, and
// graph.go for what a pod refers to), pkg/auth/nodeidentifier for who is a
// node.

package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/selectors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// A kubelet's identity, as its client certificate (or bootstrap-issued
// certificate) names it: user system:node:<node name> in group system:nodes.
const (
	NodeUserPrefix = "system:node:"
	GroupNodes     = "system:nodes"
)

// nodeLeaseNamespace holds one Lease per node, the kubelet's heartbeat.
const nodeLeaseNamespace = "kube-node-lease"

// mirrorPodAnnotation marks a pod the kubelet created for a static pod.
const mirrorPodAnnotation = "kubernetes.io/config.mirror"

// NodeIdentity tells whether a user is a node, and which one: the name
// must start with system:node: and the groups hold system:nodes. A node with
// an empty name is a node nobody can tell apart; it gets nothing.
func NodeIdentity(u *request.User) (node string, isNode bool) {
	if u == nil {
		return "", false
	}
	name, ok := strings.CutPrefix(u.Name, NodeUserPrefix)
	if !ok || !slices.Contains(u.Groups, GroupNodes) {
		return "", false
	}
	return name, true
}

// Node is the Node authorizer. Kubernetes keeps, in memory, a graph of
// which pod runs on which node and which objects each pod refers to, fed by
// informers. This one asks the store instead, on each request that needs
// it: one Get of the pod for a pod's own requests, and a read of the
// namespace's pods for a secret, configmap, service account or claim. That
// costs a read of every pod of the namespace per such request, which is
// what a kubelet does once per object it starts watching; in return there
// is no index to keep in step, and a pod's references count from the moment
// it is stored until it is deleted.
//
// It never denies: what it does not allow, it has no opinion on, so a later
// authorizer (RBAC) may still allow it.
type Node struct {
	Store *store.Store
	Pods  *registry.Resource
}

// Authorize implements Authorizer.
func (n *Node) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	node, isNode := NodeIdentity(a.User)
	if !isNode {
		return NoOpinion, "", nil
	}
	if node == "" {
		return NoOpinion, fmt.Sprintf("unknown node for user %q", a.User.Name), nil
	}
	if a.ResourceRequest {
		switch a.APIGroup + "/" + a.Resource {
		case "/nodes":
			return authorizeNode(node, a)
		case "/pods":
			return n.authorizePod(ctx, node, a)
		case "/secrets", "/configmaps":
			return n.authorizeRead(ctx, node, a, []string{"get", "list", "watch"})
		case "/persistentvolumeclaims":
			return n.authorizeRead(ctx, node, a, []string{"get"})
		case "/serviceaccounts":
			if a.Verb == "create" && a.Subresource == "token" && a.Name != "" {
				return n.authorizeRelated(ctx, node, a)
			}
			return n.authorizeRead(ctx, node, a, []string{"get"})
		case "coordination.k8s.io/leases":
			return authorizeLease(node, a)
		}
	}
	if slices.ContainsFunc(nodeRules, func(rule PolicyRule) bool { return ruleAllows(a, rule) }) {
		return Allow, "", nil
	}
	return NoOpinion, "", nil
}

// nodeRules are what every kubelet may do on resources the authorizer does
// not look into: the part of Kubernetes' bootstrap NodeRules() for
// resources this server serves. A kubelet checks callers of its own API
// with reviews, reads services for pods' environment variables, and
// reports events.
var nodeRules = []PolicyRule{
	{Verbs: []string{"create"}, APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}},
	{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews", "localsubjectaccessreviews"}},
	{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"services"}},
	{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"endpoints"}},
	{Verbs: []string{"create", "update", "patch"}, APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}},
}

// authorizeNode: a kubelet reads its own Node (get, or list and watch of
// metadata.name=<node>, which it may do before the Node exists) and
// updates it and its status. Kubernetes allows update and patch of any Node
// here and leaves the name to the NodeRestriction admission plugin; the
// name is in the URL, so this authorizer checks it itself. The name of a
// Node being created is only in the body, so create is allowed for any
// name, as in Kubernetes: NodeRestriction is what holds a kubelet to its own.
func authorizeNode(node string, a Attributes) (Decision, string, error) {
	switch {
	case a.Subresource == "" && a.Verb == "create":
		return Allow, "", nil
	case a.Subresource == "" && slices.Contains([]string{"get", "list", "watch", "update", "patch"}, a.Verb),
		a.Subresource == "status" && slices.Contains([]string{"update", "patch"}, a.Verb):
		switch a.Name {
		case node:
			return Allow, "", nil
		case "":
			return NoOpinion, fmt.Sprintf("node %q can only %s its own Node object, not all nodes", node, a.Verb), nil
		}
		return NoOpinion, fmt.Sprintf("node %q cannot %s Node %q, only its own Node object", node, a.Verb, a.Name), nil
	}
	return NoOpinion, "", nil
}

// authorizePod: a kubelet reads the pods bound to it (spec.nodeName): one
// by name, or all of them by listing and watching with the field selector
// spec.nodeName=<node>; and it reports their status. Kubernetes also
// allows creating and deleting mirror pods, and evictions, leaving the
// check to NodeRestriction; without that plugin here, those are left to RBAC.
func (n *Node) authorizePod(ctx context.Context, node string, a Attributes) (Decision, string, error) {
	switch {
	case a.Subresource == "" && (a.Verb == "list" || a.Verb == "watch"):
		if slices.Contains(equalityRequirements(a.FieldSelector), [2]string{"spec.nodeName", node}) {
			return Allow, "", nil
		}
		if a.Name == "" {
			return NoOpinion, "can only list/watch pods with spec.nodeName field selector", nil
		}
		return n.authorizeBoundPod(ctx, node, a)
	case a.Subresource == "" && a.Verb == "get",
		a.Subresource == "status" && (a.Verb == "update" || a.Verb == "patch"):
		return n.authorizeBoundPod(ctx, node, a)
	}
	return NoOpinion, "", nil
}

// authorizeBoundPod allows a request about one pod bound to node.
func (n *Node) authorizeBoundPod(ctx context.Context, node string, a Attributes) (Decision, string, error) {
	if a.Name == "" || a.Namespace == "" {
		return NoOpinion, "can only access individual pods", nil
	}
	pod, err := n.Store.Get(ctx, n.Pods, a.Namespace, a.Name)
	if apierrors.IsNotFound(err) {
		return NoOpinion, noRelationship(node), nil
	}
	if err != nil {
		return NoOpinion, "", err
	}
	if boundTo(pod) != node {
		return NoOpinion, noRelationship(node), nil
	}
	return Allow, "", nil
}

// authorizeRead allows verbs (no subresource) on one object, by name, in a
// namespace, that a pod bound to node refers to.
func (n *Node) authorizeRead(ctx context.Context, node string, a Attributes, verbs []string) (Decision, string, error) {
	switch {
	case !slices.Contains(verbs, a.Verb):
		return NoOpinion, fmt.Sprintf("can only %s %s", strings.Join(verbs, "/"), a.Resource), nil
	case a.Subresource != "":
		return NoOpinion, "cannot read subresource", nil
	case a.Namespace == "":
		return NoOpinion, fmt.Sprintf("can only read namespaced %s", a.Resource), nil
	}
	return n.authorizeRelated(ctx, node, a)
}

// authorizeRelated allows a request about the named object when a pod
// bound to node refers to it.
func (n *Node) authorizeRelated(ctx context.Context, node string, a Attributes) (Decision, string, error) {
	if a.Name == "" {
		return NoOpinion, "no object name found", nil
	}
	related, err := n.referencedBy(ctx, node, a.Namespace, a.Resource, a.Name)
	if err != nil {
		return NoOpinion, "", err
	}
	if !related {
		return NoOpinion, noRelationship(node), nil
	}
	return Allow, "", nil
}

func noRelationship(node string) string {
	return fmt.Sprintf("no relationship found between node %q and this object", node)
}

// referencedBy tells whether a pod bound to node, in namespace, refers to
// the object of resource by name. It reads the namespace's pods: the
// per-request index that stands for Kubernetes' graph.
func (n *Node) referencedBy(ctx context.Context, node, namespace, resource, name string) (bool, error) {
	pods, _, _, err := n.Store.List(ctx, n.Pods, namespace, store.ListOptions{
		Match: func(pod object.Object) bool { return boundTo(pod) == node },
	})
	if err != nil {
		return false, err
	}
	for _, pod := range pods {
		if slices.Contains(podReferences(pod)[resource], name) {
			return true, nil
		}
	}
	return false, nil
}

// authorizeLease: a kubelet heartbeats through the Lease named after its
// node in kube-node-lease. Create is allowed for any name there, as in
// Kubernetes, whose authorizer cannot see the name of an object being
// created either.
func authorizeLease(node string, a Attributes) (Decision, string, error) {
	if !slices.Contains([]string{"get", "create", "update", "patch", "delete"}, a.Verb) || a.Subresource != "" {
		return NoOpinion, "can only get, create, update, patch, or delete a node lease", nil
	}
	if a.Namespace != nodeLeaseNamespace {
		return NoOpinion, fmt.Sprintf("can only access leases in the %q system namespace", nodeLeaseNamespace), nil
	}
	if a.Verb != "create" && a.Name != node {
		return NoOpinion, "can only access node lease with the same name as the requesting node", nil
	}
	return Allow, "", nil
}

// boundTo is the node a pod is bound to ("" if none yet).
func boundTo(pod object.Object) string {
	spec, _ := pod["spec"].(map[string]any)
	node, _ := spec["nodeName"].(string)
	return node
}

// podReferences lists the objects of its namespace a pod refers to, by
// resource: "secrets" (image pull secrets, secret volumes and projected
// sources, volume plugins' secretRefs, envFrom and env valueFrom),
// "configmaps" (the same for configmaps), "serviceaccounts" (its service
// account) and "persistentvolumeclaims" (claims, and the claims of its
// ephemeral volumes, named <pod>-<volume>). Init and ephemeral containers
// count. A mirror pod refers to nothing: the kubelet created it, and must
// not grant itself access by naming secrets in it.
func podReferences(pod object.Object) map[string][]string {
	refs := map[string][]string{}
	add := func(resource string, name any) {
		if s, ok := name.(string); ok && s != "" && !slices.Contains(refs[resource], s) {
			refs[resource] = append(refs[resource], s)
		}
	}
	if annotations, _ := at(map[string]any(pod), "metadata", "annotations").(map[string]any); annotations != nil {
		if _, mirror := annotations[mirrorPodAnnotation]; mirror {
			return refs
		}
	}
	spec, _ := pod["spec"].(map[string]any)
	sa := spec["serviceAccountName"]
	if sa == nil || sa == "" {
		sa = spec["serviceAccount"] // the deprecated name of the same field
	}
	add("serviceaccounts", sa)
	for _, ref := range maps(spec["imagePullSecrets"]) {
		add("secrets", ref["name"])
	}
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		for _, c := range maps(spec[field]) {
			for _, from := range maps(c["envFrom"]) {
				add("secrets", at(from, "secretRef", "name"))
				add("configmaps", at(from, "configMapRef", "name"))
			}
			for _, env := range maps(c["env"]) {
				add("secrets", at(env, "valueFrom", "secretKeyRef", "name"))
				add("configmaps", at(env, "valueFrom", "configMapKeyRef", "name"))
			}
		}
	}
	for _, v := range maps(spec["volumes"]) {
		add("secrets", at(v, "secret", "secretName"))
		add("secrets", at(v, "azureFile", "secretName"))
		for _, plugin := range []string{"cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos"} {
			add("secrets", at(v, plugin, "secretRef", "name"))
		}
		add("secrets", at(v, "csi", "nodePublishSecretRef", "name"))
		add("configmaps", at(v, "configMap", "name"))
		if projected, ok := v["projected"].(map[string]any); ok {
			for _, source := range maps(projected["sources"]) {
				add("secrets", at(source, "secret", "name"))
				add("configmaps", at(source, "configMap", "name"))
			}
		}
		add("persistentvolumeclaims", at(v, "persistentVolumeClaim", "claimName"))
		if _, ok := v["ephemeral"].(map[string]any); ok {
			if name, _ := v["name"].(string); name != "" {
				add("persistentvolumeclaims", pod.MetaString("name")+"-"+name)
			}
		}
	}
	return refs
}

// maps are the objects of a decoded JSON list.
func maps(v any) []map[string]any {
	list, _ := v.([]any)
	var out []map[string]any
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// at reads a value at a path of decoded JSON objects (nil if absent).
func at(v any, path ...string) any {
	for _, key := range path {
		m, _ := v.(map[string]any)
		v = m[key]
	}
	return v
}

// equalityRequirements are the field=value and field==value terms of a
// field selector, as [field, value] pairs, read as the list reads them. A
// term with != requires no value, and is left out; a selector that does
// not parse has none (the list refuses it).
func equalityRequirements(selector string) [][2]string {
	out, _ := selectors.FieldEqualities(selector)
	return out
}
