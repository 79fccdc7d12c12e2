package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
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
	}
	for _, tt := range tests {
		if got := imagePullPolicy(map[string]any{"image": tt.image}); got != tt.want {
			t.Errorf("imagePullPolicy(%q) = %s, want %s", tt.image, got, tt.want)
		}
	}
}

func TestDefaultPod(t *testing.T) {
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
				"spec.containers.0.resources":                `{"limits":{"cpu":"1"}}`,
				"status.phase":                               "Running",
			},
		},
		{
			name: "a pod without a spec gets one",
			pod:  `{"metadata":{"name":"web"}}`,
			want: map[string]string{"spec.restartPolicy": "Always", "status.phase": "Pending"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := mustDecode(t, tt.pod)
			defaultPod(pod)
			for path, want := range tt.want {
				if got := encodeAt(pod, path); got != want {
					t.Errorf("%s = %s, want %s", path, got, want)
				}
			}
		})
	}
}

// encodeAt encodes the value at a dotted path ("spec.containers.0.name"):
// strings as they are, anything else as JSON.
func encodeAt(obj object, dotted string) string {
	var path []any
	for _, p := range strings.Split(dotted, ".") {
		if i, err := strconv.Atoi(p); err == nil {
			path = append(path, i)
		} else {
			path = append(path, p)
		}
	}
	v := at(map[string]any(obj), path...)
	if s, ok := v.(string); ok {
		return s
	}
	return encode(v)
}

// Every namespace carries its name in the label kubernetes.io/metadata.name,
// and keeps it whatever the client sends.
func TestNamespaceNameLabel(t *testing.T) {
	namespaces := newRegistry(builtinResources()).lookup("", "namespaces")
	tests := []struct{ name, namespace, want string }{
		{"no labels", `{"metadata":{"name":"team"}}`, `{"kubernetes.io/metadata.name":"team"}`},
		{"other labels are kept", `{"metadata":{"name":"team","labels":{"env":"prod"}}}`, `{"env":"prod","kubernetes.io/metadata.name":"team"}`},
		{"a wrong value is corrected", `{"metadata":{"name":"team","labels":{"kubernetes.io/metadata.name":"other"}}}`, `{"kubernetes.io/metadata.name":"team"}`},
		{"labels: null", `{"metadata":{"name":"team","labels":null}}`, `{"kubernetes.io/metadata.name":"team"}`},
	}
	for _, tt := range tests {
		ns := mustDecode(t, tt.namespace)
		applyDefaults(namespaces, ns)
		if got := encode(ns.metadata()["labels"]); got != tt.want {
			t.Errorf("%s: labels = %s, want %s", tt.name, got, tt.want)
		}
	}

	// Through the handler: on create, and on an update that drops the label.
	h := newTestServer()
	created := mustCreate(t, h, namespacesPath, `{"metadata":{"name":"team"}}`)
	if got := at(created, "metadata", "labels", "kubernetes.io/metadata.name"); got != "team" {
		t.Errorf("created namespace: label = %v, want team", got)
	}
	code, updated := call(t, h, "PUT", namespacesPath+"/team", "application/json", `{"metadata":{"name":"team","labels":{"env":"dev"}}}`)
	if code != http.StatusOK || encode(at(updated, "metadata", "labels")) != `{"env":"dev","kubernetes.io/metadata.name":"team"}` {
		t.Errorf("PUT without the label: %d, labels %v; want it back beside env=dev", code, at(updated, "metadata", "labels"))
	}
}

// Other kinds get no defaults.
func TestApplyDefaultsLeavesOtherKinds(t *testing.T) {
	reg := newRegistry(builtinResources())
	obj := mustDecode(t, `{"metadata":{"name":"settings"},"data":{"k":"v"}}`)
	applyDefaults(reg.lookup("", "configmaps"), obj)
	if got := encode(obj); got != `{"data":{"k":"v"},"metadata":{"name":"settings"}}` {
		t.Errorf("a configmap after defaults: %s", got)
	}
}
