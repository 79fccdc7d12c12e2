package apis

import (
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

func TestImagePullPolicy(t *testing.T) {
	tests := []struct{ image, want string }{
		{"nginx", "Always"}, // no tag means latest
		{"nginx:latest", "Always"},
		{"nginx:1.27", "IfNotPresent"},
		{"registry:5000/nginx", "Always"}, // the port is not a tag
		{"registry:5000/nginx:1.2", "IfNotPresent"},
		{"registry:5000/team/nginx:latest", "Always"},
		{"nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "IfNotPresent"},
		{"nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "Always"}, // Kubernetes looks at the tag
		{"repo/app:tag", "IfNotPresent"},
		{"repo/app", "Always"},
		{"", "Always"},
	}
	for _, tt := range tests {
		if got := imagePullPolicy(tt.image); got != tt.want {
			t.Errorf("imagePullPolicy(%q) = %s, want %s", tt.image, got, tt.want)
		}
	}
}

func TestDefaultPod(t *testing.T) {
	pods := testRegistry().Lookup("", "pods")
	tests := []struct {
		name, pod string
		want      map[string]string // dotted path to the value, encoded by encodeAt
	}{
		{
			name: "every default",
			pod:  `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}`,
			want: map[string]string{
				"spec.restartPolicy":                         "Always",
				"spec.dnsPolicy":                             "ClusterFirst",
				"spec.schedulerName":                         "default-scheduler",
				"spec.terminationGracePeriodSeconds":         "30",
				"spec.enableServiceLinks":                    "true",
				"spec.securityContext":                       "{}",
				"spec.containers.0.imagePullPolicy":          "IfNotPresent",
				"spec.containers.0.terminationMessagePath":   "/dev/termination-log",
				"spec.containers.0.terminationMessagePolicy": "File",
				"spec.containers.0.resources":                "{}",
				"status.phase":                               "Pending",
				"spec.containers.0.image":                    "nginx:1.27",
				"metadata.name":                              "web",
			},
		},
		{
			name: "init containers get container defaults too",
			pod:  `{"spec":{"initContainers":[{"name":"init","image":"busybox"}],"containers":[{"name":"web","image":"nginx:1.27"}]}}`,
			want: map[string]string{
				"spec.initContainers.0.imagePullPolicy":          "Always",
				"spec.initContainers.0.terminationMessagePath":   "/dev/termination-log",
				"spec.initContainers.0.terminationMessagePolicy": "File",
				"spec.initContainers.0.resources":                "{}",
				"spec.containers.0.imagePullPolicy":              "IfNotPresent",
			},
		},
		{
			name: "latest with a digest is still Always",
			pod:  `{"spec":{"containers":[{"name":"web","image":"nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}]}}`,
			want: map[string]string{"spec.containers.0.imagePullPolicy": "Always"},
		},
		{
			name: "the client's values are kept",
			pod: `{"spec":{"restartPolicy":"Never","dnsPolicy":"Default","schedulerName":"mine","terminationGracePeriodSeconds":5,
				"enableServiceLinks":false,"securityContext":{"runAsUser":1000},
				"containers":[{"name":"web","image":"nginx","imagePullPolicy":"Never","terminationMessagePath":"/tmp/log",
				"terminationMessagePolicy":"FallbackToLogsOnError","resources":{"limits":{"cpu":"1"}}}]},"status":{"phase":"Running"}}`,
			want: map[string]string{
				"spec.restartPolicy":                         "Never",
				"spec.dnsPolicy":                             "Default",
				"spec.schedulerName":                         "mine",
				"spec.terminationGracePeriodSeconds":         "5",
				"spec.enableServiceLinks":                    "false",
				"spec.securityContext":                       `{"runAsUser":1000}`,
				"spec.containers.0.imagePullPolicy":          "Never",
				"spec.containers.0.terminationMessagePath":   "/tmp/log",
				"spec.containers.0.terminationMessagePolicy": "FallbackToLogsOnError",
				"spec.containers.0.resources":                `{"limits":{"cpu":"1"},"requests":{"cpu":"1"}}`, // requests default to limits
				"status.phase":                               "Running",
			},
		},
		{
			name: "null is not a value",
			pod:  `{"spec":{"restartPolicy":null,"containers":[{"name":"web","image":"nginx","imagePullPolicy":null}]}}`,
			want: map[string]string{"spec.restartPolicy": "Always", "spec.containers.0.imagePullPolicy": "Always"},
		},
		{
			name: "a pod without a spec gets one",
			pod:  `{"metadata":{"name":"web"}}`,
			want: map[string]string{"spec.restartPolicy": "Always", "status.phase": "Pending"},
		},
		{
			name: "a spec that is not an object is left for validation",
			pod:  `{"metadata":{"name":"web"},"spec":"nginx"}`,
			want: map[string]string{"spec": "nginx", "status.phase": "Pending"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := mustDecode(t, tt.pod)
			Default(pods, pod)
			for path, want := range tt.want {
				if got := encodeAt(pod, path); got != want {
					t.Errorf("%s = %s, want %s", path, got, want)
				}
			}
		})
	}
}

// Every namespace carries its name in the label kubernetes.io/metadata.name,
// and keeps it whatever the client sends.
func TestNamespaceNameLabel(t *testing.T) {
	namespaces := testRegistry().Lookup("", "namespaces")
	tests := []struct{ name, namespace, want string }{
		{"no labels", `{"metadata":{"name":"team"}}`, `{"kubernetes.io/metadata.name":"team"}`},
		{"other labels are kept", `{"metadata":{"name":"team","labels":{"env":"prod"}}}`, `{"env":"prod","kubernetes.io/metadata.name":"team"}`},
		{"a wrong value is corrected", `{"metadata":{"name":"team","labels":{"kubernetes.io/metadata.name":"other"}}}`, `{"kubernetes.io/metadata.name":"team"}`},
		{"labels: null", `{"metadata":{"name":"team","labels":null}}`, `{"kubernetes.io/metadata.name":"team"}`},
		{"labels that are not an object are left for validation", `{"metadata":{"name":"team","labels":["env"]}}`, `["env"]`},
	}
	for _, tt := range tests {
		ns := mustDecode(t, tt.namespace)
		Default(namespaces, ns)
		if got := encode(ns.Metadata()["labels"]); got != tt.want {
			t.Errorf("%s: labels = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestAPIServicePortDefault(t *testing.T) {
	apiservices := testRegistry().Lookup("apiregistration.k8s.io", "apiservices")
	tests := []struct{ name, spec, want string }{
		{"no port", `{"service":{"namespace":"ext","name":"api"}}`, `{"name":"api","namespace":"ext","port":443}`},
		{"a port is kept", `{"service":{"namespace":"ext","name":"api","port":8443}}`, `{"name":"api","namespace":"ext","port":8443}`},
		{"a local APIService has no service", `{"group":"apps","version":"v1"}`, `null`},
	}
	for _, tt := range tests {
		obj := mustDecode(t, `{"metadata":{"name":"v1.example.com"},"spec":`+tt.spec+`}`)
		Default(apiservices, obj)
		if got := encode(at(obj, "spec.service")); got != tt.want {
			t.Errorf("%s: spec.service = %s, want %s", tt.name, got, tt.want)
		}
	}
}

// Other kinds get no defaults, and neither does a custom resource that calls
// its kind Pod.
func TestDefaultLeavesOtherKinds(t *testing.T) {
	reg := testRegistry()
	customPods := &registry.Resource{Group: "example.com", Version: "v1", Name: "pods", Kind: "Pod", Namespaced: true, Custom: struct{}{}}
	for _, res := range []*registry.Resource{reg.Lookup("", "configmaps"), customPods} {
		obj := mustDecode(t, `{"metadata":{"name":"settings"},"data":{"k":"v"}}`)
		Default(res, obj)
		if got := encode(obj); got != `{"data":{"k":"v"},"metadata":{"name":"settings"}}` {
			t.Errorf("a %s after defaults: %s", res.QualifiedName(), got)
		}
	}
}
