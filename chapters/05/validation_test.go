package main

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// causeList renders causes as "field reason" lines, sorted: label causes come
// from a map, so their order is not fixed.
func causeList(causes []cause) []string {
	out := []string{}
	for _, c := range causes {
		out = append(out, c.Field+" "+c.Reason)
	}
	slices.Sort(out)
	return out
}

func TestValidateLabels(t *testing.T) {
	tests := []struct {
		name, labels string
		want         []string
	}{
		{"none", `null`, []string{}},
		{"valid", `{"app":"web","example.com/tier":"front_end.v1","empty":""}`, []string{}},
		{"not an object", `["app"]`, []string{"metadata.labels FieldValueInvalid"}},
		{"bad key name", `{"-app":"web"}`, []string{"metadata.labels FieldValueInvalid"}},
		{"bad key prefix", `{"Example.com/app":"web"}`, []string{"metadata.labels FieldValueInvalid"}},
		{"empty key name", `{"example.com/":"web"}`, []string{"metadata.labels FieldValueInvalid"}},
		{"key name over 63", `{"` + strings.Repeat("a", 64) + `":"web"}`, []string{"metadata.labels FieldValueInvalid"}},
		{"bad value", `{"app":"-web"}`, []string{"metadata.labels.app FieldValueInvalid"}},
		{"value over 63", `{"app":"` + strings.Repeat("a", 64) + `"}`, []string{"metadata.labels.app FieldValueInvalid"}},
		{"value not a string", `{"replicas":3}`, []string{"metadata.labels.replicas FieldValueInvalid"}},
		{"bad key and bad value", `{"-app":"web!","tier":"a b"}`,
			[]string{"metadata.labels FieldValueInvalid", "metadata.labels.-app FieldValueInvalid", "metadata.labels.tier FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := mustDecode(t, `{"labels":`+tt.labels+`}`)["labels"]
			if got := causeList(validateLabels(raw)); !slices.Equal(got, tt.want) {
				t.Errorf("validateLabels(%s) = %q, want %q", tt.labels, got, tt.want)
			}
		})
	}
}

// The messages name the bad key or value, as Kubernetes' do.
func TestValidateLabelsMessages(t *testing.T) {
	causes := validateLabels(mustDecode(t, `{"labels":{"-app":"ok"}}`)["labels"])
	if len(causes) != 1 || !strings.HasPrefix(causes[0].Message, `Invalid value: "-app": `) {
		t.Errorf("bad key: %+v, want one cause whose message starts with Invalid value: \"-app\"", causes)
	}
	causes = validateLabels(mustDecode(t, `{"labels":{"app":"a b"}}`)["labels"])
	if len(causes) != 1 || !strings.HasPrefix(causes[0].Message, "Invalid value: a b: a valid label must be an empty string") {
		t.Errorf("bad value: %+v, want one cause that names the value", causes)
	}
}

func TestValidatePodSpec(t *testing.T) {
	tests := []struct {
		name, spec string
		want       []string
	}{
		{"valid", `{"initContainers":[{"name":"init","image":"busybox"}],"containers":[{"name":"web","image":"nginx"}]}`, []string{}},
		{"no spec", `null`, []string{"spec.containers FieldValueRequired"}},
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
			if got := causeList(validatePodSpec(pod)); !slices.Equal(got, tt.want) {
				t.Errorf("validatePodSpec(%s) = %q, want %q", tt.spec, got, tt.want)
			}
		})
	}
}

func TestValidateObject(t *testing.T) {
	reg := newRegistry(builtinResources())
	tests := []struct {
		name, resource, obj string
		want                []string // nil: valid
	}{
		{"a valid configmap", "configmaps", `{"metadata":{"name":"app.config","labels":{"app":"web"}}}`, nil},
		{"a valid pod", "pods", `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`, nil},
		{"no name", "configmaps", `{"metadata":{}}`, []string{"metadata.name FieldValueRequired"}},
		{"a bad subdomain", "configmaps", `{"metadata":{"name":"App"}}`, []string{"metadata.name FieldValueInvalid"}},
		{"a namespace name is a label", "namespaces", `{"metadata":{"name":"team.a"}}`, []string{"metadata.name FieldValueInvalid"}},
		{"a service name is a DNS-1035 label", "services", `{"metadata":{"name":"1web"}}`, []string{"metadata.name FieldValueInvalid"}},
		{"pod fields are checked only on pods", "configmaps", `{"metadata":{"name":"c"},"spec":{"containers":[]}}`, nil},
		{"several at once", "pods", `{"metadata":{"name":"Web","labels":{"app":"-"}},"spec":{"containers":[{"name":"web"}]}}`,
			[]string{"metadata.labels.app FieldValueInvalid", "metadata.name FieldValueInvalid", "spec.containers[0].image FieldValueRequired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := reg.lookup("", tt.resource)
			err := validateObject(res, mustDecode(t, tt.obj))
			if tt.want == nil {
				if err != nil {
					t.Errorf("validateObject: %v, want nil", err)
				}
				return
			}
			var se *statusError
			if !errors.As(err, &se) || se.code != http.StatusUnprocessableEntity || se.reason != "Invalid" {
				t.Fatalf("validateObject: %v, want a 422 Invalid", err)
			}
			causes, _ := se.details["causes"].([]cause)
			if got := causeList(causes); !slices.Equal(got, tt.want) {
				t.Errorf("causes = %q, want %q", got, tt.want)
			}
			if se.details["kind"] != res.kind {
				t.Errorf("details.kind = %v, want %s", se.details["kind"], res.kind)
			}
		})
	}
}

// Through the handler, a bad pod is a 422 whose message and causes list
// every problem with its field, and nothing is stored.
func TestInvalidPodThroughTheHandler(t *testing.T) {
	h := newTestServer()
	code, status := call(t, h, "POST", "/api/v1/namespaces/default/pods", "application/json",
		`{"metadata":{"name":"web"},"spec":{"containers":[{"name":"web"},{"name":"web","image":"nginx"}]}}`)
	if code != http.StatusUnprocessableEntity || status["reason"] != "Invalid" {
		t.Fatalf("POST: %d %v, want 422 Invalid", code, status)
	}
	const want = `Pod "web" is invalid: [spec.containers[0].image: Required value, spec.containers[1].name: Duplicate value: "web"]`
	if status["message"] != want {
		t.Errorf("message = %q\nwant      %q", status["message"], want)
	}
	var fields []string
	causes, _ := at(status, "details", "causes").([]any)
	for _, c := range causes {
		fields = append(fields, at(c, "field").(string)+" "+at(c, "reason").(string))
	}
	if want := []string{"spec.containers[0].image FieldValueRequired", "spec.containers[1].name FieldValueDuplicate"}; !slices.Equal(fields, want) {
		t.Errorf("causes = %q, want %q", fields, want)
	}
	if code, _ := call(t, h, "GET", "/api/v1/namespaces/default/pods/web", "", ""); code != http.StatusNotFound {
		t.Errorf("GET the refused pod: %d, want 404", code)
	}
}
