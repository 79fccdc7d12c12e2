// Defaults, per version, and the checks, once, on the hub: a rule written
// for the hub holds for every version, and its field paths are the hub's
// (Kubernetes reports spec.metrics[0] to a v1 client too).

package autoscaling

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// Default fills in, in place, what Kubernetes fills in on an autoscaler in
// the version its apiVersion names (pkg/apis/autoscaling/{v1,v2}/defaults.go):
// one replica at least; in v2, a CPU target of 80% when no metric is named
// and, for a behavior, every scaling rule left out. v1 has no metrics to
// default: its conversion to the hub does it. An object that does not fit
// its version's types is left alone, for validation to refuse.
func Default(obj object.Object) {
	data, err := json.Marshal(obj)
	if err != nil {
		return
	}
	var out any
	switch obj["apiVersion"] {
	case V1:
		var v hpaV1
		if json.Unmarshal(data, &v) != nil {
			return
		}
		if v.Spec.MinReplicas == nil {
			v.Spec.MinReplicas = ptr[int32](1)
		}
		out = &v
	case V2:
		var v hpaV2
		if json.Unmarshal(data, &v) != nil {
			return
		}
		defaultV2(&v.Spec)
		out = &v
	default:
		return
	}
	if data, err = json.Marshal(out); err != nil {
		return
	}
	defaulted, err := object.Decode(data)
	if err != nil {
		return
	}
	clear(obj)
	for k, v := range defaulted {
		obj[k] = v
	}
}

func defaultV2(spec *specV2) {
	if spec.MinReplicas == nil {
		spec.MinReplicas = ptr[int32](1)
	}
	if len(spec.Metrics) == 0 {
		spec.Metrics = []metricSpecV2{{Type: ResourceMetricSourceType, Resource: &resourceMetricSourceV2{Name: "cpu",
			Target: metricTargetV2{Type: UtilizationMetricType, AverageUtilization: ptr[int32](DefaultCPUUtilization)}}}}
	}
	if b := spec.Behavior; b != nil {
		// Scaling up: at most 4 pods or 100% more every 15 s, whichever
		// is more, at once. Scaling down: at most 100% every 15 s, after
		// the controller's stabilization window (left unset here).
		b.ScaleUp = fillRules(b.ScaleUp, scalingRulesV2{StabilizationWindowSeconds: ptr[int32](0), SelectPolicy: ptr("Max"),
			Policies: []scalingPolicyV2{{Type: "Pods", Value: 4, PeriodSeconds: 15}, {Type: "Percent", Value: 100, PeriodSeconds: 15}}})
		b.ScaleDown = fillRules(b.ScaleDown, scalingRulesV2{SelectPolicy: ptr("Max"),
			Policies: []scalingPolicyV2{{Type: "Percent", Value: 100, PeriodSeconds: 15}}})
	}
}

// fillRules takes from defaults what rules leave unset.
func fillRules(rules *scalingRulesV2, defaults scalingRulesV2) *scalingRulesV2 {
	if rules == nil {
		return &defaults
	}
	out := *rules
	if out.StabilizationWindowSeconds == nil {
		out.StabilizationWindowSeconds = defaults.StabilizationWindowSeconds
	}
	if out.SelectPolicy == nil {
		out.SelectPolicy = defaults.SelectPolicy
	}
	if out.Policies == nil {
		out.Policies = defaults.Policies
	}
	return &out
}

// Validate checks an autoscaler, in any version, as Kubernetes'
// ValidateHorizontalPodAutoscaler checks its spec; the error is for an
// object that does not decode at all (400). Left out: the status checks of
// status updates, and the metric names' and containers' formats.
func Validate(obj object.Object) ([]apierrors.Cause, error) {
	hpa, err := ToHub(obj)
	if err != nil {
		return nil, err
	}
	var v validator
	s := hpa.Spec
	if s.MinReplicas != nil && s.MaxReplicas < *s.MinReplicas {
		v.invalid("spec.maxReplicas", s.MaxReplicas, "must be greater than or equal to `minReplicas`")
	}
	v.reference(s.ScaleTargetRef, "spec.scaleTargetRef")
	scalesToZero := false
	for i, m := range s.Metrics {
		v.metric(m, fmt.Sprintf("spec.metrics[%d]", i))
		scalesToZero = scalesToZero || m.Type == ObjectMetricSourceType || m.Type == ExternalMetricSourceType
	}
	// With the HPAScaleToZero gate, on in 1.37, minReplicas may be 0 if a
	// metric that is not per pod says when to scale up again.
	if s.MinReplicas != nil && *s.MinReplicas == 0 && !scalesToZero {
		v.add("FieldValueForbidden", "spec.metrics", "Forbidden: must specify at least one Object or External metric to support scaling to zero replicas")
	}
	if b := s.Behavior; b != nil {
		v.rules(b.ScaleUp, "spec.behavior.scaleUp")
		v.rules(b.ScaleDown, "spec.behavior.scaleDown")
	}
	// Kubernetes checks these two declaratively, after the others.
	if s.MinReplicas != nil && *s.MinReplicas < 0 {
		v.invalid("spec.minReplicas", *s.MinReplicas, "must be greater than or equal to 0")
	}
	if s.MaxReplicas == 0 {
		v.add("FieldValueRequired", "spec.maxReplicas", "Required value")
	} else if s.MaxReplicas < 0 {
		v.invalid("spec.maxReplicas", s.MaxReplicas, "must be greater than or equal to 1")
	}
	return v.causes, nil
}

type validator struct{ causes []apierrors.Cause }

func (v *validator) add(reason, field, message string) {
	v.causes = append(v.causes, apierrors.Cause{Reason: reason, Field: field, Message: message})
}

func (v *validator) invalid(field string, value any, detail string) {
	shown, _ := json.Marshal(value)
	v.add("FieldValueInvalid", field, fmt.Sprintf("Invalid value: %s: %s", shown, detail))
}

func (v *validator) required(field, detail string) {
	msg := "Required value"
	if detail != "" {
		msg += ": " + detail
	}
	v.add("FieldValueRequired", field, msg)
}

func (v *validator) notSupported(field, value string, supported ...string) {
	v.add("FieldValueNotSupported", field, fmt.Sprintf("Unsupported value: %q: supported values: \"%s\"", value, strings.Join(supported, `", "`)))
}

// reference checks a CrossVersionObjectReference: kind and name required
// and usable in a path, an apiVersion with a group.
func (v *validator) reference(ref CrossVersionObjectReference, path string) {
	for _, f := range []struct{ name, value string }{{"kind", ref.Kind}, {"name", ref.Name}} {
		if f.value == "" {
			v.required(path+"."+f.name, "")
		} else if msg := object.ValidatePathSegmentName(f.value); msg != "" {
			v.invalid(path+"."+f.name, f.value, msg)
		}
	}
	group, version, found := strings.Cut(ref.APIVersion, "/")
	switch {
	case strings.Count(ref.APIVersion, "/") > 1 || (found && (group == "" || version == "")):
		v.invalid(path+".apiVersion", ref.APIVersion, fmt.Sprintf("unexpected GroupVersion string: %s", ref.APIVersion))
	case !found:
		v.invalid(path+".apiVersion", ref.APIVersion, "apiVersion must specify API group")
	}
}

var metricSourceTypes = []string{ContainerResourceMetricSourceType, ExternalMetricSourceType, ObjectMetricSourceType, PodsMetricSourceType, ResourceMetricSourceType}

// metric checks one metric: a known type, its source (and only it) set,
// its target's values positive.
func (v *validator) metric(m MetricSpec, path string) {
	if m.Type == "" {
		v.required(path+".type", "must specify a metric source type")
	}
	sources := []struct {
		typ, field string
		set        bool
	}{
		{ObjectMetricSourceType, "object", m.Object != nil},
		{ExternalMetricSourceType, "external", m.External != nil},
		{PodsMetricSourceType, "pods", m.Pods != nil},
		{ResourceMetricSourceType, "resource", m.Resource != nil},
		{ContainerResourceMetricSourceType, "containerResource", m.ContainerResource != nil},
	}
	present, expected := 0, ""
	for _, s := range sources {
		if s.set {
			present++
			if present == 1 {
				v.source(m, path+"."+s.field)
			}
		}
		if s.typ == m.Type {
			expected = s.field
			if !s.set {
				v.required(path+"."+s.field, "must populate information for the given metric source")
			}
		}
	}
	if expected == "" {
		v.notSupported(path+".type", m.Type, metricSourceTypes...)
	}
	if present > 1 {
		for _, s := range sources {
			if s.set && s.field != expected {
				v.add("FieldValueForbidden", path+"."+s.field, "Forbidden: must populate the given metric source only")
			}
		}
	}
}

// source checks the one source a metric sets.
func (v *validator) source(m MetricSpec, path string) {
	switch {
	case m.Object != nil:
		v.reference(m.Object.DescribedObject, path+".describedObject")
		v.metricName(m.Object.Metric, path)
		v.target(m.Object.Target, path)
		if m.Object.Target.Value == nil && m.Object.Target.AverageValue == nil {
			v.required(path+".target.averageValue", "must set either a target value or averageValue")
		}
	case m.External != nil:
		v.metricName(m.External.Metric, path)
		v.target(m.External.Target, path)
		t := m.External.Target
		if t.Value == nil && t.AverageValue == nil {
			v.required(path+".target.averageValue", "must set either a target value for metric or a per-pod target")
		}
		if t.Value != nil && t.AverageValue != nil {
			v.add("FieldValueForbidden", path+".target.value", "Forbidden: may not set both a target value for metric and a per-pod target")
		}
	case m.Pods != nil:
		v.metricName(m.Pods.Metric, path)
		v.target(m.Pods.Target, path)
		if m.Pods.Target.AverageValue == nil {
			v.required(path+".target.averageValue", "must specify a positive target averageValue")
		}
	case m.Resource != nil:
		v.resource(m.Resource.Name, m.Resource.Target, path)
	case m.ContainerResource != nil:
		v.resource(m.ContainerResource.Name, m.ContainerResource.Target, path)
		if m.ContainerResource.Container == "" {
			v.required(path+".container", "must specify a container")
		}
	}
}

func (v *validator) resource(name string, t MetricTarget, path string) {
	if name == "" {
		v.required(path+".name", "must specify a resource name")
	}
	v.target(t, path)
	if t.AverageUtilization == nil && t.AverageValue == nil {
		v.required(path+".target.averageUtilization", "must set either a target raw value or a target utilization")
	}
	if t.AverageUtilization != nil && t.AverageValue != nil {
		v.add("FieldValueForbidden", path+".target.averageValue", "Forbidden: may not set both a target raw value and a target utilization")
	}
}

func (v *validator) metricName(id MetricIdentifier, path string) {
	if id.Name == "" {
		v.required(path+".metric.name", "must specify a metric name")
	}
}

func (v *validator) target(t MetricTarget, path string) {
	path += ".target"
	if t.Type == "" {
		v.required(path+".type", "must specify a metric target type")
	}
	if t.Type != UtilizationMetricType && t.Type != ValueMetricType && t.Type != AverageValueMetricType {
		v.invalid(path+".type", t.Type, "must be either Utilization, Value, or AverageValue")
	}
	if t.Value != nil && !t.Value.positive() {
		v.invalid(path+".value", *t.Value, "must be positive")
	}
	if t.AverageValue != nil && !t.AverageValue.positive() {
		v.invalid(path+".averageValue", *t.AverageValue, "must be positive")
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		v.invalid(path+".averageUtilization", *t.AverageUtilization, "must be greater than 0")
	}
}

// rules checks a behavior's scaling rules (pkg/apis/autoscaling/validation's
// validateScalingRules): a window of at most an hour, a known select
// policy, at least one policy, each positive with a period of at most 30 minutes.
func (v *validator) rules(r *HPAScalingRules, path string) {
	if r == nil {
		return
	}
	if w := r.StabilizationWindowSeconds; w != nil && *w < 0 {
		v.invalid(path+".stabilizationWindowSeconds", *w, "must be greater than or equal to zero")
	} else if w != nil && *w > 3600 {
		v.invalid(path+".stabilizationWindowSeconds", *w, "must be less than or equal to 3600")
	}
	if p := r.SelectPolicy; p != nil && *p != "Max" && *p != "Min" && *p != "Disabled" {
		v.notSupported(path+".selectPolicy", *p, "Disabled", "Max", "Min")
	}
	if len(r.Policies) == 0 {
		v.required(path+".policies", "must specify at least one Policy")
	}
	for i, p := range r.Policies {
		at := fmt.Sprintf("%s.policies[%d]", path, i)
		if p.Type != "Pods" && p.Type != "Percent" {
			v.notSupported(at+".type", p.Type, "Percent", "Pods")
		}
		if p.Value <= 0 {
			v.invalid(at+".value", p.Value, "must be greater than zero")
		}
		if p.PeriodSeconds <= 0 {
			v.invalid(at+".periodSeconds", p.PeriodSeconds, "must be greater than zero")
		} else if p.PeriodSeconds > 1800 {
			v.invalid(at+".periodSeconds", p.PeriodSeconds, "must be less than or equal to 1800")
		}
	}
	if t := r.Tolerance; t != nil && !t.positive() && !t.isZero() {
		v.invalid(path+".tolerance", *t, "must be greater than or equal to 0")
	}
}
