// ServiceAccount: every pod runs as a ServiceAccount of its namespace, the
// "default" one unless it names another, and that account must exist. The
// pod gets the account's credentials as a projected volume,
// kube-api-access-<random>, mounted read-only at
// /var/run/secrets/kubernetes.io/serviceaccount in every container: a
// token the kubelet requests for the pod (TokenRequest), the cluster's CA
// (from the kube-root-ca.crt ConfigMap) and the pod's namespace. That is all
// client-go's rest.InClusterConfig reads.
//
// The controllers' part, giving each namespace its "default" account and
// its kube-root-ca.crt ConfigMap, is here too: the plugin is useless
// without them.
//
// In Kubernetes: plugin/pkg/admission/serviceaccount; the controllers are
// kube-controller-manager's pkg/controller/serviceaccount and
// pkg/controller/certificates/rootcacertpublisher. Left out: the
// kubernetes.io/enforce-mountable-secrets annotation and the checks on
// ephemeral containers.

package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

const (
	// DefaultServiceAccountName is the account a pod runs as when it names none.
	DefaultServiceAccountName = "default"
	// ServiceAccountVolumePrefix starts the name of the token volume.
	ServiceAccountVolumePrefix = "kube-api-access-"
	// ServiceAccountMountPath is where every container finds the token,
	// the CA and the namespace.
	ServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// RootCAConfigMapName is the ConfigMap in every namespace that holds
	// the cluster's CA, under the key ca.crt.
	RootCAConfigMapName = "kube-root-ca.crt"
	// tokenExpirationSeconds is the lifetime the projected token asks for:
	// an hour and seven seconds, the number Kubernetes uses so that the
	// kubelet's requests can be told from others.
	tokenExpirationSeconds = 3607
	// mirrorPodAnnotation marks a static pod's copy in the API.
	mirrorPodAnnotation = "kubernetes.io/config.mirror"
)

type serviceAccount struct{ deps Dependencies }

// admit gives a new pod the default ServiceAccount when it names none, then
// the account's token volume (unless the pod or the account turns
// automountServiceAccountToken off) and the account's image pull secrets
// (unless the pod has its own). An account that does not exist refuses the
// pod here already, as in Kubernetes. A mirror pod is not changed: the
// kubelet would see a pod that differs from its manifest.
func (p serviceAccount) admit(ctx context.Context, a *Attributes) error {
	if !p.handles(a) {
		return nil
	}
	spec, ok := a.Object["spec"].(map[string]any)
	if !ok {
		return nil // not a pod validation will accept
	}
	if isMirrorPod(a.Object) {
		return p.validate(ctx, a)
	}
	if name, _ := spec["serviceAccountName"].(string); name == "" {
		spec["serviceAccountName"] = DefaultServiceAccountName
		spec["serviceAccount"] = DefaultServiceAccountName // the deprecated name, kept in step
	}
	name, _ := spec["serviceAccountName"].(string)
	sa, err := p.get(ctx, a, name)
	if err != nil {
		return err
	}
	if automount(spec, sa) {
		mountServiceAccountToken(spec)
	}
	if secrets, _ := spec["imagePullSecrets"].([]any); len(secrets) == 0 {
		var fromAccount []any
		for _, ref := range objects(sa["imagePullSecrets"]) {
			fromAccount = append(fromAccount, map[string]any{"name": ref["name"]})
		}
		if len(fromAccount) > 0 {
			spec["imagePullSecrets"] = fromAccount
		}
	}
	return nil
}

// validate refuses a pod whose ServiceAccount does not exist, after the
// mutating webhooks, which may have named another, and a mirror pod that
// uses service-account credentials at all.
func (p serviceAccount) validate(ctx context.Context, a *Attributes) error {
	if !p.handles(a) {
		return nil
	}
	spec, _ := a.Object["spec"].(map[string]any)
	name, _ := spec["serviceAccountName"].(string)
	if isMirrorPod(a.Object) {
		if name != "" {
			return forbidden(a, fmt.Errorf("a mirror pod may not reference service accounts"))
		}
		for _, v := range objects(spec["volumes"]) {
			projected, _ := v["projected"].(map[string]any)
			for _, source := range objects(projected["sources"]) {
				if source["serviceAccountToken"] != nil {
					return forbidden(a, fmt.Errorf("a mirror pod may not use ServiceAccountToken volume projections"))
				}
			}
		}
		return nil
	}
	if name == "" {
		return forbidden(a, fmt.Errorf("no service account specified for pod %s/%s", a.Namespace, a.Name))
	}
	_, err := p.get(ctx, a, name)
	return err
}

// isMirrorPod: the kubelet's copy of a static pod.
func isMirrorPod(pod object.Object) bool {
	meta, _ := pod["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	_, mirror := annotations[mirrorPodAnnotation]
	return mirror
}

// get reads the pod's ServiceAccount; a missing one is the pod's 403.
func (p serviceAccount) get(ctx context.Context, a *Attributes, name string) (object.Object, error) {
	accounts, err := lookup(p.deps.Registry, "", "serviceaccounts")
	if err != nil {
		return nil, err
	}
	sa, err := p.deps.Store.Get(ctx, accounts, a.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			// Kubernetes reads the account from an informer's lister, whose
			// NotFound names the resource in the singular.
			err = fmt.Errorf("serviceaccount %q not found", name)
		}
		return nil, forbidden(a, fmt.Errorf("error looking up service account %s/%s: %v", a.Namespace, name, err))
	}
	return sa, nil
}

// handles: pods being created. A pod's ServiceAccount cannot change later.
func (serviceAccount) handles(a *Attributes) bool {
	return a.Operation == Create && isBuiltin(a.Resource, "", "Pod") && a.Subresource == "" && a.Object != nil
}

// automount: the pod's automountServiceAccountToken decides, else the
// account's, else yes.
func automount(spec map[string]any, sa object.Object) bool {
	if v, ok := spec["automountServiceAccountToken"].(bool); ok {
		return v
	}
	if v, ok := sa["automountServiceAccountToken"].(bool); ok {
		return v
	}
	return true
}

// mountServiceAccountToken mounts the token volume in every container and
// init container that has nothing mounted at ServiceAccountMountPath yet,
// and adds the volume if one of them needs it. A kube-api-access- volume
// the pod already has is reused.
func mountServiceAccountToken(spec map[string]any) {
	volumeName := ""
	for _, v := range objects(spec["volumes"]) {
		if name, _ := v["name"].(string); strings.HasPrefix(name, ServiceAccountVolumePrefix) {
			volumeName = name
			break
		}
	}
	haveVolume := volumeName != ""
	if !haveVolume {
		volumeName = object.GenerateName(ServiceAccountVolumePrefix)
	}
	needed := false
	for _, field := range []string{"initContainers", "containers"} {
		for _, c := range objects(spec[field]) {
			mounts, ok := c["volumeMounts"].([]any)
			if !ok && c["volumeMounts"] != nil {
				continue // not a list: validation refuses the pod
			}
			mounted := false
			for _, m := range objects(mounts) {
				if m["mountPath"] == ServiceAccountMountPath {
					mounted = true
					break
				}
			}
			if !mounted {
				c["volumeMounts"] = append(mounts, map[string]any{"name": volumeName, "readOnly": true, "mountPath": ServiceAccountMountPath})
				needed = true
			}
		}
	}
	if needed && !haveVolume {
		volumes, _ := spec["volumes"].([]any)
		spec["volumes"] = append(volumes, tokenVolume(volumeName))
	}
}

// tokenVolume is the projected volume of a pod's credentials.
func tokenVolume(name string) map[string]any {
	return map[string]any{
		"name": name,
		"projected": map[string]any{
			"defaultMode": json.Number("420"), // 0644, set explicitly as Kubernetes does
			"sources": []any{
				map[string]any{"serviceAccountToken": map[string]any{"expirationSeconds": json.Number(fmt.Sprint(tokenExpirationSeconds)), "path": "token"}},
				map[string]any{"configMap": map[string]any{"name": RootCAConfigMapName,
					"items": []any{map[string]any{"key": "ca.crt", "path": "ca.crt"}}}},
				map[string]any{"downwardAPI": map[string]any{"items": []any{map[string]any{"path": "namespace",
					"fieldRef": map[string]any{"apiVersion": "v1", "fieldPath": "metadata.namespace"}}}}},
			},
		},
	}
}

// CreateDefaultServiceAccount gives a namespace its "default" ServiceAccount,
// the job of Kubernetes' ServiceAccount controller
// (pkg/controller/serviceaccount): the server calls it when a namespace is
// created. An account that exists already is left as it is.
func CreateDefaultServiceAccount(ctx context.Context, st *store.Store, reg *registry.Registry, namespace string) error {
	accounts, err := lookup(reg, "", "serviceaccounts")
	if err != nil {
		return err
	}
	sa := object.Object{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{
		"name": DefaultServiceAccountName, "namespace": namespace, "uid": object.NewUID(), "creationTimestamp": object.Now()}}
	if _, err := st.Create(ctx, accounts, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the default ServiceAccount in %s: %w", namespace, err)
	}
	return nil
}

// rootCADescription is the annotation Kubernetes puts on kube-root-ca.crt.
const rootCADescription = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints " +
	"such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."

// PublishRootCA makes the namespace's kube-root-ca.crt ConfigMap hold caPEM
// (the CA that verifies this server's certificate), the job of
// kube-controller-manager's root-ca-cert-publisher: the server calls it when
// a namespace is created, and when someone deletes or changes the
// ConfigMap. It creates the ConfigMap, or puts back its data and
// description; one already right is not written. A namespace being deleted
// gets none.
func PublishRootCA(ctx context.Context, st *store.Store, reg *registry.Registry, namespace, caPEM string) error {
	configMaps, err := lookup(reg, "", "configmaps")
	if err != nil {
		return err
	}
	namespaces, err := lookup(reg, "", "namespaces")
	if err != nil {
		return err
	}
	if ns, err := st.Get(ctx, namespaces, "", namespace); err != nil || terminating(ns) {
		return nil // gone, or going: nothing to publish into
	}
	current, err := st.Get(ctx, configMaps, namespace, RootCAConfigMapName)
	if apierrors.IsNotFound(err) {
		cm := object.Object{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": RootCAConfigMapName, "namespace": namespace, "uid": object.NewUID(),
				"creationTimestamp": object.Now(), "annotations": map[string]any{"kubernetes.io/description": rootCADescription}},
			"data": map[string]any{"ca.crt": caPEM}}
		if _, err := st.Create(ctx, configMaps, cm); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s in %s: %w", RootCAConfigMapName, namespace, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if rootCAIsRight(current, caPEM) {
		return nil
	}
	_, err = st.Update(ctx, configMaps, namespace, RootCAConfigMapName, func(cm object.Object) (object.Object, error) {
		cm["data"] = map[string]any{"ca.crt": caPEM}
		meta := cm.Metadata()
		annotations, ok := meta["annotations"].(map[string]any)
		if !ok {
			annotations = map[string]any{}
			meta["annotations"] = annotations
		}
		annotations["kubernetes.io/description"] = rootCADescription
		return cm, nil
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating %s in %s: %w", RootCAConfigMapName, namespace, err)
	}
	return nil
}

// rootCAIsRight: exactly the CA under ca.crt, and a description.
func rootCAIsRight(cm object.Object, caPEM string) bool {
	data, _ := cm["data"].(map[string]any)
	annotations, _ := cm.Metadata()["annotations"].(map[string]any)
	description, _ := annotations["kubernetes.io/description"].(string)
	return len(data) == 1 && data["ca.crt"] == caPEM && description != ""
}
