// autoscaling/v1: the first HorizontalPodAutoscaler, with one target, CPU
// utilization. Converting to the hub makes that target a Resource metric;
// converting from the hub keeps the first CPU utilization metric as the
// target and writes what v1 has no field for into annotations, as JSON:
// the other metrics and the current metrics in v1's own metric types
// (which v1 still defines, for this purpose alone), the behavior as the
// hub's Go structs, the conditions. Converting back to the hub reads them
// and removes them, so an object read in v1 and written back in v1 loses
// nothing. These are Kubernetes' rules, from
// pkg/apis/autoscaling/v1/conversion.go, kept quirks and all: the CPU
// metric comes back last among the metrics, and an autoscaler with no
// metric at all gets the CPU target of 80% that v1's controller used to
// assume.

package autoscaling

import (
	"encoding/json"
	"fmt"
	"maps"
)

type hpaV1 struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	Spec       specV1         `json:"spec"`
	Status     statusV1       `json:"status"`
}

type specV1 struct {
	ScaleTargetRef                 CrossVersionObjectReference `json:"scaleTargetRef"`
	MinReplicas                    *int32                      `json:"minReplicas,omitempty"`
	MaxReplicas                    int32                       `json:"maxReplicas"`
	TargetCPUUtilizationPercentage *int32                      `json:"targetCPUUtilizationPercentage,omitempty"`
}

type statusV1 struct {
	ObservedGeneration              *int64  `json:"observedGeneration,omitempty"`
	LastScaleTime                   *string `json:"lastScaleTime,omitempty"`
	CurrentReplicas                 int32   `json:"currentReplicas"`
	DesiredReplicas                 int32   `json:"desiredReplicas"`
	CurrentCPUUtilizationPercentage *int32  `json:"currentCPUUtilizationPercentage,omitempty"`
}

// The metric types of v1, used only inside the annotations. Their field
// order is Kubernetes', so the annotations read the same.
type metricSpecV1 struct {
	Type              string                  `json:"type"`
	Object            *objectMetricSourceV1   `json:"object,omitempty"`
	Pods              *podsMetricSourceV1     `json:"pods,omitempty"`
	Resource          *resourceMetricSourceV1 `json:"resource,omitempty"`
	ContainerResource *containerMetricV1      `json:"containerResource,omitempty"`
	External          *externalMetricV1       `json:"external,omitempty"`
}

type objectMetricSourceV1 struct {
	Target       CrossVersionObjectReference `json:"target"`
	MetricName   string                      `json:"metricName"`
	TargetValue  Quantity                    `json:"targetValue"`
	Selector     *LabelSelector              `json:"selector,omitempty"`
	AverageValue *Quantity                   `json:"averageValue,omitempty"`
}

type podsMetricSourceV1 struct {
	MetricName         string         `json:"metricName"`
	TargetAverageValue Quantity       `json:"targetAverageValue"`
	Selector           *LabelSelector `json:"selector,omitempty"`
}

type resourceMetricSourceV1 struct {
	Name                     string    `json:"name"`
	TargetAverageUtilization *int32    `json:"targetAverageUtilization,omitempty"`
	TargetAverageValue       *Quantity `json:"targetAverageValue,omitempty"`
}

type containerMetricV1 struct {
	Name                     string    `json:"name"`
	TargetAverageUtilization *int32    `json:"targetAverageUtilization,omitempty"`
	TargetAverageValue       *Quantity `json:"targetAverageValue,omitempty"`
	Container                string    `json:"container"`
}

type externalMetricV1 struct {
	MetricName         string         `json:"metricName"`
	MetricSelector     *LabelSelector `json:"metricSelector,omitempty"`
	TargetValue        *Quantity      `json:"targetValue,omitempty"`
	TargetAverageValue *Quantity      `json:"targetAverageValue,omitempty"`
}

type metricStatusV1 struct {
	Type              string                `json:"type"`
	Object            *objectMetricStatusV1 `json:"object,omitempty"`
	Pods              *podsMetricStatusV1   `json:"pods,omitempty"`
	Resource          *resourceStatusV1     `json:"resource,omitempty"`
	ContainerResource *containerStatusV1    `json:"containerResource,omitempty"`
	External          *externalStatusV1     `json:"external,omitempty"`
}

type objectMetricStatusV1 struct {
	Target       CrossVersionObjectReference `json:"target"`
	MetricName   string                      `json:"metricName"`
	CurrentValue Quantity                    `json:"currentValue"`
	Selector     *LabelSelector              `json:"selector,omitempty"`
	AverageValue *Quantity                   `json:"averageValue,omitempty"`
}

type podsMetricStatusV1 struct {
	MetricName          string         `json:"metricName"`
	CurrentAverageValue Quantity       `json:"currentAverageValue"`
	Selector            *LabelSelector `json:"selector,omitempty"`
}

type resourceStatusV1 struct {
	Name                      string   `json:"name"`
	CurrentAverageUtilization *int32   `json:"currentAverageUtilization,omitempty"`
	CurrentAverageValue       Quantity `json:"currentAverageValue"`
}

type containerStatusV1 struct {
	Name                      string   `json:"name"`
	CurrentAverageUtilization *int32   `json:"currentAverageUtilization,omitempty"`
	CurrentAverageValue       Quantity `json:"currentAverageValue"`
	Container                 string   `json:"container"`
}

type externalStatusV1 struct {
	MetricName          string         `json:"metricName"`
	MetricSelector      *LabelSelector `json:"metricSelector,omitempty"`
	CurrentValue        Quantity       `json:"currentValue"`
	CurrentAverageValue *Quantity      `json:"currentAverageValue,omitempty"`
}

// isCPUUtilization: the one metric v1 has a field for.
func isCPUUtilization(m MetricSpec) bool {
	return m.Type == ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == "cpu" && m.Resource.Target.AverageUtilization != nil
}

func cpuUtilization(percent int32) MetricSpec {
	return MetricSpec{Type: ResourceMetricSourceType, Resource: &ResourceMetricSource{Name: "cpu",
		Target: MetricTarget{Type: UtilizationMetricType, AverageUtilization: &percent}}}
}

// hubToV1 keeps in fields what v1 has fields for, and the rest in annotations.
func hubToV1(in *HorizontalPodAutoscaler) (*hpaV1, error) {
	out := &hpaV1{APIVersion: V1, Kind: Kind, Metadata: withoutRoundTripAnnotations(in.Metadata)}
	s := &in.Spec
	out.Spec = specV1{ScaleTargetRef: s.ScaleTargetRef, MinReplicas: s.MinReplicas, MaxReplicas: s.MaxReplicas}
	var others []metricSpecV1
	for _, m := range s.Metrics {
		if isCPUUtilization(m) {
			if out.Spec.TargetCPUUtilizationPercentage == nil {
				out.Spec.TargetCPUUtilizationPercentage = ptr(*m.Resource.Target.AverageUtilization)
			}
			continue
		}
		others = append(others, metricSpecToV1(m))
	}
	st := &in.Status
	out.Status = statusV1{ObservedGeneration: st.ObservedGeneration, LastScaleTime: st.LastScaleTime,
		CurrentReplicas: st.CurrentReplicas, DesiredReplicas: st.DesiredReplicas}
	current := make([]metricStatusV1, 0, len(st.CurrentMetrics))
	for _, m := range st.CurrentMetrics {
		if m.Type == ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == "cpu" && m.Resource.Current.AverageUtilization != nil {
			out.Status.CurrentCPUUtilizationPercentage = ptr(*m.Resource.Current.AverageUtilization)
		}
		current = append(current, metricStatusToV1(m)) // all of them: the CPU one has an average value too
	}

	annotations := map[string]string{}
	put := func(key string, v any, when bool) error {
		if !when {
			return nil
		}
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding the %s annotation: %w", key, err)
		}
		annotations[key] = string(data)
		return nil
	}
	for _, err := range []error{
		put(MetricSpecsAnnotation, others, len(others) > 0),
		put(MetricStatusesAnnotation, current, len(current) > 0),
		put(BehaviorSpecsAnnotation, s.Behavior, s.Behavior != nil), // the hub's structs: Go field names
		put(ConditionsAnnotation, st.Conditions, len(st.Conditions) > 0),
	} {
		if err != nil {
			return nil, err
		}
	}
	if len(annotations) > 0 {
		out.Metadata = withAnnotations(out.Metadata, annotations)
	}
	return out, nil
}

// v1ToHub reads the fields, then the annotations, which know more. An
// annotation that does not decode is ignored, as Kubernetes ignores it.
func v1ToHub(in *hpaV1) *HorizontalPodAutoscaler {
	out := &HorizontalPodAutoscaler{Metadata: withoutRoundTripAnnotations(in.Metadata)}
	s := &in.Spec
	out.Spec = HorizontalPodAutoscalerSpec{ScaleTargetRef: s.ScaleTargetRef, MinReplicas: s.MinReplicas, MaxReplicas: s.MaxReplicas}
	if s.TargetCPUUtilizationPercentage != nil {
		out.Spec.Metrics = []MetricSpec{cpuUtilization(*s.TargetCPUUtilizationPercentage)}
	}
	st := &in.Status
	out.Status = HorizontalPodAutoscalerStatus{ObservedGeneration: st.ObservedGeneration, LastScaleTime: st.LastScaleTime,
		CurrentReplicas: st.CurrentReplicas, DesiredReplicas: st.DesiredReplicas}
	if st.CurrentCPUUtilizationPercentage != nil {
		out.Status.CurrentMetrics = []MetricStatus{{Type: ResourceMetricSourceType,
			Resource: &ResourceMetricStatus{Name: "cpu", Current: MetricValueStatus{AverageUtilization: ptr(*st.CurrentCPUUtilizationPercentage)}}}}
	}

	annotations := annotationsOf(in.Metadata)
	read := func(key string, into any) bool {
		raw, ok := annotations[key]
		return ok && json.Unmarshal([]byte(raw), into) == nil
	}
	var others []metricSpecV1
	if read(MetricSpecsAnnotation, &others) {
		metrics := make([]MetricSpec, 0, len(others)+1)
		for _, m := range others {
			metrics = append(metrics, metricSpecToHub(m))
		}
		out.Spec.Metrics = append(metrics, out.Spec.Metrics...) // the CPU target, if any, last
	}
	var behavior HorizontalPodAutoscalerBehavior
	if read(BehaviorSpecsAnnotation, &behavior) && (behavior.ScaleUp != nil || behavior.ScaleDown != nil) {
		out.Spec.Behavior = &behavior
	}
	var current []metricStatusV1
	if read(MetricStatusesAnnotation, &current) {
		out.Status.CurrentMetrics = make([]MetricStatus, 0, len(current))
		for _, m := range current {
			out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, metricStatusToHub(m))
		}
	}
	if len(out.Spec.Metrics) == 0 {
		out.Spec.Metrics = []MetricSpec{cpuUtilization(DefaultCPUUtilization)}
	}
	var conditions []HorizontalPodAutoscalerCondition
	if read(ConditionsAnnotation, &conditions) {
		out.Status.Conditions = conditions
	}
	return out
}

func metricSpecToV1(m MetricSpec) metricSpecV1 {
	out := metricSpecV1{Type: m.Type}
	if o := m.Object; o != nil {
		out.Object = &objectMetricSourceV1{Target: o.DescribedObject, MetricName: o.Metric.Name, Selector: o.Metric.Selector,
			AverageValue: o.Target.AverageValue}
		if o.Target.Value != nil {
			out.Object.TargetValue = *o.Target.Value
		}
	}
	if p := m.Pods; p != nil {
		out.Pods = &podsMetricSourceV1{MetricName: p.Metric.Name, Selector: p.Metric.Selector}
		if p.Target.AverageValue != nil {
			out.Pods.TargetAverageValue = *p.Target.AverageValue
		}
	}
	if r := m.Resource; r != nil {
		out.Resource = &resourceMetricSourceV1{Name: r.Name, TargetAverageUtilization: r.Target.AverageUtilization,
			TargetAverageValue: r.Target.AverageValue}
	}
	if c := m.ContainerResource; c != nil {
		out.ContainerResource = &containerMetricV1{Name: c.Name, Container: c.Container,
			TargetAverageUtilization: c.Target.AverageUtilization, TargetAverageValue: c.Target.AverageValue}
	}
	if e := m.External; e != nil {
		out.External = &externalMetricV1{MetricName: e.Metric.Name, MetricSelector: e.Metric.Selector,
			TargetValue: e.Target.Value, TargetAverageValue: e.Target.AverageValue}
	}
	return out
}

// metricSpecToHub infers each target's type from the fields set, since v1
// has no type for targets.
func metricSpecToHub(m metricSpecV1) MetricSpec {
	out := MetricSpec{Type: m.Type}
	if o := m.Object; o != nil {
		target := MetricTarget{Type: ValueMetricType, Value: ptr(o.TargetValue)}
		if o.AverageValue != nil {
			// v1 always writes targetValue; "0" beside an average value means none.
			target = MetricTarget{Type: AverageValueMetricType, AverageValue: o.AverageValue}
			if !o.TargetValue.isZero() {
				target.Value = ptr(o.TargetValue)
			}
		}
		out.Object = &ObjectMetricSource{DescribedObject: o.Target, Target: target,
			Metric: MetricIdentifier{Name: o.MetricName, Selector: o.Selector}}
	}
	if p := m.Pods; p != nil {
		out.Pods = &PodsMetricSource{Metric: MetricIdentifier{Name: p.MetricName, Selector: p.Selector},
			Target: MetricTarget{Type: AverageValueMetricType, AverageValue: ptr(p.TargetAverageValue)}}
	}
	if r := m.Resource; r != nil {
		out.Resource = &ResourceMetricSource{Name: r.Name, Target: resourceTarget(r.TargetAverageUtilization, r.TargetAverageValue)}
	}
	if c := m.ContainerResource; c != nil {
		out.ContainerResource = &ContainerResourceMetricSource{Name: c.Name, Container: c.Container,
			Target: resourceTarget(c.TargetAverageUtilization, c.TargetAverageValue)}
	}
	if e := m.External; e != nil {
		target := MetricTarget{Type: AverageValueMetricType, Value: e.TargetValue, AverageValue: e.TargetAverageValue}
		if e.TargetValue != nil {
			target.Type = ValueMetricType
		}
		out.External = &ExternalMetricSource{Metric: MetricIdentifier{Name: e.MetricName, Selector: e.MetricSelector}, Target: target}
	}
	return out
}

func resourceTarget(utilization *int32, averageValue *Quantity) MetricTarget {
	t := MetricTarget{Type: AverageValueMetricType, AverageValue: averageValue, AverageUtilization: utilization}
	if utilization != nil {
		t.Type = UtilizationMetricType
	}
	return t
}

func metricStatusToV1(m MetricStatus) metricStatusV1 {
	out := metricStatusV1{Type: m.Type}
	deref := func(q *Quantity) Quantity {
		if q == nil {
			return ""
		}
		return *q
	}
	if o := m.Object; o != nil {
		out.Object = &objectMetricStatusV1{Target: o.DescribedObject, MetricName: o.Metric.Name, Selector: o.Metric.Selector,
			CurrentValue: deref(o.Current.Value), AverageValue: o.Current.AverageValue}
	}
	if p := m.Pods; p != nil {
		out.Pods = &podsMetricStatusV1{MetricName: p.Metric.Name, Selector: p.Metric.Selector, CurrentAverageValue: deref(p.Current.AverageValue)}
	}
	if r := m.Resource; r != nil {
		out.Resource = &resourceStatusV1{Name: r.Name, CurrentAverageUtilization: r.Current.AverageUtilization,
			CurrentAverageValue: deref(r.Current.AverageValue)}
	}
	if c := m.ContainerResource; c != nil {
		out.ContainerResource = &containerStatusV1{Name: c.Name, Container: c.Container,
			CurrentAverageUtilization: c.Current.AverageUtilization, CurrentAverageValue: deref(c.Current.AverageValue)}
	}
	if e := m.External; e != nil {
		out.External = &externalStatusV1{MetricName: e.Metric.Name, MetricSelector: e.Metric.Selector,
			CurrentValue: deref(e.Current.Value), CurrentAverageValue: e.Current.AverageValue}
	}
	return out
}

func metricStatusToHub(m metricStatusV1) MetricStatus {
	out := MetricStatus{Type: m.Type}
	if o := m.Object; o != nil {
		out.Object = &ObjectMetricStatus{Metric: MetricIdentifier{Name: o.MetricName, Selector: o.Selector},
			Current: MetricValueStatus{Value: ptr(o.CurrentValue), AverageValue: o.AverageValue}, DescribedObject: o.Target}
	}
	if p := m.Pods; p != nil {
		out.Pods = &PodsMetricStatus{Metric: MetricIdentifier{Name: p.MetricName, Selector: p.Selector},
			Current: MetricValueStatus{AverageValue: ptr(p.CurrentAverageValue)}}
	}
	if r := m.Resource; r != nil {
		out.Resource = &ResourceMetricStatus{Name: r.Name,
			Current: MetricValueStatus{AverageValue: ptr(r.CurrentAverageValue), AverageUtilization: r.CurrentAverageUtilization}}
	}
	if c := m.ContainerResource; c != nil {
		out.ContainerResource = &ContainerResourceMetricStatus{Name: c.Name, Container: c.Container,
			Current: MetricValueStatus{AverageValue: ptr(c.CurrentAverageValue), AverageUtilization: c.CurrentAverageUtilization}}
	}
	if e := m.External; e != nil {
		out.External = &ExternalMetricStatus{Metric: MetricIdentifier{Name: e.MetricName, Selector: e.MetricSelector},
			Current: MetricValueStatus{Value: ptr(e.CurrentValue), AverageValue: e.CurrentAverageValue}}
	}
	return out
}

// annotationsOf reads metadata.annotations; values that are not strings
// are not annotations conversion wrote, and are skipped.
func annotationsOf(meta map[string]any) map[string]string {
	out := map[string]string{}
	raw, _ := meta["annotations"].(map[string]any)
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// withoutRoundTripAnnotations copies metadata without the annotations
// conversion owns (and without annotations at all if none is left). The
// original is not changed: it may be a stored object that watchers share.
func withoutRoundTripAnnotations(meta map[string]any) map[string]any {
	out := maps.Clone(meta)
	raw, ok := meta["annotations"].(map[string]any)
	if !ok {
		return out
	}
	kept := maps.Clone(raw)
	for _, key := range roundTripAnnotations {
		delete(kept, key)
	}
	if len(kept) == 0 {
		delete(out, "annotations")
	} else {
		out["annotations"] = kept
	}
	return out
}

// withAnnotations adds annotations to a copy of metadata.
func withAnnotations(meta map[string]any, add map[string]string) map[string]any {
	out := maps.Clone(meta)
	if out == nil {
		out = map[string]any{}
	}
	annotations, _ := out["annotations"].(map[string]any)
	annotations = maps.Clone(annotations)
	if annotations == nil {
		annotations = map[string]any{}
	}
	for k, v := range add {
		annotations[k] = v
	}
	out["annotations"] = annotations
	return out
}

func ptr[T any](v T) *T { return &v }
