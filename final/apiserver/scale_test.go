package apiserver

import (
	"encoding/json"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

func TestScaleOf(t *testing.T) {
	deployment := object.Object{"metadata": map[string]any{"name": "web", "namespace": "default", "resourceVersion": "7", "labels": map[string]any{"x": "y"}},
		"spec":   map[string]any{"replicas": json.Number("3"), "selector": map[string]any{"matchLabels": map[string]any{"tier": "front", "app": "web"}}},
		"status": map[string]any{"replicas": json.Number("2")}}
	got, _ := json.Marshal(scaleOf(deployment))
	want := `{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web","namespace":"default","resourceVersion":"7"},"spec":{"replicas":3},"status":{"replicas":2,"selector":"app=web,tier=front"}}`
	if string(got) != want {
		t.Errorf("scaleOf:\n got %s\nwant %s", got, want)
	}
	if s := scaleOf(object.Object{"metadata": map[string]any{"name": "bare"}}); object.JSONString(s["spec"].(map[string]any)["replicas"]) != "1" {
		t.Errorf("replicas default to 1: %v", s)
	}
}
