package fieldmanager

import (
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// What recording managedFields costs a create, an update and an apply of a
// Deployment: go test ./final/fieldmanager -run XXX -bench . -benchmem
func BenchmarkCreate(b *testing.B) {
	op := deploymentOp("kubectl-create")
	config, _ := object.Decode([]byte(deployment))
	b.ReportAllocs()
	for b.Loop() {
		obj := object.DeepCopy(map[string]any(config)).(map[string]any)
		op.Update(nil, obj)
	}
}

func BenchmarkUpdate(b *testing.B) {
	op := deploymentOp("kubectl-edit")
	live, _ := object.Decode([]byte(deployment))
	op.Update(nil, live)
	changed := object.DeepCopy(map[string]any(live)).(map[string]any)
	changed["spec"].(map[string]any)["replicas"] = 3
	b.ReportAllocs()
	for b.Loop() {
		obj := object.DeepCopy(changed).(map[string]any)
		op.Update(live, obj)
	}
}

func BenchmarkApply(b *testing.B) {
	op := deploymentOp("kubectl")
	config, _ := object.Decode([]byte(deployment))
	live, err := op.Apply(nil, config, false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := op.Apply(live, config, false); err != nil {
			b.Fatal(err)
		}
	}
}

// A ConfigMap of ten keys, like the load tool's.
func BenchmarkCreateConfigMap(b *testing.B) {
	op := configMapOp("loadtest")
	config, _ := object.Decode([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"app":"load"}},
		"data":{"k0":"v","k1":"v","k2":"v","k3":"v","k4":"v","k5":"v","k6":"v","k7":"v","k8":"v","k9":"v"}}`))
	b.ReportAllocs()
	for b.Loop() {
		obj := object.DeepCopy(map[string]any(config)).(map[string]any)
		op.Update(nil, obj)
	}
}
