package admission

import (
	"context"
	"net/http"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// createPod runs a pod create through what the server runs around
// admission's mutating phase: the built-in defaults first (a container's
// requests default to its limits), then both phases.
func createPod(t *testing.T, chain *Chain, deps Dependencies, namespace, doc string) (object.Object, error) {
	t.Helper()
	pods := deps.Registry.Lookup("", "pods")
	pod := mustDecode(t, doc)
	apis.Default(pods, pod)
	err := admit(context.Background(), chain, &Attributes{Operation: Create, Resource: pods, Namespace: namespace, Name: pod.MetaString("name"), Object: pod})
	return pod, err
}

// The LimitRange and the messages are those of the same requests to
// kube-apiserver v1.37.
const testLimitRange = `{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"limits","namespace":"default"},"spec":{"limits":[
	{"type":"Container","default":{"cpu":"500m","memory":"256Mi"},"defaultRequest":{"cpu":"200m","memory":"128Mi"},
	 "min":{"cpu":"50m"},"max":{"cpu":"1","memory":"1Gi"},"maxLimitRequestRatio":{"cpu":"4"}},
	{"type":"Pod","max":{"memory":"1536Mi"}}]}}`

func TestLimitRanger(t *testing.T) {
	tests := []struct {
		name, containers string
		wantResources    []string // per container, as JSON
		wantAnnotation   string
		wantMessage      string // "" admitted
	}{
		{name: "defaults fill what is missing", containers: `{"name":"c","image":"nginx"},{"name":"d","image":"nginx","resources":{"requests":{"cpu":"0.3"}}}`,
			wantResources: []string{`{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"200m","memory":"128Mi"}}`,
				`{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"300m","memory":"128Mi"}}`},
			wantAnnotation: "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c; " +
				"memory request for container d; cpu, memory limit for container d"},
		{name: "a container that says everything is left alone", containers: `{"name":"c","image":"nginx","resources":{"requests":{"cpu":"250m","memory":"64Mi"},"limits":{"cpu":"1","memory":"64Mi"}}}`,
			wantResources: []string{`{"limits":{"cpu":"1","memory":"64Mi"},"requests":{"cpu":"250m","memory":"64Mi"}}`}},
		{name: "above max", containers: `{"name":"c","image":"nginx","resources":{"limits":{"cpu":"2"}}}`,
			wantMessage: `pods "web" is forbidden: maximum cpu usage per Container is 1, but limit is 2`},
		{name: "below min, and over the ratio", containers: `{"name":"c","image":"nginx","resources":{"requests":{"cpu":"10m"},"limits":{"cpu":"100m"}}}`,
			wantMessage: `pods "web" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, ` +
				`cpu max limit to request ratio per Container is 4, but provided ratio is 10.000000]`},
		{name: "the pod's total over the Pod max; the same problem twice is said once",
			containers: `{"name":"c","image":"nginx","resources":{"requests":{"cpu":"100m"},"limits":{"memory":"1Gi"}}},` +
				`{"name":"d","image":"nginx","resources":{"requests":{"cpu":"100m"},"limits":{"memory":"1Gi"}}}`,
			wantMessage: `pods "web" is forbidden: [cpu max limit to request ratio per Container is 4, but provided ratio is 5.000000, ` +
				`maximum memory usage per Pod is 1536Mi, but limit is 2Gi]`},
		{name: "init containers are bounded too", containers: `{"name":"c","image":"nginx"}],"initContainers":[{"name":"i","image":"busybox","resources":{"limits":{"memory":"2Gi"}}}`,
			wantMessage: `pods "web" is forbidden: [maximum memory usage per Container is 1Gi, but limit is 2Gi, ` +
				`maximum memory usage per Pod is 1536Mi, but limit is 2Gi]`}, // an init container's limit is the pod's, while it runs
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, deps := newTestChain(t, "", "")
			storeObjects(t, deps, "", "limitranges", testLimitRange)
			pod, err := createPod(t, chain, deps, "default", `{"metadata":{"name":"web","namespace":"default"},"spec":{"containers":[`+tt.containers+`]}}`)
			if tt.wantMessage != "" {
				if se := statusOf(t, err); se.Code != http.StatusForbidden || se.Message != tt.wantMessage {
					t.Errorf("%d %s\nwant 403 %s", se.Code, se.Message, tt.wantMessage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.wantResources {
				if got := encode(at(pod, "spec", "containers", i, "resources")); got != want {
					t.Errorf("containers[%d].resources = %s\nwant %s", i, got, want)
				}
			}
			if got, _ := at(pod, "metadata", "annotations", LimitRangerAnnotation).(string); got != tt.wantAnnotation {
				t.Errorf("annotation %q\nwant %q", got, tt.wantAnnotation)
			}
		})
	}
}

// Without LimitRanges, or with the plugin off, or for anything but a pod
// being created, nothing changes.
func TestLimitRangerScope(t *testing.T) {
	const bare = `{"metadata":{"name":"web","namespace":"default"},"spec":{"containers":[{"name":"c","image":"nginx","resources":{"limits":{"cpu":"5"}}}]}}`
	chain, deps := newTestChain(t, "", "")
	pod, err := createPod(t, chain, deps, "default", bare)
	if err != nil || encode(at(pod, "spec", "containers", 0, "resources")) != `{"limits":{"cpu":"5"},"requests":{"cpu":"5"}}` {
		t.Errorf("no LimitRange: %v, %s", err, encode(at(pod, "spec", "containers", 0, "resources")))
	}

	chain, deps = newTestChain(t, "", "LimitRanger")
	storeObjects(t, deps, "", "limitranges", testLimitRange)
	if _, err := createPod(t, chain, deps, "default", bare); err != nil {
		t.Errorf("LimitRanger disabled: %v", err)
	}

	chain, deps = newTestChain(t, "", "")
	storeObjects(t, deps, "", "limitranges", testLimitRange)
	pods := deps.Registry.Lookup("", "pods")
	for _, a := range []*Attributes{
		{Operation: Update, Resource: pods, Namespace: "default", Name: "web", Object: mustDecode(t, bare), OldObject: mustDecode(t, bare)},
		{Operation: Create, Resource: pods, Subresource: "binding", Namespace: "default", Name: "web", Object: mustDecode(t, bare)},
		{Operation: Create, Resource: deps.Registry.Lookup("", "configmaps"), Namespace: "default", Name: "web", Object: mustDecode(t, bare)},
	} {
		if err := admit(context.Background(), chain, a); err != nil {
			t.Errorf("%s %s/%s: %v", a.Operation, a.Resource.Name, a.Subresource, err)
		}
		if got := encode(at(a.Object, "spec", "containers", 0, "resources")); got != `{"limits":{"cpu":"5"}}` {
			t.Errorf("%s %s/%s changed the object: %s", a.Operation, a.Resource.Name, a.Subresource, got)
		}
	}
}

func TestPodTotals(t *testing.T) {
	pod := mustDecode(t, `{"spec":{
		"initContainers":[{"name":"setup","resources":{"requests":{"cpu":"2","memory":"1Gi"}}},
		                  {"name":"proxy","restartPolicy":"Always","resources":{"requests":{"cpu":"100m","memory":"64Mi"}}},
		                  {"name":"late","resources":{"requests":{"cpu":"1500m"}}}],
		"containers":[{"name":"a","resources":{"requests":{"cpu":"500m","memory":"256Mi"}}},
		              {"name":"b","resources":{"requests":{"cpu":"250m"}}}],
		"overhead":{"cpu":"10m"}}}`)
	// containers 750m + sidecar 100m = 850m; the largest init step is setup
	// (2) or late with the sidecar beside it (1600m): 2 wins. Memory: 256Mi +
	// 64Mi = 320Mi against setup's 1Gi.
	requests := podRequests(pod, false)
	if got := requests["cpu"].String() + " " + requests["memory"].String(); got != "2 1Gi" {
		t.Errorf("podRequests = %s, want 2 1Gi", got)
	}
	if got := podRequests(pod, true)["cpu"].String(); got != "2010m" {
		t.Errorf("podRequests with overhead: cpu %s, want 2010m", got)
	}
	// Pod-level resources replace the containers' sum for cpu and memory.
	pod["spec"].(map[string]any)["resources"] = map[string]any{"requests": map[string]any{"cpu": "3"}}
	if got := podRequests(pod, false)["cpu"].String(); got != "3" {
		t.Errorf("podRequests with pod-level resources: cpu %s, want 3", got)
	}
}
