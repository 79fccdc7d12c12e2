// Package autoscaling is the HorizontalPodAutoscaler, served in two versions
// of one resource: autoscaling/v1, which knows only a CPU target
// (targetCPUUtilizationPercentage), and autoscaling/v2, which has a list of
// metrics and a scaling behavior. Both are views of one hub type, the
// "internal" HorizontalPodAutoscaler of this file, which holds everything
// either version can say. Each version converts to the hub and from it
// (v1.go, v2.go), so two versions need two conversions, not one per pair:
//
//	v1  <->  hub  <->  v2        (hub and spoke)
//
// Objects are stored in one version, StorageVersion (v2, as Kubernetes
// stores them): a write in v1 goes v1 -> hub -> v2 before the store, a read
// in v1 goes v2 -> hub -> v1 after it. What v1 cannot express (metrics other
// than CPU utilization, the behavior, the current metrics and conditions)
// travels in annotations, so that an object read in v1 and written back in
// v1 keeps it all.
//
// In Kubernetes the hub is k8s.io/kubernetes/pkg/apis/autoscaling/types.go,
// the conversions pkg/apis/autoscaling/v1/conversion.go (hand-written) and
// the generated zz_generated.conversion.go files, the defaults
// pkg/apis/autoscaling/{v1,v2}/defaults.go, the checks
// pkg/apis/autoscaling/validation. The hub's types have no JSON tags there
// either: it is never sent, except, by an accident of history, as the
// behavior annotation of v1, which therefore carries Go field names.
package autoscaling

// Group, versions, and the version objects are stored in.
const (
	Group          = "autoscaling"
	V1             = "autoscaling/v1"
	V2             = "autoscaling/v2"
	StorageVersion = V2
	Kind           = "HorizontalPodAutoscaler"
)

// The annotations that carry v2's fields through v1 (Kubernetes' names,
// pkg/apis/autoscaling/annotations.go). The two tolerance annotations are
// no longer written, only removed: the tolerance travels in the behavior.
const (
	MetricSpecsAnnotation        = "autoscaling.alpha.kubernetes.io/metrics"
	MetricStatusesAnnotation     = "autoscaling.alpha.kubernetes.io/current-metrics"
	ConditionsAnnotation         = "autoscaling.alpha.kubernetes.io/conditions"
	BehaviorSpecsAnnotation      = "autoscaling.alpha.kubernetes.io/behavior"
	ToleranceScaleDownAnnotation = "autoscaling.alpha.kubernetes.io/scale-down-tolerance"
	ToleranceScaleUpAnnotation   = "autoscaling.alpha.kubernetes.io/scale-up-tolerance"
)

// roundTripAnnotations are every annotation conversion owns.
var roundTripAnnotations = []string{MetricSpecsAnnotation, MetricStatusesAnnotation, ConditionsAnnotation,
	BehaviorSpecsAnnotation, ToleranceScaleDownAnnotation, ToleranceScaleUpAnnotation}

// DefaultCPUUtilization is the CPU target of an autoscaler that names no metric.
const DefaultCPUUtilization = 80

// HorizontalPodAutoscaler is the hub. Metadata stays decoded JSON: no
// version differs in it, and conversion touches only its annotations.
type HorizontalPodAutoscaler struct {
	Metadata map[string]any
	Spec     HorizontalPodAutoscalerSpec
	Status   HorizontalPodAutoscalerStatus
}

// Quantity is a resource quantity ("500m", "10"), in its canonical form.
type Quantity string

type HorizontalPodAutoscalerSpec struct {
	ScaleTargetRef CrossVersionObjectReference
	MinReplicas    *int32
	MaxReplicas    int32
	Metrics        []MetricSpec
	Behavior       *HorizontalPodAutoscalerBehavior
}

// CrossVersionObjectReference names an object: the one to scale, or the one
// an Object metric describes. Every version has it with the same fields.
type CrossVersionObjectReference struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	APIVersion string `json:"apiVersion,omitempty"`
}

type HorizontalPodAutoscalerBehavior struct {
	ScaleUp   *HPAScalingRules
	ScaleDown *HPAScalingRules
}

type HPAScalingRules struct {
	StabilizationWindowSeconds *int32
	SelectPolicy               *string // Max, Min, Disabled
	Policies                   []HPAScalingPolicy
	Tolerance                  *Quantity
}

type HPAScalingPolicy struct {
	Type          string // Pods, Percent
	Value         int32
	PeriodSeconds int32
}

// The metric source types.
const (
	ObjectMetricSourceType            = "Object"
	PodsMetricSourceType              = "Pods"
	ResourceMetricSourceType          = "Resource"
	ContainerResourceMetricSourceType = "ContainerResource"
	ExternalMetricSourceType          = "External"
)

// The metric target types.
const (
	UtilizationMetricType  = "Utilization"
	ValueMetricType        = "Value"
	AverageValueMetricType = "AverageValue"
)

// MetricSpec is one metric to scale on; Type says which source is set.
type MetricSpec struct {
	Type              string
	Object            *ObjectMetricSource
	Pods              *PodsMetricSource
	Resource          *ResourceMetricSource
	ContainerResource *ContainerResourceMetricSource
	External          *ExternalMetricSource
}

type ObjectMetricSource struct {
	DescribedObject CrossVersionObjectReference
	Target          MetricTarget
	Metric          MetricIdentifier
}

type PodsMetricSource struct {
	Metric MetricIdentifier
	Target MetricTarget
}

type ResourceMetricSource struct {
	Name   string // cpu, memory
	Target MetricTarget
}

type ContainerResourceMetricSource struct {
	Name      string
	Container string
	Target    MetricTarget
}

type ExternalMetricSource struct {
	Metric MetricIdentifier
	Target MetricTarget
}

type MetricIdentifier struct {
	Name     string
	Selector *LabelSelector
}

// LabelSelector is metav1.LabelSelector, the same in every version.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

type MetricTarget struct {
	Type               string
	Value              *Quantity
	AverageValue       *Quantity
	AverageUtilization *int32
}

type HorizontalPodAutoscalerStatus struct {
	ObservedGeneration *int64
	LastScaleTime      *string // an RFC 3339 time
	CurrentReplicas    int32
	DesiredReplicas    int32
	CurrentMetrics     []MetricStatus
	Conditions         []HorizontalPodAutoscalerCondition
}

// HorizontalPodAutoscalerCondition is the same in every version.
type HorizontalPodAutoscalerCondition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	LastTransitionTime string `json:"lastTransitionTime,omitempty"`
	Reason             string `json:"reason,omitempty"`
	Message            string `json:"message,omitempty"`
	ObservedGeneration *int64 `json:"observedGeneration,omitempty"`
}

type MetricStatus struct {
	Type              string
	Object            *ObjectMetricStatus
	Pods              *PodsMetricStatus
	Resource          *ResourceMetricStatus
	ContainerResource *ContainerResourceMetricStatus
	External          *ExternalMetricStatus
}

type ObjectMetricStatus struct {
	Metric          MetricIdentifier
	Current         MetricValueStatus
	DescribedObject CrossVersionObjectReference
}

type PodsMetricStatus struct {
	Metric  MetricIdentifier
	Current MetricValueStatus
}

type ResourceMetricStatus struct {
	Name    string
	Current MetricValueStatus
}

type ContainerResourceMetricStatus struct {
	Name      string
	Container string
	Current   MetricValueStatus
}

type ExternalMetricStatus struct {
	Metric  MetricIdentifier
	Current MetricValueStatus
}

type MetricValueStatus struct {
	Value              *Quantity
	AverageValue       *Quantity
	AverageUtilization *int32
}
