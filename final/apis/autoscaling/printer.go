// What "kubectl get hpa" prints, computed from the hub, so that every
// version prints alike (pkg/printers/internalversion's
// printHorizontalPodAutoscaler and formatHPAMetrics).

package autoscaling

import (
	"fmt"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// Printed is one autoscaler's row, but for its name and age.
type Printed struct {
	Reference, Targets, MinPods string
	MaxPods, Replicas           int64
}

// Print computes the row of an autoscaler in any version.
func Print(obj object.Object) Printed {
	hpa, err := ToHub(obj)
	if err != nil {
		return Printed{Reference: "<unknown>", Targets: "<unknown>", MinPods: "<unknown>"}
	}
	p := Printed{Reference: hpa.Spec.ScaleTargetRef.Kind + "/" + hpa.Spec.ScaleTargetRef.Name,
		Targets: targets(hpa.Spec.Metrics, hpa.Status.CurrentMetrics), MinPods: "<unset>",
		MaxPods: int64(hpa.Spec.MaxReplicas), Replicas: int64(hpa.Status.CurrentReplicas)}
	if hpa.Spec.MinReplicas != nil {
		p.MinPods = fmt.Sprint(*hpa.Spec.MinReplicas)
	}
	return p
}

// targets prints "current/target" per metric, the first two only. Like
// Kubernetes, it pairs the i-th metric with the i-th current metric.
func targets(specs []MetricSpec, statuses []MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	str := func(q *Quantity) string {
		if q == nil {
			return "0"
		}
		return string(*q)
	}
	percent := func(p *int32, unset string) string {
		if p == nil {
			return unset
		}
		return fmt.Sprintf("%d%%", *p)
	}
	var list []string
	for i, spec := range specs {
		var status *MetricStatus
		if i < len(statuses) {
			status = &statuses[i]
		}
		current := "<unknown>"
		switch {
		case spec.Type == ExternalMetricSourceType && spec.External != nil:
			t := spec.External.Target
			if status != nil && status.External != nil {
				current = str(status.External.Current.Value)
				if t.AverageValue != nil {
					current = str(status.External.Current.AverageValue)
				}
			}
			list = append(list, valueOrAverage(current, t, str))
		case spec.Type == ObjectMetricSourceType && spec.Object != nil:
			t := spec.Object.Target
			if status != nil && status.Object != nil {
				current = str(status.Object.Current.Value)
				if t.AverageValue != nil {
					current = str(status.Object.Current.AverageValue)
				}
			}
			list = append(list, valueOrAverage(current, t, str))
		case spec.Type == PodsMetricSourceType && spec.Pods != nil:
			if status != nil && status.Pods != nil {
				current = str(status.Pods.Current.AverageValue)
			}
			list = append(list, current+"/"+str(spec.Pods.Target.AverageValue))
		case spec.Type == ResourceMetricSourceType && spec.Resource != nil:
			var now *MetricValueStatus
			if status != nil && status.Resource != nil {
				now = &status.Resource.Current
			}
			list = append(list, spec.Resource.Name+": "+printResource(now, spec.Resource.Target, str, percent))
		case spec.Type == ContainerResourceMetricSourceType && spec.ContainerResource != nil:
			var now *MetricValueStatus
			if status != nil && status.ContainerResource != nil {
				now = &status.ContainerResource.Current
			}
			list = append(list, spec.ContainerResource.Name+": "+printResource(now, spec.ContainerResource.Target, str, percent))
		default:
			list = append(list, "<unknown type>")
		}
	}
	if len(list) > 2 {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:2], ", "), len(list)-2)
	}
	return strings.Join(list, ", ")
}

func valueOrAverage(current string, t MetricTarget, str func(*Quantity) string) string {
	if t.AverageValue != nil {
		return fmt.Sprintf("%s/%s (avg)", current, str(t.AverageValue))
	}
	return current + "/" + str(t.Value)
}

func printResource(now *MetricValueStatus, t MetricTarget, str func(*Quantity) string, percent func(*int32, string) string) string {
	if t.AverageValue != nil {
		current := "<unknown>"
		if now != nil {
			current = str(now.AverageValue)
		}
		return current + "/" + str(t.AverageValue)
	}
	current := "<unknown>"
	if now != nil && now.AverageUtilization != nil {
		current = percent(now.AverageUtilization, "")
	}
	return current + "/" + percent(t.AverageUtilization, "<auto>")
}
