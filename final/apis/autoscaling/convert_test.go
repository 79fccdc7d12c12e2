package autoscaling

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

func decode(t *testing.T, s string) object.Object {
	t.Helper()
	obj, err := object.Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func convert(t *testing.T, obj object.Object, version string) object.Object {
	t.Helper()
	out, err := Convert(obj, version)
	if err != nil {
		t.Fatalf("converting to %s: %v", version, err)
	}
	return out
}

func jsonOf(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// A v2 autoscaler with every field of v2 set.
const fullV2 = `{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
 "metadata":{"name":"web","namespace":"default","labels":{"app":"web"},"annotations":{"note":"kept"}},
 "spec":{"scaleTargetRef":{"kind":"Deployment","name":"web","apiVersion":"apps/v1"},"minReplicas":2,"maxReplicas":10,
  "metrics":[
   {"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":60}}},
   {"type":"Resource","resource":{"name":"memory","target":{"type":"AverageValue","averageValue":"500Mi"}}},
   {"type":"ContainerResource","containerResource":{"name":"cpu","container":"app","target":{"type":"Utilization","averageUtilization":70}}},
   {"type":"Pods","pods":{"metric":{"name":"qps","selector":{"matchLabels":{"a":"b"}}},"target":{"type":"AverageValue","averageValue":"10"}}},
   {"type":"Object","object":{"describedObject":{"kind":"Ingress","name":"main","apiVersion":"networking.k8s.io/v1"},
     "metric":{"name":"requests"},"target":{"type":"Value","value":"2k"}}},
   {"type":"External","external":{"metric":{"name":"queue","selector":{"matchExpressions":[{"key":"q","operator":"In","values":["x"]}]}},
     "target":{"type":"AverageValue","averageValue":"30"}}}],
  "behavior":{"scaleUp":{"stabilizationWindowSeconds":0,"selectPolicy":"Max","policies":[{"type":"Pods","value":4,"periodSeconds":15}]},
   "scaleDown":{"stabilizationWindowSeconds":300,"selectPolicy":"Min","policies":[{"type":"Percent","value":50,"periodSeconds":60}],"tolerance":"50m"}}},
 "status":{"observedGeneration":3,"lastScaleTime":"2026-01-02T03:04:05Z","currentReplicas":3,"desiredReplicas":4,
  "currentMetrics":[
   {"type":"Resource","resource":{"name":"cpu","current":{"averageValue":"120m","averageUtilization":55}}},
   {"type":"Pods","pods":{"metric":{"name":"qps"},"current":{"averageValue":"9"}}},
   {"type":"Object","object":{"metric":{"name":"requests"},"current":{"value":"1500"},"describedObject":{"kind":"Ingress","name":"main","apiVersion":"networking.k8s.io/v1"}}},
   {"type":"External","external":{"metric":{"name":"queue"},"current":{"value":"7","averageValue":"2"}}},
   {"type":"ContainerResource","containerResource":{"name":"cpu","container":"app","current":{"averageValue":"100m","averageUtilization":50}}}],
  "conditions":[{"type":"AbleToScale","status":"True","lastTransitionTime":"2026-01-02T03:04:05Z","reason":"ReadyForNewScale","message":"ok"}]}}`

func TestV2RoundTripIsExact(t *testing.T) {
	for name, in := range map[string]string{
		"every field": fullV2,
		"the least": `{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"a"},
			"spec":{"scaleTargetRef":{"kind":"Deployment","name":"a"},"maxReplicas":1},"status":{"desiredReplicas":0,"currentMetrics":null}}`,
	} {
		t.Run(name, func(t *testing.T) {
			obj := decode(t, in)
			if got := convert(t, obj, V2); !reflect.DeepEqual(got, obj) {
				t.Errorf("v2 -> hub -> v2 changed the object:\n got %s\nwant %s", jsonOf(got), jsonOf(obj))
			}
		})
	}
}

// The annotations v1 carries are exactly Kubernetes': these strings are
// what kube-apiserver 1.37 serves for the same object in autoscaling/v1.
func TestV1AnnotationsAreKubernetes(t *testing.T) {
	v2 := decode(t, `{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"conv-probe"},
		"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},"minReplicas":1,"maxReplicas":5,
		"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":60}}},
		 {"type":"Pods","pods":{"metric":{"name":"qps"},"target":{"type":"AverageValue","averageValue":"10"}}}],
		"behavior":{"scaleDown":{"stabilizationWindowSeconds":60,"tolerance":"0.05"}}}}`)
	Default(v2)
	v1 := convert(t, v2, V1)
	annotations := v1.Metadata()["annotations"].(map[string]any)
	want := map[string]any{
		BehaviorSpecsAnnotation: `{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15},{"Type":"Percent","Value":100,"PeriodSeconds":15}],"Tolerance":null},"ScaleDown":{"StabilizationWindowSeconds":60,"SelectPolicy":"Max","Policies":[{"Type":"Percent","Value":100,"PeriodSeconds":15}],"Tolerance":"50m"}}`,
		MetricSpecsAnnotation:   `[{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"10"}}]`,
	}
	if !reflect.DeepEqual(annotations, want) {
		t.Errorf("annotations:\n got %v\nwant %v", annotations, want)
	}
	spec := v1["spec"].(map[string]any)
	if spec["targetCPUUtilizationPercentage"] != json.Number("60") || spec["metrics"] != nil {
		t.Errorf("v1 spec: %s", jsonOf(spec))
	}
	if got := jsonOf(v1["status"]); got != `{"currentReplicas":0,"desiredReplicas":0}` {
		t.Errorf("v1 status: %s", got)
	}
}

// What v1 cannot say survives a read and a write in v1, and a v1 read of
// that is the same again.
func TestV2FieldsSurviveAWriteThroughV1(t *testing.T) {
	v2 := decode(t, fullV2)
	v1 := convert(t, v2, V1)
	v1["spec"].(map[string]any)["maxReplicas"] = json.Number("12") // the client's change, in v1
	back := convert(t, v1, V2)

	want := decode(t, fullV2)
	want["spec"].(map[string]any)["maxReplicas"] = json.Number("12")
	// Kubernetes' rule: the CPU utilization metric comes back last.
	metrics := want["spec"].(map[string]any)["metrics"].([]any)
	want["spec"].(map[string]any)["metrics"] = append(metrics[1:], metrics[0])
	if !reflect.DeepEqual(back, want) {
		t.Errorf("v2 -> v1 -> v2:\n got %s\nwant %s", jsonOf(back), jsonOf(want))
	}
	if again := convert(t, back, V1); !reflect.DeepEqual(again, v1) {
		t.Errorf("v1 -> v2 -> v1 changed the object:\n got %s\nwant %s", jsonOf(again), jsonOf(v1))
	}
}

func TestV1RoundTripIsExact(t *testing.T) {
	for name, in := range map[string]string{
		"a CPU target": `{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"a","annotations":{"x":"y"}},
			"spec":{"scaleTargetRef":{"kind":"Deployment","name":"a","apiVersion":"apps/v1"},"minReplicas":1,"maxReplicas":3,"targetCPUUtilizationPercentage":50},
			"status":{"observedGeneration":2,"lastScaleTime":"2026-01-02T03:04:05Z","currentReplicas":1,"desiredReplicas":2}}`,
		// As a v1 client reads an object written in v2: the annotations too.
		"read from v2": jsonOf(convert(t, decode(t, fullV2), V1)),
	} {
		t.Run(name, func(t *testing.T) {
			obj := decode(t, in)
			if got := convert(t, obj, V1); !reflect.DeepEqual(got, obj) {
				t.Errorf("v1 -> hub -> v1 changed the object:\n got %s\nwant %s", jsonOf(got), jsonOf(obj))
			}
		})
	}
}

// A v1 autoscaler without a target gets the 80% v1 always meant, in v2.
func TestV1WithoutTargetMeansEightyPercent(t *testing.T) {
	v1 := decode(t, `{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"a"},
		"spec":{"scaleTargetRef":{"kind":"Deployment","name":"a"},"maxReplicas":3}}`)
	got := jsonOf(convert(t, v1, V2)["spec"].(map[string]any)["metrics"])
	if want := `[{"resource":{"name":"cpu","target":{"averageUtilization":80,"type":"Utilization"}},"type":"Resource"}]`; got != want {
		t.Errorf("metrics: got %s, want %s", got, want)
	}
}

func TestDecodeErrorsAreBadRequests(t *testing.T) {
	for _, in := range []string{
		`{"apiVersion":"autoscaling/v1","spec":{"minReplicas":"a"}}`,
		`{"apiVersion":"autoscaling/v2","spec":{"metrics":[{"type":"Pods","pods":{"target":{"averageValue":"ten"}}}]}}`,
	} {
		_, err := Convert(decode(t, in), V2)
		if err == nil || !strings.Contains(err.Error(), "cannot be handled as a HorizontalPodAutoscaler") {
			t.Errorf("%s: got %v", in, err)
		}
	}
}

// Random autoscalers, in the shapes Kubernetes' own round-trip fuzzer
// gives them (pkg/apis/autoscaling/fuzzer): any hub survives v2 exactly,
// and v1 exactly once its CPU utilization metric, if any, is last.
func TestRandomRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		hub := randomHub(r)
		for _, version := range []string{V2, V1} {
			obj, err := FromHub(hub, version)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ToHub(obj)
			if err != nil {
				t.Fatalf("%d: %s: %v", i, version, err)
			}
			if !reflect.DeepEqual(back, hub) {
				t.Fatalf("%d: hub -> %s -> hub:\n got %s\nwant %s", i, version, jsonOf(back), jsonOf(hub))
			}
			again, err := FromHub(back, version)
			if err != nil || !reflect.DeepEqual(again, obj) {
				t.Fatalf("%d: %s -> hub -> %s changed the object (%v)", i, version, version, err)
			}
		}
	}
}

func randomHub(r *rand.Rand) *HorizontalPodAutoscaler {
	quantities := []Quantity{"1", "10", "250m", "2Gi", "3k", "1500"}
	q := func() *Quantity { v := quantities[r.IntN(len(quantities))]; return &v }
	n := func() *int32 { return ptr(int32(1 + r.IntN(100))) }
	name := func(prefix string) string { return fmt.Sprintf("%s-%d", prefix, r.IntN(1000)) }
	maybe := func() bool { return r.IntN(2) == 0 }
	var selector *LabelSelector
	if maybe() {
		selector = &LabelSelector{MatchLabels: map[string]string{"k": name("v")}}
	}
	ref := CrossVersionObjectReference{Kind: "Deployment", Name: name("d"), APIVersion: "apps/v1"}

	hpa := &HorizontalPodAutoscaler{Metadata: map[string]any{"name": name("hpa"), "namespace": "default"}}
	if maybe() {
		hpa.Metadata["annotations"] = map[string]any{"note": name("n")}
	}
	hpa.Spec = HorizontalPodAutoscalerSpec{ScaleTargetRef: ref, MinReplicas: n(), MaxReplicas: 100 + int32(r.IntN(10))}
	candidates := []MetricSpec{
		{Type: PodsMetricSourceType, Pods: &PodsMetricSource{Metric: MetricIdentifier{Name: name("m"), Selector: selector},
			Target: MetricTarget{Type: AverageValueMetricType, AverageValue: q()}}},
		{Type: ObjectMetricSourceType, Object: &ObjectMetricSource{DescribedObject: ref, Metric: MetricIdentifier{Name: name("m")},
			Target: MetricTarget{Type: ValueMetricType, Value: q()}}},
		{Type: ObjectMetricSourceType, Object: &ObjectMetricSource{DescribedObject: ref, Metric: MetricIdentifier{Name: name("m")},
			Target: MetricTarget{Type: AverageValueMetricType, AverageValue: q()}}},
		{Type: ExternalMetricSourceType, External: &ExternalMetricSource{Metric: MetricIdentifier{Name: name("m"), Selector: selector},
			Target: MetricTarget{Type: ValueMetricType, Value: q()}}},
		{Type: ExternalMetricSourceType, External: &ExternalMetricSource{Metric: MetricIdentifier{Name: name("m")},
			Target: MetricTarget{Type: AverageValueMetricType, AverageValue: q()}}},
		{Type: ResourceMetricSourceType, Resource: &ResourceMetricSource{Name: "memory", Target: MetricTarget{Type: AverageValueMetricType, AverageValue: q()}}},
		{Type: ContainerResourceMetricSourceType, ContainerResource: &ContainerResourceMetricSource{Name: "cpu", Container: name("c"),
			Target: MetricTarget{Type: UtilizationMetricType, AverageUtilization: n()}}},
	}
	for _, m := range candidates {
		if maybe() {
			hpa.Spec.Metrics = append(hpa.Spec.Metrics, m)
		}
	}
	if maybe() || len(hpa.Spec.Metrics) == 0 {
		hpa.Spec.Metrics = append(hpa.Spec.Metrics, cpuUtilization(*n()))
	}
	if maybe() {
		rules := func() *HPAScalingRules {
			if maybe() {
				return nil
			}
			return &HPAScalingRules{StabilizationWindowSeconds: ptr(int32(r.IntN(3600))), SelectPolicy: ptr([]string{"Max", "Min", "Disabled"}[r.IntN(3)]),
				Policies:  []HPAScalingPolicy{{Type: "Pods", Value: *n(), PeriodSeconds: *n()}, {Type: "Percent", Value: *n(), PeriodSeconds: *n()}},
				Tolerance: []*Quantity{nil, q()}[r.IntN(2)]}
		}
		hpa.Spec.Behavior = &HorizontalPodAutoscalerBehavior{ScaleUp: rules(), ScaleDown: rules()}
		if hpa.Spec.Behavior.ScaleUp == nil && hpa.Spec.Behavior.ScaleDown == nil {
			hpa.Spec.Behavior = nil // an empty behavior is no behavior, in v1
		}
	}

	st := &hpa.Status
	st.CurrentReplicas, st.DesiredReplicas = int32(r.IntN(50)), int32(r.IntN(50))
	if maybe() {
		st.ObservedGeneration, st.LastScaleTime = ptr(int64(r.IntN(9))), ptr("2026-01-02T03:04:05Z")
	}
	statuses := []MetricStatus{
		{Type: PodsMetricSourceType, Pods: &PodsMetricStatus{Metric: MetricIdentifier{Name: name("m")}, Current: MetricValueStatus{AverageValue: q()}}},
		{Type: ResourceMetricSourceType, Resource: &ResourceMetricStatus{Name: "cpu", Current: MetricValueStatus{AverageValue: q(), AverageUtilization: n()}}},
		{Type: ObjectMetricSourceType, Object: &ObjectMetricStatus{Metric: MetricIdentifier{Name: name("m")}, DescribedObject: ref,
			Current: MetricValueStatus{Value: q(), AverageValue: []*Quantity{nil, q()}[r.IntN(2)]}}},
		{Type: ExternalMetricSourceType, External: &ExternalMetricStatus{Metric: MetricIdentifier{Name: name("m")},
			Current: MetricValueStatus{Value: q(), AverageValue: []*Quantity{nil, q()}[r.IntN(2)]}}},
	}
	for _, s := range statuses {
		if maybe() {
			st.CurrentMetrics = append(st.CurrentMetrics, s)
		}
	}
	if maybe() {
		st.Conditions = []HorizontalPodAutoscalerCondition{{Type: "ScalingActive", Status: "True", LastTransitionTime: "2026-01-02T03:04:05Z",
			Reason: name("r"), Message: name("m"), ObservedGeneration: ptr(int64(r.IntN(5)))}}
	}
	// Through JSON once, as every hub the server makes comes from JSON:
	// its metadata is decoded JSON.
	obj, _ := FromHub(hpa, V2)
	hub, _ := ToHub(obj)
	return hub
}

// The checks, and their words, are Kubernetes': these are kube-apiserver
// 1.37's answers to the same objects, in either version.
func TestValidateAsKubernetes(t *testing.T) {
	tests := []struct {
		name, obj string
		want      []string // field: message
	}{
		{"nothing set", `{"spec":{"scaleTargetRef":{"kind":"","name":""},"minReplicas":0,"maxReplicas":0}}`, []string{
			"spec.scaleTargetRef.kind: Required value",
			"spec.scaleTargetRef.name: Required value",
			`spec.scaleTargetRef.apiVersion: Invalid value: "": apiVersion must specify API group`,
			"spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas",
			"spec.maxReplicas: Required value"}},
		{"bounds", `{"spec":{"scaleTargetRef":{"kind":"Deployment","name":"x"},"minReplicas":3,"maxReplicas":2,"targetCPUUtilizationPercentage":0}}`, []string{
			"spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
			`spec.scaleTargetRef.apiVersion: Invalid value: "": apiVersion must specify API group`,
			"spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"}},
		{"valid", `{"spec":{"scaleTargetRef":{"kind":"Deployment","name":"x","apiVersion":"apps/v1"},"minReplicas":1,"maxReplicas":2}}`, nil},
	}
	for _, tt := range tests {
		for _, version := range []string{V1, V2} {
			obj := decode(t, tt.obj)
			obj["apiVersion"] = version
			if version == V2 && tt.name == "bounds" { // the same target, as v2 says it
				obj = convert(t, decode(t, strings.Replace(tt.obj, `"spec"`, `"apiVersion":"autoscaling/v1","spec"`, 1)), V2)
			}
			causes, err := Validate(obj)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range causes {
				got = append(got, c.Field+": "+c.Message)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s in %s:\n got %q\nwant %q", tt.name, version, got, tt.want)
			}
		}
	}
}

// What a read in v1 of an autoscaler stored in v2 costs: decode, two
// conversions, encode.
func BenchmarkConvertV2ToV1(b *testing.B) {
	obj, err := object.Decode([]byte(fullV2))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Convert(obj, V1); err != nil {
			b.Fatal(err)
		}
	}
}
