package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// testResources are the resources the plugins read and the tests write.
func testResources() []*registry.Resource {
	return []*registry.Resource{
		{Version: "v1", Name: "namespaces", Kind: "Namespace", ValidateName: object.ValidateDNS1123Label},
		{Version: "v1", Name: "pods", Kind: "Pod", Namespaced: true},
		{Version: "v1", Name: "configmaps", Kind: "ConfigMap", Namespaced: true},
		{Version: "v1", Name: "secrets", Kind: "Secret", Namespaced: true},
		{Version: "v1", Name: "serviceaccounts", Kind: "ServiceAccount", Namespaced: true},
		{Version: "v1", Name: "services", Kind: "Service", Namespaced: true},
		{Version: "v1", Name: "endpoints", Kind: "Endpoints", Namespaced: true},
		{Version: "v1", Name: "resourcequotas", Kind: "ResourceQuota", Namespaced: true},
		{Version: "v1", Name: "limitranges", Kind: "LimitRange", Namespaced: true},
		{Group: "batch", Version: "v1", Name: "jobs", Kind: "Job", Namespaced: true},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Name: "roles", Kind: "Role", Namespaced: true},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Name: "clusterroles", Kind: "ClusterRole"},
		{Group: "authorization.k8s.io", Version: "v1", Name: "localsubjectaccessreviews", Kind: "LocalSubjectAccessReview", Namespaced: true, Virtual: true},
		{Group: "admissionregistration.k8s.io", Version: "v1", Name: "mutatingwebhookconfigurations", Kind: "MutatingWebhookConfiguration"},
		{Group: "admissionregistration.k8s.io", Version: "v1", Name: "validatingwebhookconfigurations", Kind: "ValidatingWebhookConfiguration"},
	}
}

// newDeps opens an empty store in the test's directory, with the namespaces
// every server starts with and their default ServiceAccounts.
func newDeps(t *testing.T) Dependencies {
	t.Helper()
	backend, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = backend.Close() })
	deps := Dependencies{Store: store.New(backend), Registry: registry.New(testResources(), object.ValidateDNS1123Subdomain)}
	for _, ns := range ProtectedNamespaces() {
		storeObjects(t, deps, "", "namespaces", fmt.Sprintf(`{"metadata":{"name":%q,"labels":{"kubernetes.io/metadata.name":%[1]q}},"status":{"phase":"Active"}}`, ns))
		if err := CreateDefaultServiceAccount(context.Background(), deps.Store, deps.Registry, ns); err != nil {
			t.Fatal(err)
		}
	}
	return deps
}

// newTestChain builds the chain of the flags on a fresh store.
func newTestChain(t *testing.T, enable, disable string) (*Chain, Dependencies) {
	t.Helper()
	deps := newDeps(t)
	chain, err := NewChain(enable, disable, deps)
	if err != nil {
		t.Fatalf("NewChain(%q, %q): %v", enable, disable, err)
	}
	return chain, deps
}

// storeObjects puts objects straight into the store, skipping admission.
func storeObjects(t *testing.T, deps Dependencies, group, resource string, docs ...string) {
	t.Helper()
	for _, doc := range docs {
		if _, err := deps.Store.Create(context.Background(), deps.Registry.Lookup(group, resource), mustDecode(t, doc)); err != nil {
			t.Fatalf("storing %s: %v", doc, err)
		}
	}
}

func mustDecode(t *testing.T, doc string) object.Object {
	t.Helper()
	obj, err := object.Decode([]byte(doc))
	if err != nil {
		t.Fatalf("decoding %s: %v", doc, err)
	}
	return obj
}

func encode(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}

// at reads a path of keys and indexes in decoded JSON.
func at(v any, path ...any) any {
	for _, p := range path {
		if o, ok := v.(object.Object); ok {
			v = map[string]any(o)
		}
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[p]
		case int:
			l, _ := v.([]any)
			if p >= len(l) {
				return nil
			}
			v = l[p]
		}
	}
	return v
}

// statusOf returns the StatusError in err, failing the test if there is none.
func statusOf(t *testing.T, err error) *apierrors.StatusError {
	t.Helper()
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a StatusError", err, err)
	}
	return se
}

// admit runs both phases on a, as the server does (without the built-in
// defaults and validation between them).
func admit(ctx context.Context, chain *Chain, a *Attributes) error {
	if err := chain.Admit(ctx, a); err != nil {
		return err
	}
	return chain.Validate(ctx, a)
}

// pluginName is the flag name of one of the chain's plugins.
func pluginName(p any) string {
	switch p.(type) {
	case namespaceLifecycle:
		return NamespaceLifecycle
	case limitRanger:
		return LimitRanger
	case alwaysPullImages:
		return AlwaysPullImages
	case serviceAccount:
		return ServiceAccount
	case mutatingWebhooks:
		return MutatingAdmissionWebhook
	case validatingWebhooks:
		return ValidatingAdmissionWebhook
	case *resourceQuota:
		return ResourceQuota
	}
	return fmt.Sprintf("%T", p)
}

func pluginNames[P any](plugins []P) []string {
	out := []string{}
	for _, p := range plugins {
		out = append(out, pluginName(p))
	}
	return out
}

func TestNewChain(t *testing.T) {
	tests := []struct {
		name, enable, disable string
		enabled               []string
		mutating, validating  []string
	}{
		{
			name:       "defaults",
			enabled:    []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"},
			mutating:   []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "MutatingAdmissionWebhook"},
			validating: []string{"LimitRanger", "ServiceAccount", "ValidatingAdmissionWebhook", "ResourceQuota"},
		},
		{
			name:       "enable adds a plugin in its place",
			enable:     "AlwaysPullImages",
			enabled:    []string{"NamespaceLifecycle", "LimitRanger", "AlwaysPullImages", "ServiceAccount", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"},
			mutating:   []string{"NamespaceLifecycle", "LimitRanger", "AlwaysPullImages", "ServiceAccount", "MutatingAdmissionWebhook"},
			validating: []string{"LimitRanger", "AlwaysPullImages", "ServiceAccount", "ValidatingAdmissionWebhook", "ResourceQuota"},
		},
		{
			name:       "enabling a default plugin changes nothing",
			enable:     "ResourceQuota,NamespaceLifecycle",
			enabled:    []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"},
			mutating:   []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "MutatingAdmissionWebhook"},
			validating: []string{"LimitRanger", "ServiceAccount", "ValidatingAdmissionWebhook", "ResourceQuota"},
		},
		{
			name:       "disable removes default plugins",
			disable:    "ResourceQuota,ServiceAccount",
			enabled:    []string{"NamespaceLifecycle", "LimitRanger", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook"},
			mutating:   []string{"NamespaceLifecycle", "LimitRanger", "MutatingAdmissionWebhook"},
			validating: []string{"LimitRanger", "ValidatingAdmissionWebhook"},
		},
		{
			name:       "disabling a plugin that is not enabled changes nothing",
			disable:    "AlwaysPullImages",
			enabled:    []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"},
			mutating:   []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "MutatingAdmissionWebhook"},
			validating: []string{"LimitRanger", "ServiceAccount", "ValidatingAdmissionWebhook", "ResourceQuota"},
		},
		{
			name:       "the fixed order decides, not the order of the flags",
			enable:     "ResourceQuota,AlwaysPullImages",
			disable:    "ValidatingAdmissionWebhook,MutatingAdmissionWebhook,NamespaceLifecycle",
			enabled:    []string{"LimitRanger", "AlwaysPullImages", "ServiceAccount", "ResourceQuota"},
			mutating:   []string{"LimitRanger", "AlwaysPullImages", "ServiceAccount"},
			validating: []string{"LimitRanger", "AlwaysPullImages", "ServiceAccount", "ResourceQuota"},
		},
		{
			name:       "spaces and empty names are ignored",
			enable:     " AlwaysPullImages , ,",
			disable:    ",",
			enabled:    []string{"NamespaceLifecycle", "LimitRanger", "AlwaysPullImages", "ServiceAccount", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"},
			mutating:   []string{"NamespaceLifecycle", "LimitRanger", "AlwaysPullImages", "ServiceAccount", "MutatingAdmissionWebhook"},
			validating: []string{"LimitRanger", "AlwaysPullImages", "ServiceAccount", "ValidatingAdmissionWebhook", "ResourceQuota"},
		},
		{
			name:       "everything off",
			disable:    strings.Join(AllOrderedPlugins(), ","),
			enabled:    []string{},
			mutating:   []string{},
			validating: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := NewChain(tt.enable, tt.disable, Dependencies{}) // the plugins read nothing until called
			if err != nil {
				t.Fatalf("NewChain(%q, %q): %v", tt.enable, tt.disable, err)
			}
			if got := chain.Enabled(); !slices.Equal(got, tt.enabled) {
				t.Errorf("Enabled() = %v, want %v", got, tt.enabled)
			}
			if got := pluginNames(chain.mutating); !slices.Equal(got, tt.mutating) {
				t.Errorf("mutating = %v, want %v", got, tt.mutating)
			}
			if got := pluginNames(chain.validating); !slices.Equal(got, tt.validating) {
				t.Errorf("validating = %v, want %v", got, tt.validating)
			}
			if quota := slices.Contains(tt.enabled, ResourceQuota); (chain.quota != nil) != quota {
				t.Errorf("the chain keeps quota status: %v, want %v", chain.quota != nil, quota)
			}
		})
	}
}

func TestNewChainRefusesBadFlags(t *testing.T) {
	tests := []struct{ name, enable, disable, wantInError string }{
		{"unknown enabled plugin", "PodSecurity", "", `admission plugin "PodSecurity" is not implemented (known: NamespaceLifecycle, LimitRanger, AlwaysPullImages,`},
		{"unknown disabled plugin", "", "NamespaceLifecycle,PodNodeSelector", `"PodNodeSelector" is not implemented`},
		{"names are case sensitive", "alwayspullimages", "", `"alwayspullimages" is not implemented`},
		// kube-apiserver refuses a plugin named by both flags, rather than
		// letting one of them silently win, and names them all.
		{"enabled and disabled", "AlwaysPullImages,ResourceQuota", " ResourceQuota ", "[ResourceQuota] in enable-admission-plugins and disable-admission-plugins overlapped"},
		{"several overlap", "ServiceAccount,AlwaysPullImages,ServiceAccount", "ServiceAccount,AlwaysPullImages",
			"[AlwaysPullImages ServiceAccount] in enable-admission-plugins and disable-admission-plugins overlapped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := NewChain(tt.enable, tt.disable, Dependencies{})
			if err == nil || !strings.Contains(err.Error(), tt.wantInError) {
				t.Fatalf("NewChain(%q, %q) = %v, %v; want an error with %q", tt.enable, tt.disable, chain, err, tt.wantInError)
			}
			if chain != nil {
				t.Errorf("a chain was returned with the error: %+v", chain)
			}
		})
	}
}

// fakeMutating and fakeValidating are plugins made of a function.
type fakeMutating func(a *Attributes) error

func (f fakeMutating) admit(_ context.Context, a *Attributes) error { return f(a) }

type fakeValidating func(a *Attributes) error

func (f fakeValidating) validate(_ context.Context, a *Attributes) error { return f(a) }

// Mutating plugins run in order on the caller's object; validating plugins
// see what they did.
func TestChainOrder(t *testing.T) {
	var steps []string
	mutate := func(name string) mutatingPlugin {
		return fakeMutating(func(a *Attributes) error {
			steps = append(steps, fmt.Sprintf("%s sees %v", name, a.Object.Labels()))
			a.Object.Metadata()["labels"].(map[string]any)[name] = "yes"
			return nil
		})
	}
	check := func(name string) validatingPlugin {
		return fakeValidating(func(a *Attributes) error {
			steps = append(steps, fmt.Sprintf("%s sees %v", name, a.Object.Labels()))
			return nil
		})
	}
	chain := &Chain{mutating: []mutatingPlugin{mutate("m1"), mutate("m2")}, validating: []validatingPlugin{check("v1"), check("v2")}}
	obj := mustDecode(t, `{"metadata":{"name":"settings","labels":{}}}`)
	if err := admit(context.Background(), chain, &Attributes{Operation: Create, Object: obj}); err != nil {
		t.Fatal(err)
	}
	want := []string{"m1 sees map[]", "m2 sees map[m1:yes]", "v1 sees map[m1:yes m2:yes]", "v2 sees map[m1:yes m2:yes]"}
	if !slices.Equal(steps, want) {
		t.Errorf("steps = %q\nwant    %q", steps, want)
	}
	if got := encode(obj.Labels()); got != `{"m1":"yes","m2":"yes"}` {
		t.Errorf("the caller's object was not changed in place: %s", got)
	}
}

// A refusal stops its phase where it happens: later plugins never run.
func TestChainStopsAtTheFirstRefusal(t *testing.T) {
	refused := apierrors.NewForbidden("", "configmaps", "settings", errors.New("no"))
	var ran []string
	plugin := func(name string, err error) fakeMutating {
		return func(*Attributes) error { ran = append(ran, name); return err }
	}
	validating := func(name string, err error) fakeValidating {
		return func(*Attributes) error { ran = append(ran, name); return err }
	}
	chain := &Chain{
		mutating:   []mutatingPlugin{plugin("m1", nil), plugin("m2", refused), plugin("m3", nil)},
		validating: []validatingPlugin{validating("v1", refused), validating("v2", nil)},
	}
	a := &Attributes{Operation: Create, Object: object.Object{}}
	if err := chain.Admit(context.Background(), a); err != refused {
		t.Errorf("Admit: %v, want the refusal", err)
	}
	if err := chain.Validate(context.Background(), a); err != refused {
		t.Errorf("Validate: %v, want the refusal", err)
	}
	if want := []string{"m1", "m2", "v1"}; !slices.Equal(ran, want) {
		t.Errorf("ran %q, want %q", ran, want)
	}
}

// A nil chain admits everything: a server (or a test) without admission.
func TestNilChain(t *testing.T) {
	var chain *Chain
	a := &Attributes{Operation: Create, Resource: &registry.Resource{Version: "v1", Name: "pods", Kind: "Pod", Namespaced: true},
		Namespace: "nowhere", Name: "web", Object: object.Object{}}
	if err := admit(context.Background(), chain, a); err != nil {
		t.Errorf("nil chain: %v", err)
	}
	if err := chain.RefreshQuota(context.Background(), a.Resource, "nowhere"); err != nil {
		t.Errorf("nil chain RefreshQuota: %v", err)
	}
	if got := chain.Enabled(); len(got) != 0 {
		t.Errorf("nil chain Enabled() = %v", got)
	}
}

func TestEnabledIsACopy(t *testing.T) {
	chain, err := NewChain("", "", Dependencies{})
	if err != nil {
		t.Fatal(err)
	}
	chain.Enabled()[0] = "changed"
	if chain.Enabled()[0] != NamespaceLifecycle {
		t.Errorf("Enabled() handed out the chain's own list")
	}
	AllOrderedPlugins()[0], DefaultPlugins()[0] = "changed", "changed"
	if AllOrderedPlugins()[0] != NamespaceLifecycle || DefaultPlugins()[0] != NamespaceLifecycle {
		t.Errorf("the plugin lists can be changed by a caller")
	}
}

// Plugins that read the store fail with a 500, not a panic, when the
// server does not serve what they read.
func TestMissingResourceIsAnInternalError(t *testing.T) {
	deps := newDeps(t)
	deps.Registry = registry.New([]*registry.Resource{{Version: "v1", Name: "pods", Kind: "Pod", Namespaced: true}}, object.ValidateDNS1123Subdomain)
	chain, err := NewChain("", "", deps)
	if err != nil {
		t.Fatal(err)
	}
	a := &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "pods"), Namespace: "default", Name: "web",
		Object: mustDecode(t, `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`)}
	if se := statusOf(t, chain.Admit(context.Background(), a)); se.Code != http.StatusInternalServerError ||
		!strings.Contains(se.Message, "admission needs the namespaces resource") {
		t.Errorf("Admit: %d %s", se.Code, se.Message)
	}
}
