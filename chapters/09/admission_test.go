package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// newAdmissionServer builds the server as newTestServer does, but with the
// admission plugins of --enable-admission-plugins and
// --disable-admission-plugins, and returns the server with its routes.
func newAdmissionServer(t *testing.T, enable, disable string) (*server, http.Handler) {
	t.Helper()
	reg := newRegistry(builtinResources())
	s := &server{registry: reg, store: newStore(), namespaces: reg.lookup("", "namespaces")}
	s.crds = &crdController{s: s, resource: reg.lookup("apiextensions.k8s.io", "customresourcedefinitions")}
	s.createBootstrapNamespaces()
	s.rbac = &rbacAuthorizer{store: s.store, roles: reg.lookup(rbacGroup, "roles"), clusterRoles: reg.lookup(rbacGroup, "clusterroles"),
		roleBindings: reg.lookup(rbacGroup, "rolebindings"), clusterRoleBindings: reg.lookup(rbacGroup, "clusterrolebindings")}
	s.authorizer = authorizers{alwaysAllow{}}
	chain, err := s.newAdmissionChain(enable, disable)
	if err != nil {
		t.Fatalf("newAdmissionChain(%q, %q): %v", enable, disable, err)
	}
	s.admission = chain
	return s, s.routes()
}

// pluginName is the flag name of one of the chain's plugins.
func pluginName(p any) string {
	switch p.(type) {
	case namespaceLifecycle:
		return "NamespaceLifecycle"
	case alwaysPullImages:
		return "AlwaysPullImages"
	case serviceAccountPlugin:
		return "ServiceAccount"
	case mutatingWebhooks:
		return "MutatingAdmissionWebhook"
	case validatingWebhooks:
		return "ValidatingAdmissionWebhook"
	case resourceQuota:
		return "ResourceQuota"
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

func TestNewAdmissionChain(t *testing.T) {
	tests := []struct {
		name, enable, disable string
		enabled               []string
		mutating, validating  []string
	}{
		{
			name:       "defaults",
			enabled:    []string{"NamespaceLifecycle", "ServiceAccount", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"},
			mutating:   []string{"ServiceAccount", "MutatingAdmissionWebhook"},
			validating: []string{"NamespaceLifecycle", "ServiceAccount", "ValidatingAdmissionWebhook", "ResourceQuota"},
		},
		{
			name:       "enable adds a plugin in its place",
			enable:     "AlwaysPullImages",
			enabled:    []string{"NamespaceLifecycle", "AlwaysPullImages", "ServiceAccount", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"},
			mutating:   []string{"AlwaysPullImages", "ServiceAccount", "MutatingAdmissionWebhook"},
			validating: []string{"NamespaceLifecycle", "ServiceAccount", "ValidatingAdmissionWebhook", "ResourceQuota"},
		},
		{
			name:       "enabling a default plugin changes nothing",
			enable:     "ResourceQuota,NamespaceLifecycle",
			enabled:    []string{"NamespaceLifecycle", "ServiceAccount", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"},
			mutating:   []string{"ServiceAccount", "MutatingAdmissionWebhook"},
			validating: []string{"NamespaceLifecycle", "ServiceAccount", "ValidatingAdmissionWebhook", "ResourceQuota"},
		},
		{
			name:       "disable removes default plugins",
			disable:    "ResourceQuota,ServiceAccount",
			enabled:    []string{"NamespaceLifecycle", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook"},
			mutating:   []string{"MutatingAdmissionWebhook"},
			validating: []string{"NamespaceLifecycle", "ValidatingAdmissionWebhook"},
		},
		{
			name:       "disabling a plugin that is not enabled changes nothing",
			disable:    "AlwaysPullImages",
			enabled:    []string{"NamespaceLifecycle", "ServiceAccount", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"},
			mutating:   []string{"ServiceAccount", "MutatingAdmissionWebhook"},
			validating: []string{"NamespaceLifecycle", "ServiceAccount", "ValidatingAdmissionWebhook", "ResourceQuota"},
		},
		{
			name:       "pluginOrder decides, not the order of the flags",
			enable:     "ResourceQuota,AlwaysPullImages",
			disable:    "ValidatingAdmissionWebhook,MutatingAdmissionWebhook,NamespaceLifecycle",
			enabled:    []string{"AlwaysPullImages", "ServiceAccount", "ResourceQuota"},
			mutating:   []string{"AlwaysPullImages", "ServiceAccount"},
			validating: []string{"ServiceAccount", "ResourceQuota"},
		},
		{
			name:       "spaces and empty names are ignored",
			enable:     " AlwaysPullImages , ,",
			disable:    ",",
			enabled:    []string{"NamespaceLifecycle", "AlwaysPullImages", "ServiceAccount", "MutatingAdmissionWebhook", "ValidatingAdmissionWebhook", "ResourceQuota"},
			mutating:   []string{"AlwaysPullImages", "ServiceAccount", "MutatingAdmissionWebhook"},
			validating: []string{"NamespaceLifecycle", "ServiceAccount", "ValidatingAdmissionWebhook", "ResourceQuota"},
		},
		{
			name:       "everything off",
			disable:    strings.Join(pluginOrder, ","),
			enabled:    []string{},
			mutating:   []string{},
			validating: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := (&server{}).newAdmissionChain(tt.enable, tt.disable)
			if err != nil {
				t.Fatalf("newAdmissionChain(%q, %q): %v", tt.enable, tt.disable, err)
			}
			if !slices.Equal(chain.enabled, tt.enabled) {
				t.Errorf("enabled = %v, want %v", chain.enabled, tt.enabled)
			}
			if got := pluginNames(chain.mutating); !slices.Equal(got, tt.mutating) {
				t.Errorf("mutating = %v, want %v", got, tt.mutating)
			}
			if got := pluginNames(chain.validating); !slices.Equal(got, tt.validating) {
				t.Errorf("validating = %v, want %v", got, tt.validating)
			}
		})
	}
}

func TestNewAdmissionChainRefusesBadFlags(t *testing.T) {
	tests := []struct{ name, enable, disable, wantInError string }{
		{"unknown enabled plugin", "PodSecurity", "", `"PodSecurity" is not implemented`},
		{"unknown disabled plugin", "", "NamespaceLifecycle,LimitRanger", `"LimitRanger" is not implemented`},
		{"names are case sensitive", "alwayspullimages", "", `"alwayspullimages" is not implemented`},
		// kube-apiserver refuses a plugin named by both flags, rather than
		// letting one of them silently win.
		{"enabled and disabled", "AlwaysPullImages,ResourceQuota", " ResourceQuota ", "[ResourceQuota] in enable-admission-plugins and disable-admission-plugins overlapped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := (&server{}).newAdmissionChain(tt.enable, tt.disable)
			if err == nil || !strings.Contains(err.Error(), tt.wantInError) {
				t.Fatalf("newAdmissionChain(%q, %q) = %v, %v; want an error with %q", tt.enable, tt.disable, chain, err, tt.wantInError)
			}
			if chain != nil {
				t.Errorf("a chain was returned with the error: %+v", chain)
			}
		})
	}
}

// fakeMutating and fakeValidating are plugins made of a function.
type fakeMutating func(a *admissionAttributes) error

func (f fakeMutating) admit(a *admissionAttributes) error { return f(a) }

type fakeValidating func(a *admissionAttributes) error

func (f fakeValidating) validate(a *admissionAttributes) error { return f(a) }

func containerImage(obj object) any { return at(map[string]any(obj), "spec", "containers", 0, "image") }

// admit runs defaults, then mutating plugins, then schema validation, then
// validating plugins, all on the same object.
func TestAdmitOrder(t *testing.T) {
	s, _ := newAdmissionServer(t, "", "")
	pods := s.registry.lookup("", "pods")
	var steps []string
	var validatedImage, validatedPolicy any
	// The pod has no image: it passes validation only if the mutating plugin
	// runs before it, and the validating plugin must see the image it set.
	setImage := fakeMutating(func(a *admissionAttributes) error {
		steps = append(steps, fmt.Sprintf("mutating: imagePullPolicy %v", at(map[string]any(a.object), "spec", "containers", 0, "imagePullPolicy")))
		podContainers(a.object)[0]["image"] = "nginx:1.27"
		return nil
	})
	record := fakeValidating(func(a *admissionAttributes) error {
		steps = append(steps, "validating")
		validatedImage, validatedPolicy = containerImage(a.object), at(map[string]any(a.object), "spec", "containers", 0, "imagePullPolicy")
		return nil
	})
	s.admission = &admissionChain{mutating: []mutatingPlugin{setImage}, validating: []validatingPlugin{record}}

	pod := mustDecode(t, `{"metadata":{"name":"web","namespace":"default"},"spec":{"containers":[{"name":"web"}]}}`)
	if err := s.admit(httptest.NewRequest("POST", "/", nil), "CREATE", pods, pod, nil); err != nil {
		t.Fatalf("admit: %v", err)
	}
	// Defaults ran first: the mutating plugin saw the pull policy of an
	// image with no tag. The validating plugin saw the mutated pod.
	if want := []string{"mutating: imagePullPolicy Always", "validating"}; !slices.Equal(steps, want) {
		t.Errorf("steps = %q, want %q", steps, want)
	}
	if validatedImage != "nginx:1.27" || validatedPolicy != "Always" {
		t.Errorf("the validating plugin saw image %v, imagePullPolicy %v; want nginx:1.27 and Always", validatedImage, validatedPolicy)
	}
	if containerImage(pod) != "nginx:1.27" {
		t.Errorf("the caller's pod was not changed in place: %v", pod)
	}
}

// A failure stops admission where it happens: later plugins never run.
func TestAdmitStopsAtTheFirstFailure(t *testing.T) {
	refused := &statusError{http.StatusForbidden, "Forbidden", "no", nil}
	tests := []struct {
		name          string
		pod           string
		mutatingErr   error
		wantCode      int
		wantValidated bool
	}{
		{"a valid pod passes", `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`, nil, 0, true},
		{"schema validation fails before validating plugins", `{"metadata":{"name":"web"},"spec":{"containers":[]}}`, nil, http.StatusUnprocessableEntity, false},
		{"a mutating plugin's error stops everything", `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`, refused, http.StatusForbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newAdmissionServer(t, "", "")
			mutated, validated := 0, false
			s.admission = &admissionChain{
				mutating:   []mutatingPlugin{fakeMutating(func(*admissionAttributes) error { mutated++; return tt.mutatingErr })},
				validating: []validatingPlugin{fakeValidating(func(*admissionAttributes) error { validated = true; return nil })},
			}
			err := s.admit(httptest.NewRequest("POST", "/", nil), "CREATE", s.registry.lookup("", "pods"), mustDecode(t, tt.pod), nil)
			var se *statusError
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Errorf("admit: %v, want success", err)
			case tt.wantCode != 0 && (!errors.As(err, &se) || se.code != tt.wantCode):
				t.Errorf("admit: %v, want a %d", err, tt.wantCode)
			}
			if mutated != 1 || validated != tt.wantValidated {
				t.Errorf("mutating plugin ran %d times, validating plugin ran: %v; want 1 and %v", mutated, validated, tt.wantValidated)
			}
		})
	}
}

// On DELETE there is no object: no defaults or schema validation, and the
// plugins learn the name and namespace from the old object.
func TestAdmitDelete(t *testing.T) {
	s, _ := newAdmissionServer(t, "", "")
	var seen *admissionAttributes
	s.admission = &admissionChain{validating: []validatingPlugin{fakeValidating(func(a *admissionAttributes) error { seen = a; return nil })}}
	old := mustDecode(t, `{"metadata":{"name":"web","namespace":"team"},"spec":{}}`) // no containers: invalid, but not validated
	if err := s.admit(httptest.NewRequest("DELETE", "/", nil), "DELETE", s.registry.lookup("", "pods"), nil, old); err != nil {
		t.Fatalf("admit DELETE: %v", err)
	}
	if seen == nil || seen.operation != "DELETE" || seen.name != "web" || seen.namespace != "team" || seen.object != nil || seen.oldObject == nil {
		t.Errorf("the validating plugin saw %+v; want DELETE of team/web with only an old object", seen)
	}
	if _, defaulted := at(map[string]any(old), "spec", "restartPolicy").(string); defaulted {
		t.Errorf("defaults were applied to the old object: %v", old)
	}
}

func TestNamespaceLifecycleCanBeDisabled(t *testing.T) {
	_, h := newAdmissionServer(t, "", "NamespaceLifecycle")
	mustCreate(t, h, "/api/v1/namespaces/nowhere/configmaps", configMap("settings", ""))
	if code, status := call(t, h, "DELETE", namespacesPath+"/kube-public", "", ""); code != http.StatusOK {
		t.Errorf("DELETE kube-public without NamespaceLifecycle: %d %v, want 200", code, status)
	}
}

func TestServiceAccountPlugin(t *testing.T) {
	const podsPath = "/api/v1/namespaces/default/pods"
	tests := []struct {
		name, disable, serviceAccount string
		wantCode                      int
		wantServiceAccount            any
		wantMessage                   string
	}{
		{name: "no service account: default", wantCode: http.StatusCreated, wantServiceAccount: "default"},
		{name: "an existing one is kept", serviceAccount: "default", wantCode: http.StatusCreated, wantServiceAccount: "default"},
		{name: "a missing one is refused", serviceAccount: "robot", wantCode: http.StatusForbidden,
			wantMessage: `pods "web" is forbidden: error looking up service account default/robot: serviceaccounts "robot" not found`},
		{name: "disabled", disable: "ServiceAccount", wantCode: http.StatusCreated, wantServiceAccount: nil},
		{name: "disabled, a missing one is accepted", disable: "ServiceAccount", serviceAccount: "robot", wantCode: http.StatusCreated, wantServiceAccount: "robot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, h := newAdmissionServer(t, "", tt.disable)
			spec := `"containers":[{"name":"web","image":"nginx"}]`
			if tt.serviceAccount != "" {
				spec += `,"serviceAccountName":"` + tt.serviceAccount + `"`
			}
			code, obj := call(t, h, "POST", podsPath, "application/json", `{"metadata":{"name":"web"},"spec":{`+spec+`}}`)
			if code != tt.wantCode {
				t.Fatalf("POST pod: %d %v, want %d", code, obj, tt.wantCode)
			}
			if tt.wantMessage != "" && obj["message"] != tt.wantMessage {
				t.Errorf("message = %q, want %q", obj["message"], tt.wantMessage)
			}
			if code == http.StatusCreated && at(obj, "spec", "serviceAccountName") != tt.wantServiceAccount {
				t.Errorf("serviceAccountName = %v, want %v", at(obj, "spec", "serviceAccountName"), tt.wantServiceAccount)
			}
		})
	}
}

func TestAlwaysPullImages(t *testing.T) {
	pod := `{"metadata":{"name":"web"},"spec":{"initContainers":[{"name":"init","image":"busybox:1.36"}],
		"containers":[{"name":"web","image":"nginx:1.27","imagePullPolicy":"Never"}]}}`
	tests := []struct {
		enable               string
		wantInit, wantWebPol string
	}{
		{"", "IfNotPresent", "Never"},
		{"AlwaysPullImages", "Always", "Always"}, // even over the client's choice
	}
	for _, tt := range tests {
		_, h := newAdmissionServer(t, tt.enable, "")
		created := mustCreate(t, h, "/api/v1/namespaces/default/pods", pod)
		init, web := at(created, "spec", "initContainers", 0, "imagePullPolicy"), at(created, "spec", "containers", 0, "imagePullPolicy")
		if init != tt.wantInit || web != tt.wantWebPol {
			t.Errorf("--enable-admission-plugins=%q: imagePullPolicy init %v, web %v; want %s and %s", tt.enable, init, web, tt.wantInit, tt.wantWebPol)
		}
	}
}
