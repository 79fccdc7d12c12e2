package apiserver

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 45 * time.Second: "45s", 119 * time.Second: "119s", 5*time.Minute + 7*time.Second: "5m7s",
		6 * time.Minute: "6m", 75 * time.Minute: "75m", 4*time.Hour + 5*time.Minute: "4h5m", 30 * time.Hour: "30h",
		3*24*time.Hour + 2*time.Hour: "3d2h", 40 * 24 * time.Hour: "40d", 3 * 365 * 24 * time.Hour: "3y",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestTable(t *testing.T) {
	r := httptest.NewRequest("GET", "/api/v1/pods", nil)
	if wantsTable(r) {
		t.Error("a plain request wants a table")
	}
	r.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	if !wantsTable(r) {
		t.Error("kubectl's Accept header does not want a table")
	}
	pods := &registry.Resource{Version: "v1", Name: "pods", Kind: "Pod", Namespaced: true}
	pod := object.Object{"metadata": map[string]any{"name": "web", "creationTimestamp": time.Now().Add(-90 * time.Second).UTC().Format(time.RFC3339)},
		"spec":   map[string]any{"containers": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}},
		"status": map[string]any{"phase": "Running", "containerStatuses": []any{map[string]any{"ready": true, "restartCount": 2}}}}
	got := table(r, pods, []object.Object{pod}, nil)
	cells := got["rows"].([]map[string]any)[0]["cells"].([]any)
	if cells[0] != "web" || cells[1] != "1/2" || cells[2] != "Running" || cells[3] != "2" || cells[4] != "90s" {
		t.Errorf("cells %v", cells)
	}
	if meta := got["rows"].([]map[string]any)[0]["object"].(map[string]any); meta["kind"] != "PartialObjectMetadata" {
		t.Errorf("row object %v", meta)
	}
	if defs := got["columnDefinitions"].([]map[string]any); len(defs) != 7 || defs[5]["priority"] != 1 {
		t.Errorf("columns %v", defs)
	}
}
