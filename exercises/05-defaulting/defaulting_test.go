package defaulting

import (
	"encoding/json"
	"reflect"
	"testing"
)

const digest = "sha256:0b970013351304af46f322da1263516b188318682b2ab1091862497591189ff1"

func TestImagePullPolicy(t *testing.T) {
	// Every row agrees with Kubernetes v1.37: SetDefaults_Container on the
	// tag that ParseImageName finds.
	tests := []struct {
		image, want string
	}{
		{"nginx", PullAlways}, // no tag is the tag "latest"
		{"nginx:latest", PullAlways},
		{"nginx:1.27", PullIfNotPresent},
		{"nginx:Latest", PullIfNotPresent}, // tags are case-sensitive
		{"nginx:latest-alpine", PullIfNotPresent},
		{"busybox:stable", PullIfNotPresent},
		{"library/nginx", PullAlways},
		{"docker.io/library/nginx:1.27", PullIfNotPresent},
		{"ghcr.io/org/tool:v1.2.3-rc.1", PullIfNotPresent},
		{"registry.example.com/team/app", PullAlways},
		// A registry's port is not a tag.
		{"registry:5000/app", PullAlways},
		{"localhost:5000/app", PullAlways},
		{"registry.example.com:5000/team/app", PullAlways},
		{"[::1]:5000/app", PullAlways},
		{"registry:5000/app:v2", PullIfNotPresent},
		{"registry:5000/team/app:latest", PullAlways},
		// A digest pins the image: it cannot change under that name...
		{"app@" + digest, PullIfNotPresent},
		{"registry:5000/app@" + digest, PullIfNotPresent},
		{"app:1.0@" + digest, PullIfNotPresent},
		// ...but Kubernetes looks at the tag first, and "latest" is Always.
		{"app:latest@" + digest, PullAlways},
	}
	for _, tt := range tests {
		if got := ImagePullPolicy(tt.image); got != tt.want {
			t.Errorf("ImagePullPolicy(%q) = %q, want %q", tt.image, got, tt.want)
		}
	}
}

// admitTests are pods before and after Admit.
var admitTests = []struct {
	name      string
	operation string
	pod       string
	want      string
}{
	{
		name:      "a minimal pod gets every default",
		operation: "CREATE",
		pod:       `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`,
		want: `{"metadata":{"name":"web"},"spec":{
			"restartPolicy":"Always","dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30,"serviceAccountName":"default",
			"containers":[{"name":"web","image":"nginx","imagePullPolicy":"Always",
				"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}]}}`,
	},
	{
		name:      "every other field is left as it is",
		operation: "CREATE",
		pod: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"nodeName":"node-1",
			"volumes":[{"name":"data","emptyDir":{}}],
			"containers":[{"name":"web","image":"nginx:1.27","ports":[{"containerPort":80}],"args":["-g","daemon off;"]}]},
			"status":{}}`,
		want: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"nodeName":"node-1",
			"restartPolicy":"Always","dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30,"serviceAccountName":"default",
			"volumes":[{"name":"data","emptyDir":{}}],
			"containers":[{"name":"web","image":"nginx:1.27","ports":[{"containerPort":80}],"args":["-g","daemon off;"],
				"imagePullPolicy":"IfNotPresent","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}]},
			"status":{}}`,
	},
	{
		name:      "on UPDATE, no service account is set",
		operation: "UPDATE",
		pod:       `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}`,
		want: `{"metadata":{"name":"web"},"spec":{
			"restartPolicy":"Always","dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30,
			"containers":[{"name":"web","image":"nginx:1.27","imagePullPolicy":"IfNotPresent",
				"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}]}}`,
	},
	{
		name:      "init containers are containers too",
		operation: "CREATE",
		pod: `{"metadata":{"name":"web"},"spec":{
			"initContainers":[{"name":"fetch","image":"busybox"},{"name":"migrate","image":"registry:5000/migrate:v3"}],
			"containers":[{"name":"web","image":"nginx:1.27"}]}}`,
		want: `{"metadata":{"name":"web"},"spec":{
			"restartPolicy":"Always","dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30,"serviceAccountName":"default",
			"initContainers":[
				{"name":"fetch","image":"busybox","imagePullPolicy":"Always","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"},
				{"name":"migrate","image":"registry:5000/migrate:v3","imagePullPolicy":"IfNotPresent","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],
			"containers":[{"name":"web","image":"nginx:1.27","imagePullPolicy":"IfNotPresent",
				"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}]}}`,
	},
	{
		name:      "each container gets the policy of its own image",
		operation: "CREATE",
		pod: `{"metadata":{"name":"many"},"spec":{"containers":[
			{"name":"a","image":"nginx"},{"name":"b","image":"nginx:1.27"},
			{"name":"c","image":"registry:5000/app"},{"name":"d","image":"app@` + digest + `"}]}}`,
		want: `{"metadata":{"name":"many"},"spec":{
			"restartPolicy":"Always","dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30,"serviceAccountName":"default",
			"containers":[
				{"name":"a","image":"nginx","imagePullPolicy":"Always","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"},
				{"name":"b","image":"nginx:1.27","imagePullPolicy":"IfNotPresent","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"},
				{"name":"c","image":"registry:5000/app","imagePullPolicy":"Always","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"},
				{"name":"d","image":"app@` + digest + `","imagePullPolicy":"IfNotPresent","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}]}}`,
	},
	{
		name:      "the client's values are kept",
		operation: "CREATE",
		pod: `{"metadata":{"name":"custom"},"spec":{
			"restartPolicy":"Never","dnsPolicy":"Default","terminationGracePeriodSeconds":5,"serviceAccountName":"robot",
			"initContainers":[{"name":"init","image":"busybox","imagePullPolicy":"IfNotPresent","terminationMessagePath":"/tmp/why","terminationMessagePolicy":"FallbackToLogsOnError"}],
			"containers":[{"name":"web","image":"nginx:1.27","imagePullPolicy":"Never","terminationMessagePath":"/var/log/last-words","terminationMessagePolicy":"FallbackToLogsOnError"}]}}`,
		want: `{"metadata":{"name":"custom"},"spec":{
			"restartPolicy":"Never","dnsPolicy":"Default","terminationGracePeriodSeconds":5,"serviceAccountName":"robot",
			"initContainers":[{"name":"init","image":"busybox","imagePullPolicy":"IfNotPresent","terminationMessagePath":"/tmp/why","terminationMessagePolicy":"FallbackToLogsOnError"}],
			"containers":[{"name":"web","image":"nginx:1.27","imagePullPolicy":"Never","terminationMessagePath":"/var/log/last-words","terminationMessagePolicy":"FallbackToLogsOnError"}]}}`,
	},
	{
		name:      "empty strings and nulls are missing values",
		operation: "CREATE",
		pod: `{"metadata":{"name":"blank"},"spec":{
			"restartPolicy":"","dnsPolicy":null,"terminationGracePeriodSeconds":null,"serviceAccountName":"",
			"containers":[{"name":"web","image":"nginx:1.27","imagePullPolicy":"","terminationMessagePath":null,"terminationMessagePolicy":""}]}}`,
		want: `{"metadata":{"name":"blank"},"spec":{
			"restartPolicy":"Always","dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30,"serviceAccountName":"default",
			"containers":[{"name":"web","image":"nginx:1.27","imagePullPolicy":"IfNotPresent",
				"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}]}}`,
	},
	{
		name:      "a grace period of 0 is a choice, not a missing value",
		operation: "CREATE",
		pod:       `{"metadata":{"name":"now"},"spec":{"terminationGracePeriodSeconds":0,"containers":[]}}`,
		want: `{"metadata":{"name":"now"},"spec":{"terminationGracePeriodSeconds":0,
			"restartPolicy":"Always","dnsPolicy":"ClusterFirst","serviceAccountName":"default","containers":[]}}`,
	},
	{
		name:      "a pod without a spec gets one",
		operation: "CREATE",
		pod:       `{"metadata":{"name":"bare"}}`,
		want: `{"metadata":{"name":"bare"},"spec":{
			"restartPolicy":"Always","dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30,"serviceAccountName":"default"}}`,
	},
	{
		name:      "spec: null is no spec",
		operation: "UPDATE",
		pod:       `{"metadata":{"name":"bare"},"spec":null}`,
		want: `{"metadata":{"name":"bare"},"spec":{
			"restartPolicy":"Always","dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30}}`,
	},
	{
		name:      "values of the wrong type are left for validation to report",
		operation: "CREATE",
		pod: `{"metadata":{"name":"odd"},"spec":{"restartPolicy":5,"serviceAccountName":false,
			"initContainers":"not a list","containers":["not a container",{"name":"web","image":"nginx","imagePullPolicy":["Always"]}]}}`,
		want: `{"metadata":{"name":"odd"},"spec":{"restartPolicy":5,"serviceAccountName":false,
			"dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30,
			"initContainers":"not a list","containers":["not a container",{"name":"web","image":"nginx","imagePullPolicy":["Always"],
				"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}]}}`,
	},
}

func TestAdmit(t *testing.T) {
	for _, tt := range admitTests {
		t.Run(tt.name, func(t *testing.T) {
			pod := decode(t, tt.pod)
			// The pod is changed in place: the caller keeps its map and
			// stores what Admit left in it.
			Admit(&Attributes{Operation: tt.operation, Kind: "Pod", Object: pod})
			if got, want := encode(t, pod), encode(t, decode(t, tt.want)); got != want {
				t.Errorf("%s %s\n got: %s\nwant: %s", tt.operation, tt.pod, got, want)
			}
		})
	}
}

func TestAdmitTwiceIsAdmitOnce(t *testing.T) {
	for _, tt := range admitTests {
		t.Run(tt.name, func(t *testing.T) {
			once := decode(t, tt.pod)
			Admit(&Attributes{Operation: tt.operation, Kind: "Pod", Object: once})
			twice := decode(t, tt.pod)
			Admit(&Attributes{Operation: tt.operation, Kind: "Pod", Object: twice})
			Admit(&Attributes{Operation: tt.operation, Kind: "Pod", Object: twice})
			if got, want := encode(t, twice), encode(t, once); got != want {
				t.Errorf("a second Admit changed the pod\nonce:  %s\ntwice: %s", want, got)
			}
			// A later update of the stored pod finds nothing left to fill in.
			Admit(&Attributes{Operation: "UPDATE", Kind: "Pod", Object: twice})
			if got, want := encode(t, twice), encode(t, once); got != want {
				t.Errorf("an UPDATE of the defaulted pod changed it\nbefore: %s\nafter:  %s", want, got)
			}
		})
	}
}

func TestAdmitLeavesOtherRequestsAlone(t *testing.T) {
	const pod = `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`
	tests := []struct {
		name, operation, kind, object string
	}{
		{"DELETE", "DELETE", "Pod", pod},
		{"CONNECT", "CONNECT", "Pod", pod},
		{"a ConfigMap", "CREATE", "ConfigMap", `{"metadata":{"name":"settings"},"data":{"restartPolicy":""}}`},
		{"a Deployment's pod template (defaulted elsewhere)", "CREATE", "Deployment",
			`{"metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}`},
		{"a Pod whose spec is a string", "CREATE", "Pod", `{"metadata":{"name":"odd"},"spec":"oops"}`},
		{"a Pod whose spec is a list", "UPDATE", "Pod", `{"metadata":{"name":"odd"},"spec":[{"containers":[]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := decode(t, tt.object)
			Admit(&Attributes{Operation: tt.operation, Kind: tt.kind, Object: obj})
			if got, want := encode(t, obj), encode(t, decode(t, tt.object)); got != want {
				t.Errorf("%s %s was changed\n got: %s\nwant: %s", tt.operation, tt.kind, got, want)
			}
		})
	}

	t.Run("DELETE has no object", func(t *testing.T) {
		a := &Attributes{Operation: "DELETE", Kind: "Pod"}
		Admit(a) // must not panic
		if a.Object != nil {
			t.Errorf("Admit made an object for a DELETE: %v", a.Object)
		}
	})
	t.Run("CREATE without an object", func(t *testing.T) {
		a := &Attributes{Operation: "CREATE", Kind: "Pod"}
		Admit(a) // must not panic
	})
}

// The caller holds the object's map and stores it after admission, as
// chapter 05's handler does: Admit must change that map, not replace it.
func TestAdmitChangesTheObjectInPlace(t *testing.T) {
	pod := decode(t, `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`)
	spec := pod["spec"].(map[string]any)
	container := spec["containers"].([]any)[0].(map[string]any)
	a := &Attributes{Operation: "CREATE", Kind: "Pod", Object: pod}
	Admit(a)
	if reflect.ValueOf(a.Object).Pointer() != reflect.ValueOf(pod).Pointer() {
		t.Fatal("Admit replaced a.Object with another map")
	}
	if spec["restartPolicy"] != "Always" {
		t.Errorf("the pod's spec map was not defaulted in place: %v", spec)
	}
	if container["imagePullPolicy"] != PullAlways {
		t.Errorf("the container's map was not defaulted in place: %v", container)
	}
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

// encode is canonical JSON: encoding/json sorts map keys, and any Go number
// type that holds 30 encodes as 30.
func encode(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("cannot encode %v: %v", v, err)
	}
	return string(data)
}
