package admission

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

func TestServiceAccountPlugin(t *testing.T) {
	tests := []struct {
		name, disable, serviceAccount string
		wantCode                      int // 0: admitted
		wantServiceAccount            any
		wantMessage                   string
	}{
		{name: "no service account: default", wantServiceAccount: "default"},
		{name: "an existing one is kept", serviceAccount: "default", wantServiceAccount: "default"},
		{name: "a missing one is refused", serviceAccount: "robot", wantCode: http.StatusForbidden,
			wantMessage: `pods "web" is forbidden: error looking up service account default/robot: serviceaccount "robot" not found`},
		{name: "disabled", disable: "ServiceAccount", wantServiceAccount: nil},
		{name: "disabled, a missing one is accepted", disable: "ServiceAccount", serviceAccount: "robot", wantServiceAccount: "robot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, deps := newTestChain(t, "", tt.disable)
			spec := `"containers":[{"name":"web","image":"nginx"}]`
			if tt.serviceAccount != "" {
				spec += `,"serviceAccountName":"` + tt.serviceAccount + `"`
			}
			pod := mustDecode(t, `{"metadata":{"name":"web","namespace":"default"},"spec":{`+spec+`}}`)
			err := admit(context.Background(), chain, &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "pods"),
				Namespace: "default", Name: "web", Object: pod})
			if tt.wantCode != 0 {
				if se := statusOf(t, err); se.Code != tt.wantCode || se.Message != tt.wantMessage {
					t.Errorf("admit: %d %s\nwant %d %s", se.Code, se.Message, tt.wantCode, tt.wantMessage)
				}
				return
			}
			if err != nil {
				t.Fatalf("admit: %v", err)
			}
			if got := at(pod, "spec", "serviceAccountName"); got != tt.wantServiceAccount {
				t.Errorf("serviceAccountName = %v, want %v", got, tt.wantServiceAccount)
			}
		})
	}
}

// Only the creation of a pod is the plugin's business: an update, a
// subresource, another kind pass untouched, whatever account they name.
func TestServiceAccountPluginScope(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	pods := deps.Registry.Lookup("", "pods")
	pod := `{"metadata":{"name":"web"},"spec":{"serviceAccountName":"gone","containers":[{"name":"web","image":"nginx"}]}}`
	for _, a := range []*Attributes{
		{Operation: Update, Resource: pods, Namespace: "default", Name: "web", Object: mustDecode(t, pod), OldObject: mustDecode(t, pod)},
		{Operation: Create, Resource: pods, Subresource: "binding", Namespace: "default", Name: "web", Object: mustDecode(t, pod)},
		{Operation: Create, Resource: deps.Registry.Lookup("", "configmaps"), Namespace: "default", Name: "web", Object: mustDecode(t, pod)},
	} {
		if err := admit(context.Background(), chain, a); err != nil {
			t.Errorf("%s %s/%s: %v", a.Operation, a.Resource.Name, a.Subresource, err)
		}
	}
	// A pod without a spec gets none from the plugin: validation refuses it.
	noSpec := mustDecode(t, `{"metadata":{"name":"web"}}`)
	if err := chain.Admit(context.Background(), &Attributes{Operation: Create, Resource: pods, Namespace: "default", Name: "web", Object: noSpec}); err != nil {
		t.Fatal(err)
	}
	if _, has := noSpec["spec"]; has {
		t.Errorf("the plugin gave a pod a spec: %v", noSpec)
	}
}

func TestCreateDefaultServiceAccount(t *testing.T) {
	deps := newDeps(t)
	ctx := context.Background()
	accounts := deps.Registry.Lookup("", "serviceaccounts")
	if err := CreateDefaultServiceAccount(ctx, deps.Store, deps.Registry, "team"); err != nil {
		t.Fatal(err)
	}
	sa, err := deps.Store.Get(ctx, accounts, "team", "default")
	if err != nil {
		t.Fatal(err)
	}
	if sa["kind"] != "ServiceAccount" || sa["apiVersion"] != "v1" || sa.MetaString("uid") == "" || sa.MetaString("creationTimestamp") == "" ||
		sa.MetaString("namespace") != "team" {
		t.Errorf("the default ServiceAccount: %v", sa)
	}
	// Again: the existing account is kept, with its uid (its tokens stay good).
	if err := CreateDefaultServiceAccount(ctx, deps.Store, deps.Registry, "team"); err != nil {
		t.Fatalf("a second time: %v", err)
	}
	again, _ := deps.Store.Get(ctx, accounts, "team", "default")
	if again.MetaString("uid") != sa.MetaString("uid") || again.MetaString("resourceVersion") != sa.MetaString("resourceVersion") {
		t.Errorf("the account was replaced: %v, was %v", again, sa)
	}
}

func TestAlwaysPullImages(t *testing.T) {
	pod := `{"metadata":{"name":"web"},"spec":{"initContainers":[{"name":"init","image":"busybox:1.36","imagePullPolicy":"IfNotPresent"}],
		"containers":[{"name":"web","image":"nginx:1.27","imagePullPolicy":"Never"},{"name":"sidecar","image":"envoy"}]}}`
	tests := []struct {
		enable                      string
		wantInit, wantWeb, wantSide any
	}{
		{"", "IfNotPresent", "Never", nil},
		{"AlwaysPullImages", "Always", "Always", "Always"}, // even over the client's choice
	}
	for _, tt := range tests {
		chain, deps := newTestChain(t, tt.enable, "")
		obj := mustDecode(t, pod)
		if err := admit(context.Background(), chain, &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "pods"),
			Namespace: "default", Name: "web", Object: obj}); err != nil {
			t.Fatalf("--enable-admission-plugins=%q: %v", tt.enable, err)
		}
		init, web, side := at(obj, "spec", "initContainers", 0, "imagePullPolicy"), at(obj, "spec", "containers", 0, "imagePullPolicy"), at(obj, "spec", "containers", 1, "imagePullPolicy")
		if init != tt.wantInit || web != tt.wantWeb || side != tt.wantSide {
			t.Errorf("--enable-admission-plugins=%q: imagePullPolicy init %v, web %v, sidecar %v; want %v, %v and %v",
				tt.enable, init, web, side, tt.wantInit, tt.wantWeb, tt.wantSide)
		}
	}
}

// What a later mutating plugin (a webhook) changes back is refused in the
// validating phase.
func TestAlwaysPullImagesValidates(t *testing.T) {
	chain, deps := newTestChain(t, "AlwaysPullImages", "")
	obj := mustDecode(t, `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx"},{"name":"b","image":"nginx"}]}}`)
	a := &Attributes{Operation: Update, Resource: deps.Registry.Lookup("", "pods"), Namespace: "default", Name: "web", Object: obj}
	if err := chain.Admit(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	at(obj, "spec", "containers", 1).(map[string]any)["imagePullPolicy"] = "IfNotPresent"
	se := statusOf(t, chain.Validate(context.Background(), a))
	const want = `pods "web" is forbidden: spec.containers[1].imagePullPolicy: Unsupported value: "IfNotPresent": supported values: "Always"`
	if se.Code != http.StatusForbidden || se.Message != want {
		t.Errorf("Validate: %d %s\nwant 403 %s", se.Code, se.Message, want)
	}
	// A status update does not choose images.
	a.Subresource = "status"
	if err := chain.Validate(context.Background(), a); err != nil {
		t.Errorf("Validate of pods/status: %v", err)
	}
}

// The volume Kubernetes gives a pod (plugin/pkg/admission/serviceaccount's
// TokenVolumeSource), as kube-apiserver v1.37 returns it.
const wantTokenVolume = `{"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},` +
	`{"configMap":{"items":[{"key":"ca.crt","path":"ca.crt"}],"name":"kube-root-ca.crt"}},` +
	`{"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}]}`

func TestServiceAccountTokenVolume(t *testing.T) {
	const mount = `{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"%s","readOnly":true}`
	tests := []struct {
		name, spec string
		// wantMounts are each container's volumeMounts (init containers
		// first), with %s for the token volume's name; nil: the pod gets
		// no token volume.
		wantMounts []string
		wantVolume string // the token volume's name, "" for a new random one
	}{
		{name: "every container and init container",
			spec:       `"initContainers":[{"name":"i","image":"busybox"}],"containers":[{"name":"a","image":"nginx","volumeMounts":[{"name":"x","mountPath":"/x"}]},{"name":"b","image":"nginx"}],"volumes":[{"name":"x","emptyDir":{}}]`,
			wantMounts: []string{`[` + mount + `]`, `[{"mountPath":"/x","name":"x"},` + mount + `]`, `[` + mount + `]`}},
		{name: "a container with something at the path keeps it",
			spec:       `"containers":[{"name":"a","image":"nginx","volumeMounts":[{"name":"mine","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]},{"name":"b","image":"nginx"}],"volumes":[{"name":"mine","emptyDir":{}}]`,
			wantMounts: []string{`[{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"mine"}]`, `[` + mount + `]`}},
		{name: "no container needs it: no volume",
			spec: `"containers":[{"name":"a","image":"nginx","volumeMounts":[{"name":"mine","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}],"volumes":[{"name":"mine","emptyDir":{}}]`},
		{name: "the pod's own kube-api-access volume is used",
			spec:       `"containers":[{"name":"a","image":"nginx"}],"volumes":[{"name":"kube-api-access-mine1","projected":{"sources":[]}}]`,
			wantMounts: []string{`[` + mount + `]`}, wantVolume: "kube-api-access-mine1"},
		{name: "the pod turns it off", spec: `"automountServiceAccountToken":false,"containers":[{"name":"a","image":"nginx"}]`},
		{name: "the account turns it off", spec: `"serviceAccountName":"robot","containers":[{"name":"a","image":"nginx"}]`},
		{name: "the pod's word wins over the account's",
			spec:       `"serviceAccountName":"robot","automountServiceAccountToken":true,"containers":[{"name":"a","image":"nginx"}]`,
			wantMounts: []string{`[` + mount + `]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, deps := newTestChain(t, "", "")
			storeObjects(t, deps, "", "serviceaccounts", `{"metadata":{"name":"robot","namespace":"default"},"automountServiceAccountToken":false}`)
			pod := mustDecode(t, `{"metadata":{"name":"web","namespace":"default"},"spec":{`+tt.spec+`}}`)
			volumesBefore, _ := at(pod, "spec", "volumes").([]any)
			if err := admit(context.Background(), chain, &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "pods"),
				Namespace: "default", Name: "web", Object: pod}); err != nil {
				t.Fatal(err)
			}
			volumes, _ := at(pod, "spec", "volumes").([]any)
			if tt.wantMounts == nil {
				if len(volumes) != len(volumesBefore) {
					t.Errorf("volumes %s: a token volume was added", encode(volumes))
				}
				for _, c := range objects(at(pod, "spec", "containers")) {
					if strings.Contains(encode(c["volumeMounts"]), "kube-api-access") {
						t.Errorf("container %v mounts a token: %s", c["name"], encode(c["volumeMounts"]))
					}
				}
				return
			}
			name := tt.wantVolume
			if name == "" {
				if len(volumes) != len(volumesBefore)+1 {
					t.Fatalf("volumes %s: want one more", encode(volumes))
				}
				last := volumes[len(volumes)-1].(map[string]any)
				name, _ = last["name"].(string)
				if !regexp.MustCompile(`^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$`).MatchString(name) {
					t.Errorf("the token volume is called %q", name)
				}
				if got := encode(last["projected"]); got != wantTokenVolume {
					t.Errorf("projected = %s\nwant %s", got, wantTokenVolume)
				}
			} else if len(volumes) != len(volumesBefore) {
				t.Errorf("volumes %s: none should be added", encode(volumes))
			}
			containers := append(objects(at(pod, "spec", "initContainers")), objects(at(pod, "spec", "containers"))...)
			for i, c := range containers {
				if want := strings.ReplaceAll(tt.wantMounts[i], "%s", name); encode(c["volumeMounts"]) != want {
					t.Errorf("container %v: volumeMounts %s\nwant %s", c["name"], encode(c["volumeMounts"]), want)
				}
			}
		})
	}
}

func TestServiceAccountImagePullSecrets(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	storeObjects(t, deps, "", "serviceaccounts", `{"metadata":{"name":"puller","namespace":"default"},"imagePullSecrets":[{"name":"registry"}]}`)
	for _, tt := range []struct{ own, want string }{
		{"", `[{"name":"registry"}]`},                                  // the account's
		{`,"imagePullSecrets":[{"name":"mine"}]`, `[{"name":"mine"}]`}, // the pod's own win
	} {
		pod := mustDecode(t, `{"metadata":{"name":"web"},"spec":{"serviceAccountName":"puller","containers":[{"name":"a","image":"nginx"}]`+tt.own+`}}`)
		if err := admit(context.Background(), chain, &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "pods"),
			Namespace: "default", Name: "web", Object: pod}); err != nil {
			t.Fatal(err)
		}
		if got := encode(at(pod, "spec", "imagePullSecrets")); got != tt.want {
			t.Errorf("imagePullSecrets = %s, want %s", got, tt.want)
		}
	}
}

// The kubelet's copy of a static pod is not changed, and may not use an
// account's credentials.
func TestServiceAccountMirrorPod(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	pods := deps.Registry.Lookup("", "pods")
	const mirror = `{"metadata":{"name":"etcd-node1","annotations":{"kubernetes.io/config.mirror":"abc"}},"spec":{%s"containers":[{"name":"etcd","image":"etcd"}]}}`
	pod := mustDecode(t, fmt.Sprintf(mirror, ""))
	before := encode(pod)
	if err := admit(context.Background(), chain, &Attributes{Operation: Create, Resource: pods, Namespace: "kube-system", Name: "etcd-node1", Object: pod}); err != nil {
		t.Fatal(err)
	}
	if encode(pod) != before {
		t.Errorf("the mirror pod was changed: %s", encode(pod))
	}
	err := admit(context.Background(), chain, &Attributes{Operation: Create, Resource: pods, Namespace: "kube-system", Name: "etcd-node1",
		Object: mustDecode(t, fmt.Sprintf(mirror, `"serviceAccountName":"default",`))})
	if se := statusOf(t, err); se.Code != http.StatusForbidden || se.Message != `pods "etcd-node1" is forbidden: a mirror pod may not reference service accounts` {
		t.Errorf("%d %s", se.Code, se.Message)
	}
}

func TestPublishRootCA(t *testing.T) {
	deps := newDeps(t)
	ctx := context.Background()
	configMaps := deps.Registry.Lookup("", "configmaps")
	const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	if err := PublishRootCA(ctx, deps.Store, deps.Registry, "default", ca); err != nil {
		t.Fatal(err)
	}
	cm, err := deps.Store.Get(ctx, configMaps, "default", "kube-root-ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(cm["data"]); got != `{"ca.crt":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}` {
		t.Errorf("data = %s", got)
	}
	if d, _ := at(cm, "metadata", "annotations", "kubernetes.io/description").(string); !strings.HasPrefix(d, "Contains a CA bundle that can be used to verify the kube-apiserver") {
		t.Errorf("description %q", d)
	}
	if cm["kind"] != "ConfigMap" || cm.MetaString("uid") == "" || cm.MetaString("creationTimestamp") == "" {
		t.Errorf("the ConfigMap: %s", encode(cm))
	}

	// Right already: not written again.
	if err := PublishRootCA(ctx, deps.Store, deps.Registry, "default", ca); err != nil {
		t.Fatal(err)
	}
	if again, _ := deps.Store.Get(ctx, configMaps, "default", "kube-root-ca.crt"); again.MetaString("resourceVersion") != cm.MetaString("resourceVersion") {
		t.Errorf("an unchanged ConfigMap was written again")
	}

	// Changed by someone: put back, their labels kept.
	if _, err := deps.Store.Update(ctx, configMaps, "default", "kube-root-ca.crt", func(o object.Object) (object.Object, error) {
		o["data"] = map[string]any{"ca.crt": "mine", "extra": "x"}
		o.Metadata()["labels"] = map[string]any{"team": "a"}
		return o, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := PublishRootCA(ctx, deps.Store, deps.Registry, "default", ca); err != nil {
		t.Fatal(err)
	}
	fixed, _ := deps.Store.Get(ctx, configMaps, "default", "kube-root-ca.crt")
	if encode(fixed["data"]) != encode(cm["data"]) || encode(fixed.Labels()) != `{"team":"a"}` {
		t.Errorf("after a change: data %s, labels %s", encode(fixed["data"]), encode(fixed.Labels()))
	}

	// A namespace that is gone or going gets none.
	storeObjects(t, deps, "", "namespaces", `{"metadata":{"name":"leaving","deletionTimestamp":"2026-01-01T00:00:00Z"},"status":{"phase":"Terminating"}}`)
	for _, ns := range []string{"leaving", "nowhere"} {
		if err := PublishRootCA(ctx, deps.Store, deps.Registry, ns, ca); err != nil {
			t.Errorf("%s: %v", ns, err)
		}
		if _, err := deps.Store.Get(ctx, configMaps, ns, "kube-root-ca.crt"); !apierrors.IsNotFound(err) {
			t.Errorf("%s: the ConfigMap: %v", ns, err)
		}
	}
}

// A pod given the default account names it under the deprecated field too,
// as Kubernetes keeps the two in step.
func TestServiceAccountDeprecatedField(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	pod := mustDecode(t, `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"a","image":"nginx"}]}}`)
	if err := admit(context.Background(), chain, &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "pods"),
		Namespace: "default", Name: "web", Object: pod}); err != nil {
		t.Fatal(err)
	}
	if a, b := at(pod, "spec", "serviceAccountName"), at(pod, "spec", "serviceAccount"); a != "default" || b != "default" {
		t.Errorf("serviceAccountName %v, serviceAccount %v; want default and default", a, b)
	}
}
