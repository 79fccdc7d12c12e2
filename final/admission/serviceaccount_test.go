package admission

import (
	"context"
	"net/http"
	"testing"
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
