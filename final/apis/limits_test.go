package apis

import (
	"net/http"
	"slices"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

func TestDefaultPodResources(t *testing.T) {
	tests := []struct {
		name, resources, want string
	}{
		{"none", `{}`, `{}`},
		{"requests default to limits", `{"limits":{"cpu":"500m","memory":"1Gi"}}`,
			`{"limits":{"cpu":"500m","memory":"1Gi"},"requests":{"cpu":"500m","memory":"1Gi"}}`},
		{"a request of its own is kept", `{"limits":{"cpu":"1"},"requests":{"cpu":"100m"}}`,
			`{"limits":{"cpu":"1"},"requests":{"cpu":"100m"}}`},
		{"only the missing ones", `{"limits":{"cpu":"1","memory":"64Mi"},"requests":{"cpu":"100m"}}`,
			`{"limits":{"cpu":"1","memory":"64Mi"},"requests":{"cpu":"100m","memory":"64Mi"}}`},
		{"canonical forms", `{"limits":{"cpu":0.5,"memory":"1024Mi"},"requests":{"cpu":"1000m"}}`,
			`{"limits":{"cpu":"500m","memory":"1Gi"},"requests":{"cpu":"1","memory":"1Gi"}}`},
		{"requests alone are left alone", `{"requests":{"cpu":"0.1"}}`, `{"requests":{"cpu":"100m"}}`},
		{"what does not parse stays, for validation", `{"limits":{"cpu":"lots"}}`, `{"limits":{"cpu":"lots"},"requests":{"cpu":"lots"}}`},
	}
	pods := testRegistry().Lookup("", "pods")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := mustDecode(t, `{"spec":{"initContainers":[{"name":"i","image":"x","resources":`+tt.resources+`}],
				"containers":[{"name":"c","image":"x","resources":`+tt.resources+`}]}}`)
			Default(pods, pod)
			for _, path := range []string{"spec.containers.0.resources", "spec.initContainers.0.resources"} {
				if got := encodeAt(pod, path); got != tt.want {
					t.Errorf("%s = %s, want %s", path, got, tt.want)
				}
			}
		})
	}
}

func TestDefaultLimitRange(t *testing.T) {
	tests := []struct {
		name, limit, want string
	}{
		{"the default limit is the max, the default request the default",
			`{"type":"Container","max":{"cpu":"1","memory":1073741824},"min":{"cpu":"50m"},"defaultRequest":{"memory":"0.5Gi"}}`,
			`{"default":{"cpu":"1","memory":"1073741824"},"defaultRequest":{"cpu":"1","memory":"512Mi"},"max":{"cpu":"1","memory":"1073741824"},"min":{"cpu":"50m"},"type":"Container"}`},
		{"the default request is the min without a default",
			`{"type":"Container","min":{"cpu":"100m"}}`,
			`{"defaultRequest":{"cpu":"100m"},"min":{"cpu":"100m"},"type":"Container"}`},
		{"what is given is kept",
			`{"type":"Container","default":{"cpu":"500m"},"defaultRequest":{"cpu":"200m"},"max":{"cpu":"2"}}`,
			`{"default":{"cpu":"500m"},"defaultRequest":{"cpu":"200m"},"max":{"cpu":"2"},"type":"Container"}`},
		{"a Pod limit gets no defaults", `{"type":"Pod","max":{"cpu":2}}`, `{"max":{"cpu":"2"},"type":"Pod"}`},
	}
	limitRanges := testRegistry().Lookup("", "limitranges")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := mustDecode(t, `{"metadata":{"name":"limits"},"spec":{"limits":[`+tt.limit+`]}}`)
			Default(limitRanges, lr)
			if got := encodeAt(lr, "spec.limits.0"); got != tt.want {
				t.Errorf("spec.limits[0] = %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestValidatePodResources(t *testing.T) {
	tests := []struct {
		name, resources string
		want            []string // "field: message"
	}{
		{"valid", `{"limits":{"cpu":"1"},"requests":{"cpu":"500m"}}`, nil},
		{"request above its limit", `{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"2","memory":"512Mi"}}`,
			[]string{`spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`}},
		{"negative", `{"requests":{"cpu":"-1"}}`,
			[]string{`spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0`}},
	}
	pods := testRegistry().Lookup("", "pods")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := mustDecode(t, `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"x","resources":`+tt.resources+`}]}}`)
			causes, err := Validate(pods, pod, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range causes {
				got = append(got, c.Field+": "+c.Message)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("causes %q\nwant %q", got, tt.want)
			}
		})
	}
	// A quantity that does not parse is Kubernetes' decoding error: 400.
	pod := mustDecode(t, `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"x","resources":{"requests":{"cpu":"1x"}}}]}}`)
	_, err := Validate(pods, pod, nil)
	const want = `Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`
	if se, ok := err.(*apierrors.StatusError); !ok || se.Code != http.StatusBadRequest || se.Message != want {
		t.Errorf("Validate: %v\nwant 400 %s", err, want)
	}
}

// The messages are kube-apiserver v1.37's for the same objects.
func TestValidateLimitRange(t *testing.T) {
	tests := []struct {
		name, limits string
		want         []string
	}{
		{"valid", `[{"type":"Container","min":{"cpu":"50m"},"max":{"cpu":"1","memory":"1Gi"},"defaultRequest":{"memory":"512Mi"}},{"type":"Pod","max":{"cpu":"2"}}]`, nil},
		{"everything wrong at once",
			`[{"type":"Container","min":{"cpu":"2"},"max":{"cpu":"1"},"maxLimitRequestRatio":{"cpu":"0.5"}},{"type":"Pod","default":{"cpu":"1"}},{"type":"Foo"},{"type":"Container"}]`,
			[]string{
				`spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1`,
				`spec.limits[0].defaultRequest[cpu]: Invalid value: "1": min value 2 is greater than default request value 1`,
				`spec.limits[0].default[cpu]: Invalid value: "2": min value 2 is greater than default value 1`,
				`spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: "500m": ratio 500m is less than 1`,
				"spec.limits[1].default: Forbidden: may not be specified when `type` is 'Pod'",
				`spec.limits[2].type: Invalid value: "Foo": must be a standard limit type or fully qualified`,
				`spec.limits[3].type: Duplicate value: "Container"`,
			}},
		{"a ratio max/min does not allow", `[{"type":"Container","min":{"cpu":"100m"},"max":{"cpu":"200m"},"maxLimitRequestRatio":{"cpu":"3"}}]`,
			[]string{`spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: "3": ratio 3 is greater than max/min = 2.000000`}},
		{"a default request above the default", `[{"type":"Container","default":{"memory":"1Gi"},"defaultRequest":{"memory":"2Gi"}}]`,
			[]string{`spec.limits[0].defaultRequest[memory]: Invalid value: "2Gi": default request value 2Gi is greater than default limit value 1Gi`}},
		{"a claim limit without storage", `[{"type":"PersistentVolumeClaim","max":{"cpu":"1"}}]`,
			[]string{"spec.limits[0].limits: Required value: either minimum or maximum storage value is required, but neither was provided"}},
	}
	limitRanges := testRegistry().Lookup("", "limitranges")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := mustDecode(t, `{"metadata":{"name":"limits"},"spec":{"limits":`+tt.limits+`}}`)
			Default(limitRanges, lr) // as the server does, before validation
			causes, err := Validate(limitRanges, lr, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range causes {
				got = append(got, c.Field+": "+c.Message)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("causes\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
	lr := mustDecode(t, `{"metadata":{"name":"limits"},"spec":{"limits":[{"type":"Container","max":{"cpu":"a lot"}}]}}`)
	if _, err := Validate(limitRanges, lr, nil); err == nil || err.(*apierrors.StatusError).Code != http.StatusBadRequest {
		t.Errorf("a quantity that does not parse: %v, want a 400", err)
	}
}

func TestDefaultPodServiceAccount(t *testing.T) {
	tests := []struct{ spec, wantName, wantDeprecated string }{
		{`{}`, "", ""}, // the ServiceAccount admission plugin picks "default"
		{`{"serviceAccountName":"robot"}`, "robot", "robot"},
		{`{"serviceAccount":"robot"}`, "robot", "robot"},
		{`{"serviceAccountName":"robot","serviceAccount":"old"}`, "robot", "robot"},
	}
	pods := testRegistry().Lookup("", "pods")
	for _, tt := range tests {
		pod := mustDecode(t, `{"spec":`+tt.spec+`}`)
		Default(pods, pod)
		name, _ := at(pod, "spec.serviceAccountName").(string)
		deprecated, _ := at(pod, "spec.serviceAccount").(string)
		if name != tt.wantName || deprecated != tt.wantDeprecated {
			t.Errorf("%s: serviceAccountName %q, serviceAccount %q; want %q, %q", tt.spec, name, deprecated, tt.wantName, tt.wantDeprecated)
		}
	}
}
