// Tables: what "kubectl get" prints. kubectl asks for a list (or a watch) as
// a meta.k8s.io/v1 Table; the server chooses the columns, as kube-apiserver's
// printers do (pkg/printers/internalversion), and sends the cells ready to
// print, each row with the object's metadata for the namespace and label
// columns kubectl adds itself. Custom resources get their CRD's
// additionalPrinterColumns, or Name and Age.
package apiserver

import (
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis/autoscaling"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

// Column is one column of a Table.
type Column struct {
	Name, Type, Format, Description string
	Priority                        int // 1: only with -o wide
	// Cell computes the column's value for one object.
	Cell func(obj object.Object) any
}

// PrinterColumns is what a custom resource implements to choose its
// columns (a CRD's additionalPrinterColumns).
type PrinterColumns interface {
	PrinterColumns() []Column
}

// wantsTable reports whether the Accept header asks for a Table.
func wantsTable(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mediaType == "application/json" && params["as"] == "Table" && params["g"] == "meta.k8s.io" &&
			(params["v"] == "v1" || params["v"] == "v1beta1") {
			return true
		}
	}
	return false
}

// table turns objects into a Table.
func table(r *http.Request, res *registry.Resource, items []object.Object, meta map[string]any) map[string]any {
	columns := columnsFor(res)
	definitions := make([]map[string]any, len(columns))
	for i, c := range columns {
		definitions[i] = map[string]any{"name": c.Name, "type": c.Type, "format": c.Format, "description": c.Description, "priority": c.Priority}
	}
	include := r.URL.Query().Get("includeObject")
	rows := make([]map[string]any, len(items))
	for i, obj := range items {
		cells := make([]any, len(columns))
		for j, c := range columns {
			cells[j] = c.Cell(obj)
		}
		row := map[string]any{"cells": cells}
		switch include {
		case "None":
		case "Object":
			row["object"] = obj
		default: // Metadata
			row["object"] = map[string]any{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.Metadata()}
		}
		rows[i] = row
	}
	if meta == nil {
		meta = map[string]any{}
	}
	return map[string]any{"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
		"columnDefinitions": definitions, "rows": rows}
}

var (
	nameColumn = Column{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace.",
		Cell: func(o object.Object) any { return o.MetaString("name") }}
	ageColumn = Column{Name: "Age", Type: "string", Description: "The time since the object was created.",
		Cell: func(o object.Object) any { return age(o.MetaString("creationTimestamp")) }}
)

// columnsFor is the printer of a kind: Name, what matters about the kind, Age.
func columnsFor(res *registry.Resource) []Column {
	if pc, ok := res.Custom.(PrinterColumns); ok {
		return pc.PrinterColumns()
	}
	count := func(name, field string) Column {
		return Column{Name: name, Type: "integer", Cell: func(o object.Object) any {
			switch v := o[field].(type) {
			case map[string]any:
				return len(v)
			case []any:
				return len(v)
			}
			return 0
		}}
	}
	str := func(name string, path ...string) Column {
		return Column{Name: name, Type: "string", Cell: func(o object.Object) any { return stringAt(o, path...) }}
	}
	switch res.Group + "/" + res.Kind {
	case "/Pod":
		return []Column{nameColumn,
			{Name: "Ready", Type: "string", Cell: podReady},
			{Name: "Status", Type: "string", Cell: func(o object.Object) any { return orDefault(stringAt(o, "status", "phase"), "Pending") }},
			{Name: "Restarts", Type: "string", Cell: podRestarts},
			ageColumn,
			{Name: "IP", Type: "string", Priority: 1, Cell: func(o object.Object) any { return orDefault(stringAt(o, "status", "podIP"), "<none>") }},
			{Name: "Node", Type: "string", Priority: 1, Cell: func(o object.Object) any { return orDefault(stringAt(o, "spec", "nodeName"), "<none>") }}}
	case "/ConfigMap":
		return []Column{nameColumn, count("Data", "data"), ageColumn}
	case "/Secret":
		return []Column{nameColumn, str("Type", "type"), count("Data", "data"), ageColumn}
	case "/Namespace":
		return []Column{nameColumn, str("Status", "status", "phase"), ageColumn}
	case "/Service":
		return []Column{nameColumn, str("Type", "spec", "type"), str("Cluster-IP", "spec", "clusterIP"), ageColumn}
	case "/Event":
		return []Column{
			{Name: "Last Seen", Type: "string", Cell: func(o object.Object) any {
				return age(orDefault(stringAt(o, "lastTimestamp"), o.MetaString("creationTimestamp")))
			}},
			str("Type", "type"), str("Reason", "reason"),
			{Name: "Object", Type: "string", Cell: func(o object.Object) any {
				return strings.ToLower(stringAt(o, "involvedObject", "kind")) + "/" + stringAt(o, "involvedObject", "name")
			}},
			str("Message", "message")}
	case "apps/Deployment", "apps/ReplicaSet", "apps/StatefulSet":
		return []Column{nameColumn,
			{Name: "Ready", Type: "string", Cell: func(o object.Object) any {
				return fmt.Sprintf("%s/%s", orDefault(stringAt(o, "status", "readyReplicas"), "0"), orDefault(stringAt(o, "spec", "replicas"), "1"))
			}},
			ageColumn}
	case "apiextensions.k8s.io/CustomResourceDefinition":
		return []Column{nameColumn, {Name: "Created At", Type: "date", Cell: func(o object.Object) any { return o.MetaString("creationTimestamp") }}}
	case "apiregistration.k8s.io/APIService":
		return []Column{nameColumn,
			{Name: "Service", Type: "string", Cell: func(o object.Object) any {
				if ns := stringAt(o, "spec", "service", "namespace"); ns != "" {
					return ns + "/" + stringAt(o, "spec", "service", "name")
				}
				return "Local"
			}},
			{Name: "Available", Type: "string", Cell: available}, ageColumn}
	case "autoscaling/HorizontalPodAutoscaler": // printed from the hub, alike in every version
		row := func(o object.Object) autoscaling.Printed { return autoscaling.Print(o) }
		return []Column{nameColumn,
			{Name: "Reference", Type: "string", Cell: func(o object.Object) any { return row(o).Reference }},
			{Name: "Targets", Type: "string", Cell: func(o object.Object) any { return row(o).Targets }},
			{Name: "MinPods", Type: "string", Cell: func(o object.Object) any { return row(o).MinPods }},
			{Name: "MaxPods", Type: "string", Cell: func(o object.Object) any { return row(o).MaxPods }},
			{Name: "Replicas", Type: "string", Cell: func(o object.Object) any { return row(o).Replicas }},
			ageColumn}
	case "coordination.k8s.io/Lease":
		return []Column{nameColumn, str("Holder", "spec", "holderIdentity"), ageColumn}
	case "rbac.authorization.k8s.io/RoleBinding", "rbac.authorization.k8s.io/ClusterRoleBinding":
		return []Column{nameColumn, {Name: "Role", Type: "string", Cell: func(o object.Object) any {
			return stringAt(o, "roleRef", "kind") + "/" + stringAt(o, "roleRef", "name")
		}}, ageColumn}
	case "rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/ClusterRole":
		return []Column{nameColumn, {Name: "Created At", Type: "date", Cell: func(o object.Object) any { return o.MetaString("creationTimestamp") }}}
	case "admissionregistration.k8s.io/MutatingWebhookConfiguration", "admissionregistration.k8s.io/ValidatingWebhookConfiguration":
		return []Column{nameColumn, count("Webhooks", "webhooks"), ageColumn}
	}
	return []Column{nameColumn, ageColumn}
}

func stringAt(o map[string]any, path ...string) string {
	var v any = o
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func podReady(o object.Object) any {
	containers, _ := stringMap(o, "spec")["containers"].([]any)
	ready := 0
	statuses, _ := stringMap(o, "status")["containerStatuses"].([]any)
	for _, s := range statuses {
		if m, ok := s.(map[string]any); ok && m["ready"] == true {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, len(containers))
}

func podRestarts(o object.Object) any {
	total := 0
	statuses, _ := stringMap(o, "status")["containerStatuses"].([]any)
	for _, s := range statuses {
		if m, ok := s.(map[string]any); ok {
			var n int
			fmt.Sscan(object.JSONString(m["restartCount"]), &n)
			total += n
		}
	}
	return fmt.Sprint(total)
}

func available(o object.Object) any {
	conditions, _ := stringMap(o, "status")["conditions"].([]any)
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == "Available" {
			if m["status"] == "True" {
				return "True"
			}
			return fmt.Sprintf("False (%v)", m["reason"])
		}
	}
	return "Unknown"
}

func stringMap(o map[string]any, key string) map[string]any {
	m, _ := o[key].(map[string]any)
	return m
}

// Age prints the time since an RFC 3339 timestamp the way kubectl does:
// 45s, 12m, 3h, 5d, then years.
func Age(timestamp string) string { return age(timestamp) }

func age(timestamp string) string {
	t, err := time.Parse(time.RFC3339, timestamp)
	if err != nil {
		return "<unknown>"
	}
	return humanDuration(time.Since(t))
}

func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 10*time.Minute:
		s := int(d.Seconds()) % 60
		if s == 0 {
			return fmt.Sprintf("%dm", int(d.Minutes()))
		}
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), s)
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 8*time.Hour:
		m := int(d.Minutes()) % 60
		if m == 0 {
			return fmt.Sprintf("%dh", int(d.Hours()))
		}
		return fmt.Sprintf("%dh%dm", int(d.Hours()), m)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 8*24*time.Hour:
		h := int(d.Hours()) % 24
		if h == 0 {
			return fmt.Sprintf("%dd", int(d.Hours())/24)
		}
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, h)
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours())/24)
	default:
		return fmt.Sprintf("%dy", int(d.Hours())/24/365)
	}
}

func sortedStrings(list []string) []string {
	slices.Sort(list)
	return list
}
