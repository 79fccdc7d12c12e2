package apis

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

// causeList renders causes as "field reason" lines, sorted: label causes come
// from a map, so their order is not fixed.
func causeList(causes []apierrors.Cause) []string {
	out := []string{}
	for _, c := range causes {
		out = append(out, c.Field+" "+c.Reason)
	}
	slices.Sort(out)
	return out
}

func TestValidatePodSpec(t *testing.T) {
	tests := []struct {
		name, spec string
		want       []string
	}{
		{"valid", `{"initContainers":[{"name":"init","image":"busybox"}],"containers":[{"name":"web","image":"nginx"}]}`, []string{}},
		{"no spec", `null`, []string{"spec.containers FieldValueRequired"}},
		{"a spec that is not an object", `"nginx"`, []string{"spec.containers FieldValueRequired"}},
		{"no containers", `{"containers":[]}`, []string{"spec.containers FieldValueRequired"}},
		{"only init containers", `{"initContainers":[{"name":"init","image":"busybox"}]}`, []string{"spec.containers FieldValueRequired"}},
		{"a container that is not an object", `{"containers":["nginx"]}`, []string{"spec.containers[0] FieldValueInvalid"}},
		{"no name", `{"containers":[{"image":"nginx"}]}`, []string{"spec.containers[0].name FieldValueRequired"}},
		{"a name that is not a DNS label", `{"containers":[{"name":"Web_1","image":"nginx"}]}`, []string{"spec.containers[0].name FieldValueInvalid"}},
		{"no image", `{"containers":[{"name":"web"}]}`, []string{"spec.containers[0].image FieldValueRequired"}},
		{"a blank image", `{"containers":[{"name":"web","image":"  "}]}`, []string{"spec.containers[0].image FieldValueRequired"}},
		{"duplicate names", `{"containers":[{"name":"web","image":"nginx"},{"name":"web","image":"nginx"}]}`, []string{"spec.containers[1].name FieldValueDuplicate"}},
		{"an init container's name is taken too", `{"initContainers":[{"name":"web","image":"busybox"}],"containers":[{"name":"web","image":"nginx"}]}`,
			[]string{"spec.containers[0].name FieldValueDuplicate"}},
		{"init containers are validated", `{"initContainers":[{"name":"","image":""}],"containers":[{"name":"web","image":"nginx"}]}`,
			[]string{"spec.initContainers[0].image FieldValueRequired", "spec.initContainers[0].name FieldValueRequired"}},
		{"several at once", `{"containers":[{"name":"web"},{"name":"web","image":"nginx"},{"name":"-x","image":"nginx"},7]}`,
			[]string{"spec.containers[0].image FieldValueRequired", "spec.containers[1].name FieldValueDuplicate",
				"spec.containers[2].name FieldValueInvalid", "spec.containers[3] FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := mustDecode(t, `{"spec":`+tt.spec+`}`)
			before := encode(pod)
			if got := causeList(validatePodSpec(pod)); !slices.Equal(got, tt.want) {
				t.Errorf("validatePodSpec(%s) = %q, want %q", tt.spec, got, tt.want)
			}
			if encode(pod) != before {
				t.Errorf("validation changed the pod: %s, was %s", encode(pod), before)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	reg := testRegistry()
	customPods := &registry.Resource{Group: "example.com", Version: "v1", Name: "pods", Kind: "Pod", Namespaced: true, Custom: struct{}{},
		ValidateName: reg.Lookup("", "configmaps").ValidateName}
	tests := []struct {
		name string
		res  *registry.Resource
		obj  string
		want []string
	}{
		{"a valid configmap", reg.Lookup("", "configmaps"), `{"metadata":{"name":"app.config","labels":{"app":"web"}}}`, []string{}},
		{"a valid pod", reg.Lookup("", "pods"), `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`, []string{}},
		{"no name", reg.Lookup("", "configmaps"), `{"metadata":{}}`, []string{"metadata.name FieldValueRequired"}},
		{"no metadata", reg.Lookup("", "configmaps"), `{}`, []string{"metadata.name FieldValueRequired"}},
		{"a bad subdomain", reg.Lookup("", "configmaps"), `{"metadata":{"name":"App"}}`, []string{"metadata.name FieldValueInvalid"}},
		{"a namespace name is a label", reg.Lookup("", "namespaces"), `{"metadata":{"name":"team.a"}}`, []string{"metadata.name FieldValueInvalid"}},
		{"a service name is a DNS-1035 label", reg.Lookup("", "services"), `{"metadata":{"name":"1web"},"spec":{"type":"ClusterIP","sessionAffinity":"None","ports":[{"port":80,"protocol":"TCP","targetPort":80}]}}`,
			[]string{"metadata.name FieldValueInvalid"}},
		{"a resource with no rule of its own: a subdomain", &registry.Resource{Version: "v1", Name: "things", Kind: "Thing"},
			`{"metadata":{"name":"a_b"}}`, []string{"metadata.name FieldValueInvalid"}},
		{"bad labels", reg.Lookup("", "configmaps"), `{"metadata":{"name":"c","labels":{"-app":"web","tier":"a b"}}}`,
			[]string{"metadata.labels FieldValueInvalid", "metadata.labels.tier FieldValueInvalid"}},
		{"pod fields are checked only on pods", reg.Lookup("", "configmaps"), `{"metadata":{"name":"c"},"spec":{"containers":[]}}`, []string{}},
		{"a custom kind called Pod is no pod", customPods, `{"metadata":{"name":"c"},"spec":{"containers":[]}}`, []string{}},
		{"several at once", reg.Lookup("", "pods"), `{"metadata":{"name":"Web","labels":{"app":"-"}},"spec":{"containers":[{"name":"web"}]}}`,
			[]string{"metadata.labels.app FieldValueInvalid", "metadata.name FieldValueInvalid", "spec.containers[0].image FieldValueRequired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			causes, err := Validate(tt.res, mustDecode(t, tt.obj), nil)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := causeList(causes); !slices.Equal(got, tt.want) {
				t.Errorf("causes = %q, want %q", got, tt.want)
			}
		})
	}
}

// The messages are Kubernetes': the caller repeats them in the 422's message.
func TestValidateMessages(t *testing.T) {
	reg := testRegistry()
	causes, _ := Validate(reg.Lookup("", "pods"), mustDecode(t,
		`{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web"},{"name":"web","image":"nginx"}]}}`), nil)
	const want = `Pod "web" is invalid: [spec.containers[0].image: Required value, spec.containers[1].name: Duplicate value: "web"]`
	if got := apierrors.NewInvalid("", "Pod", "web", causes).Message; got != want {
		t.Errorf("message = %q\nwant      %q", got, want)
	}
	causes, _ = Validate(reg.Lookup("", "configmaps"), mustDecode(t, `{"metadata":{}}`), nil)
	if len(causes) != 1 || causes[0].Message != "Required value: name or generateName is required" {
		t.Errorf("no name: %+v", causes)
	}
	causes, _ = Validate(reg.Lookup("", "configmaps"), mustDecode(t, `{"metadata":{"name":"App"}}`), nil)
	if len(causes) != 1 || !strings.HasPrefix(causes[0].Message, `Invalid value: "App": a lowercase RFC 1123 subdomain`) {
		t.Errorf("a bad name: %+v", causes)
	}
}

func TestValidateAPIService(t *testing.T) {
	apiservices := testRegistry().Lookup("apiregistration.k8s.io", "apiservices")
	const valid = `"group":"example.com","version":"v1","groupPriorityMinimum":1000,"versionPriority":15`
	tests := []struct {
		name, obj string
		want      []string
	}{
		{"valid", `{"metadata":{"name":"v1.example.com"},"spec":{` + valid + `,"service":{"namespace":"ext","name":"api","port":443},"caBundle":"Y2E="}}`, []string{}},
		{"a local one for the core group", `{"metadata":{"name":"v1."},"spec":{"version":"v1","groupPriorityMinimum":18000,"versionPriority":1}}`, []string{}},
		{"the name is not version.group", `{"metadata":{"name":"example.com"},"spec":{` + valid + `}}`, []string{"metadata.name FieldValueInvalid"}},
		{"no version", `{"metadata":{"name":".example.com"},"spec":{"group":"example.com","groupPriorityMinimum":1,"versionPriority":1}}`,
			[]string{"spec.version FieldValueRequired"}},
		{"an empty group for v2", `{"metadata":{"name":"v2."},"spec":{"version":"v2","groupPriorityMinimum":1,"versionPriority":1}}`,
			[]string{"spec.group FieldValueRequired"}},
		{"priorities out of range", `{"metadata":{"name":"v1.example.com"},"spec":{"group":"example.com","version":"v1","groupPriorityMinimum":20001,"versionPriority":0}}`,
			[]string{"spec.groupPriorityMinimum FieldValueInvalid", "spec.versionPriority FieldValueInvalid"}},
		{"a service without a namespace, on a bad port", `{"metadata":{"name":"v1.example.com"},"spec":{` + valid + `,"service":{"name":"api","port":70000}}}`,
			[]string{"spec.service FieldValueRequired", "spec.service.port FieldValueInvalid"}},
		{"a caBundle that is not base64, and insecure", `{"metadata":{"name":"v1.example.com"},"spec":{` + valid + `,"caBundle":"not base64!","insecureSkipTLSVerify":true}}`,
			[]string{"spec.caBundle FieldValueInvalid", "spec.insecureSkipTLSVerify FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			causes, err := Validate(apiservices, mustDecode(t, tt.obj), nil)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := causeList(causes); !slices.Equal(got, tt.want) {
				t.Errorf("causes = %q, want %q", got, tt.want)
			}
		})
	}
}

// A field of the wrong type is not a validation problem but a body the server
// cannot read: a 400, as Kubernetes' decoder makes it.
func TestValidateAPIServiceOfTheWrongShape(t *testing.T) {
	apiservices := testRegistry().Lookup("apiregistration.k8s.io", "apiservices")
	for _, spec := range []string{`{"service":{"namespace":"ext","name":"api","port":"443"}}`, `{"groupPriorityMinimum":"high"}`, `"v1"`} {
		causes, err := Validate(apiservices, mustDecode(t, `{"metadata":{"name":"v1.example.com"},"spec":`+spec+`}`), nil)
		se, ok := err.(*apierrors.StatusError)
		if !ok || se.Code != http.StatusBadRequest || !strings.HasPrefix(se.Message, `APIService in version "v1" cannot be handled as a APIService: `) {
			t.Errorf("spec %s: %v, %v; want a 400 BadRequest", spec, causes, err)
		}
	}
}
