// autoscaling/v2: the version the hub was modelled on. Its fields are the
// hub's, one for one, under their JSON names, so its conversions only copy;
// they also drop the v1 round-trip annotations, which mean nothing in v2.

package autoscaling

type hpaV2 struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	Spec       specV2         `json:"spec"`
	Status     statusV2       `json:"status"`
}

type specV2 struct {
	ScaleTargetRef CrossVersionObjectReference `json:"scaleTargetRef"`
	MinReplicas    *int32                      `json:"minReplicas,omitempty"`
	MaxReplicas    int32                       `json:"maxReplicas"`
	Metrics        []metricSpecV2              `json:"metrics,omitempty"`
	Behavior       *behaviorV2                 `json:"behavior,omitempty"`
}

type behaviorV2 struct {
	ScaleUp   *scalingRulesV2 `json:"scaleUp,omitempty"`
	ScaleDown *scalingRulesV2 `json:"scaleDown,omitempty"`
}

type scalingRulesV2 struct {
	StabilizationWindowSeconds *int32            `json:"stabilizationWindowSeconds,omitempty"`
	SelectPolicy               *string           `json:"selectPolicy,omitempty"`
	Policies                   []scalingPolicyV2 `json:"policies,omitempty"`
	Tolerance                  *Quantity         `json:"tolerance,omitempty"`
}

type scalingPolicyV2 struct {
	Type          string `json:"type"`
	Value         int32  `json:"value"`
	PeriodSeconds int32  `json:"periodSeconds"`
}

type metricSpecV2 struct {
	Type              string                  `json:"type"`
	Object            *objectMetricSourceV2   `json:"object,omitempty"`
	Pods              *podsMetricSourceV2     `json:"pods,omitempty"`
	Resource          *resourceMetricSourceV2 `json:"resource,omitempty"`
	ContainerResource *containerMetricV2      `json:"containerResource,omitempty"`
	External          *externalMetricV2       `json:"external,omitempty"`
}

type objectMetricSourceV2 struct {
	DescribedObject CrossVersionObjectReference `json:"describedObject"`
	Target          metricTargetV2              `json:"target"`
	Metric          metricIdentifierV2          `json:"metric"`
}

type podsMetricSourceV2 struct {
	Metric metricIdentifierV2 `json:"metric"`
	Target metricTargetV2     `json:"target"`
}

type resourceMetricSourceV2 struct {
	Name   string         `json:"name"`
	Target metricTargetV2 `json:"target"`
}

type containerMetricV2 struct {
	Name      string         `json:"name"`
	Target    metricTargetV2 `json:"target"`
	Container string         `json:"container"`
}

type externalMetricV2 struct {
	Metric metricIdentifierV2 `json:"metric"`
	Target metricTargetV2     `json:"target"`
}

type metricIdentifierV2 struct {
	Name     string         `json:"name"`
	Selector *LabelSelector `json:"selector,omitempty"`
}

type metricTargetV2 struct {
	Type               string    `json:"type"`
	Value              *Quantity `json:"value,omitempty"`
	AverageValue       *Quantity `json:"averageValue,omitempty"`
	AverageUtilization *int32    `json:"averageUtilization,omitempty"`
}

type statusV2 struct {
	ObservedGeneration *int64                             `json:"observedGeneration,omitempty"`
	LastScaleTime      *string                            `json:"lastScaleTime,omitempty"`
	CurrentReplicas    int32                              `json:"currentReplicas,omitempty"`
	DesiredReplicas    int32                              `json:"desiredReplicas"`
	CurrentMetrics     []metricStatusV2                   `json:"currentMetrics"`
	Conditions         []HorizontalPodAutoscalerCondition `json:"conditions,omitempty"`
}

type metricStatusV2 struct {
	Type              string                `json:"type"`
	Object            *objectMetricStatusV2 `json:"object,omitempty"`
	Pods              *podsMetricStatusV2   `json:"pods,omitempty"`
	Resource          *resourceStatusV2     `json:"resource,omitempty"`
	ContainerResource *containerStatusV2    `json:"containerResource,omitempty"`
	External          *externalStatusV2     `json:"external,omitempty"`
}

type objectMetricStatusV2 struct {
	Metric          metricIdentifierV2          `json:"metric"`
	Current         metricValueStatusV2         `json:"current"`
	DescribedObject CrossVersionObjectReference `json:"describedObject"`
}

type podsMetricStatusV2 struct {
	Metric  metricIdentifierV2  `json:"metric"`
	Current metricValueStatusV2 `json:"current"`
}

type resourceStatusV2 struct {
	Name    string              `json:"name"`
	Current metricValueStatusV2 `json:"current"`
}

type containerStatusV2 struct {
	Name      string              `json:"name"`
	Current   metricValueStatusV2 `json:"current"`
	Container string              `json:"container"`
}

type externalStatusV2 struct {
	Metric  metricIdentifierV2  `json:"metric"`
	Current metricValueStatusV2 `json:"current"`
}

type metricValueStatusV2 struct {
	Value              *Quantity `json:"value,omitempty"`
	AverageValue       *Quantity `json:"averageValue,omitempty"`
	AverageUtilization *int32    `json:"averageUtilization,omitempty"`
}

// v2ToHub: a copy, field by field. Where two types differ only in their
// tags, Go converts one into the other directly.
func v2ToHub(in *hpaV2) *HorizontalPodAutoscaler {
	out := &HorizontalPodAutoscaler{Metadata: withoutRoundTripAnnotations(in.Metadata)}
	s := &in.Spec
	out.Spec = HorizontalPodAutoscalerSpec{ScaleTargetRef: s.ScaleTargetRef, MinReplicas: s.MinReplicas, MaxReplicas: s.MaxReplicas}
	for _, m := range s.Metrics {
		hub := MetricSpec{Type: m.Type}
		if m.Object != nil {
			hub.Object = &ObjectMetricSource{DescribedObject: m.Object.DescribedObject, Target: MetricTarget(m.Object.Target), Metric: MetricIdentifier(m.Object.Metric)}
		}
		if m.Pods != nil {
			hub.Pods = &PodsMetricSource{Metric: MetricIdentifier(m.Pods.Metric), Target: MetricTarget(m.Pods.Target)}
		}
		if m.Resource != nil {
			hub.Resource = &ResourceMetricSource{Name: m.Resource.Name, Target: MetricTarget(m.Resource.Target)}
		}
		if m.ContainerResource != nil {
			hub.ContainerResource = &ContainerResourceMetricSource{Name: m.ContainerResource.Name, Container: m.ContainerResource.Container,
				Target: MetricTarget(m.ContainerResource.Target)}
		}
		if m.External != nil {
			hub.External = &ExternalMetricSource{Metric: MetricIdentifier(m.External.Metric), Target: MetricTarget(m.External.Target)}
		}
		out.Spec.Metrics = append(out.Spec.Metrics, hub)
	}
	if b := s.Behavior; b != nil {
		out.Spec.Behavior = &HorizontalPodAutoscalerBehavior{ScaleUp: rulesToHub(b.ScaleUp), ScaleDown: rulesToHub(b.ScaleDown)}
	}
	st := &in.Status
	out.Status = HorizontalPodAutoscalerStatus{ObservedGeneration: st.ObservedGeneration, LastScaleTime: st.LastScaleTime,
		CurrentReplicas: st.CurrentReplicas, DesiredReplicas: st.DesiredReplicas, Conditions: st.Conditions}
	for _, m := range st.CurrentMetrics {
		hub := MetricStatus{Type: m.Type}
		if m.Object != nil {
			hub.Object = &ObjectMetricStatus{Metric: MetricIdentifier(m.Object.Metric), Current: MetricValueStatus(m.Object.Current),
				DescribedObject: m.Object.DescribedObject}
		}
		if m.Pods != nil {
			hub.Pods = &PodsMetricStatus{Metric: MetricIdentifier(m.Pods.Metric), Current: MetricValueStatus(m.Pods.Current)}
		}
		if m.Resource != nil {
			hub.Resource = &ResourceMetricStatus{Name: m.Resource.Name, Current: MetricValueStatus(m.Resource.Current)}
		}
		if m.ContainerResource != nil {
			hub.ContainerResource = &ContainerResourceMetricStatus{Name: m.ContainerResource.Name, Container: m.ContainerResource.Container,
				Current: MetricValueStatus(m.ContainerResource.Current)}
		}
		if m.External != nil {
			hub.External = &ExternalMetricStatus{Metric: MetricIdentifier(m.External.Metric), Current: MetricValueStatus(m.External.Current)}
		}
		out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, hub)
	}
	return out
}

func rulesToHub(in *scalingRulesV2) *HPAScalingRules {
	if in == nil {
		return nil
	}
	out := &HPAScalingRules{StabilizationWindowSeconds: in.StabilizationWindowSeconds, SelectPolicy: in.SelectPolicy, Tolerance: in.Tolerance}
	for _, p := range in.Policies {
		out.Policies = append(out.Policies, HPAScalingPolicy(p))
	}
	return out
}

// hubToV2 is v2ToHub the other way.
func hubToV2(in *HorizontalPodAutoscaler) *hpaV2 {
	out := &hpaV2{APIVersion: V2, Kind: Kind, Metadata: withoutRoundTripAnnotations(in.Metadata)}
	s := &in.Spec
	out.Spec = specV2{ScaleTargetRef: s.ScaleTargetRef, MinReplicas: s.MinReplicas, MaxReplicas: s.MaxReplicas}
	for _, m := range s.Metrics {
		v := metricSpecV2{Type: m.Type}
		if m.Object != nil {
			v.Object = &objectMetricSourceV2{DescribedObject: m.Object.DescribedObject, Target: metricTargetV2(m.Object.Target), Metric: metricIdentifierV2(m.Object.Metric)}
		}
		if m.Pods != nil {
			v.Pods = &podsMetricSourceV2{Metric: metricIdentifierV2(m.Pods.Metric), Target: metricTargetV2(m.Pods.Target)}
		}
		if m.Resource != nil {
			v.Resource = &resourceMetricSourceV2{Name: m.Resource.Name, Target: metricTargetV2(m.Resource.Target)}
		}
		if m.ContainerResource != nil {
			v.ContainerResource = &containerMetricV2{Name: m.ContainerResource.Name, Container: m.ContainerResource.Container,
				Target: metricTargetV2(m.ContainerResource.Target)}
		}
		if m.External != nil {
			v.External = &externalMetricV2{Metric: metricIdentifierV2(m.External.Metric), Target: metricTargetV2(m.External.Target)}
		}
		out.Spec.Metrics = append(out.Spec.Metrics, v)
	}
	if b := s.Behavior; b != nil {
		out.Spec.Behavior = &behaviorV2{ScaleUp: rulesToV2(b.ScaleUp), ScaleDown: rulesToV2(b.ScaleDown)}
	}
	st := &in.Status
	out.Status = statusV2{ObservedGeneration: st.ObservedGeneration, LastScaleTime: st.LastScaleTime,
		CurrentReplicas: st.CurrentReplicas, DesiredReplicas: st.DesiredReplicas, Conditions: st.Conditions}
	for _, m := range st.CurrentMetrics {
		v := metricStatusV2{Type: m.Type}
		if m.Object != nil {
			v.Object = &objectMetricStatusV2{Metric: metricIdentifierV2(m.Object.Metric), Current: metricValueStatusV2(m.Object.Current),
				DescribedObject: m.Object.DescribedObject}
		}
		if m.Pods != nil {
			v.Pods = &podsMetricStatusV2{Metric: metricIdentifierV2(m.Pods.Metric), Current: metricValueStatusV2(m.Pods.Current)}
		}
		if m.Resource != nil {
			v.Resource = &resourceStatusV2{Name: m.Resource.Name, Current: metricValueStatusV2(m.Resource.Current)}
		}
		if m.ContainerResource != nil {
			v.ContainerResource = &containerStatusV2{Name: m.ContainerResource.Name, Container: m.ContainerResource.Container,
				Current: metricValueStatusV2(m.ContainerResource.Current)}
		}
		if m.External != nil {
			v.External = &externalStatusV2{Metric: metricIdentifierV2(m.External.Metric), Current: metricValueStatusV2(m.External.Current)}
		}
		out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, v)
	}
	return out
}

func rulesToV2(in *HPAScalingRules) *scalingRulesV2 {
	if in == nil {
		return nil
	}
	out := &scalingRulesV2{StabilizationWindowSeconds: in.StabilizationWindowSeconds, SelectPolicy: in.SelectPolicy, Tolerance: in.Tolerance}
	for _, p := range in.Policies {
		out.Policies = append(out.Policies, scalingPolicyV2(p))
	}
	return out
}
