package patch

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
)

// FuzzApply applies arbitrary patches of the three types to arbitrary
// objects. A patch is user input: whatever it is, Apply answers a result or a
// Status error (400, 415 or 422), never changes the stored object it was
// given, and returns something that encodes as JSON. A merge patch applied
// twice gives what it gave once (RFC 7386 patches are idempotent), and what
// the JSON patch library's merge patch gives.
func FuzzApply(f *testing.F) {
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"b"},"finalizers":["x"]},
		"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"}]}]}}`
	for _, seed := range []struct {
		kind uint8
		typ  uint8
		doc  string
		p    string
	}{
		{0, 1, pod, `{"metadata":{"labels":{"a":null,"c":"d"}}}`},
		{0, 1, pod, `[1,2]`},
		{0, 1, pod, `"x"`},
		{0, 0, pod, `[{"op":"add","path":"/metadata/labels/x","value":"y"}]`},
		{0, 0, pod, `[{"op":"test","path":"/metadata/name","value":"q"}]`},
		{0, 0, pod, `[{"op":"bogus","path":"/a"}]`},
		{0, 0, pod, `[{"op":"remove","path":"/spec/containers/9"}]`},
		{0, 0, pod, `[{"op":"move","from":"/spec","path":"/spec/x"}]`},
		{0, 0, pod, `[{"op":"copy","from":"/spec","path":"/metadata/labels/x"}]`},
		{0, 0, pod, `{"op":"add"}`},
		{0, 2, pod, `{"spec":{"containers":[{"name":"c","image":"j"},{"name":"d","image":"k"}]}}`},
		{0, 2, pod, `{"spec":{"containers":[{"name":"c","$patch":"delete"}]}}`},
		{0, 2, pod, `{"spec":{"containers":[{"name":"z","$patch":"replace"}]}}`},
		{0, 2, pod, `{"$patch":"bogus"}`},
		{0, 2, pod, `{"$patch":"delete"}`},
		{0, 2, pod, `{"spec":{"$retainKeys":["containers"],"hostname":"h"}}`},
		{0, 2, pod, `{"spec":{"$retainKeys":"garbage"}}`},
		{0, 2, pod, `{"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"c"}]}}`},
		{0, 2, pod, `{"spec":{"$setElementOrder/containers":"garbage"}}`},
		{0, 2, pod, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["x"]}}`},
		{0, 2, pod, `{"spec":{"containers":[1]}}`},
		{0, 2, pod, `{"$unknown":1}`},
		{1, 2, `{"kind":"Service","spec":{"ports":[{"port":80},{"port":81}]}}`, `{"spec":{"ports":[{"port":80,"name":"x"}]}}`},
		{2, 1, `{"kind":"ConfigMap","data":{"a":"b"}}`, `{"data":null}`},
		{2, 3, `{"kind":"ConfigMap"}`, `{}`},
	} {
		f.Add(seed.kind, seed.typ, seed.doc, seed.p)
	}
	kinds := []string{"Pod", "Service", "ConfigMap", "Job", "ServiceAccount"}
	types := []string{JSONPatchType, MergePatchType, StrategicMergePatchType, "application/apply-patch+yaml"}
	f.Fuzz(func(t *testing.T, kind, typ uint8, doc, p string) {
		current, err := object.Decode([]byte(doc))
		if err != nil {
			return
		}
		before := object.DeepCopy(map[string]any(current))
		k, pt := kinds[int(kind)%len(kinds)], types[int(typ)%len(types)]
		patched, err := Apply(k, pt, current, []byte(p))
		if !reflect.DeepEqual(map[string]any(current), before) {
			t.Fatalf("%s %s %s changed the object it was given", k, pt, p)
		}
		if err != nil {
			var se *apierrors.StatusError
			if !errors.As(err, &se) || se.Code != 400 && se.Code != 415 && se.Code != 422 {
				t.Fatalf("%s %s %s: %v is not a 400, 415 or 422 Status", k, pt, p, err)
			}
			return
		}
		if _, err := json.Marshal(patched); err != nil {
			t.Fatalf("%s %s %s: the result does not encode: %v", k, pt, p, err)
		}
		if pt != MergePatchType {
			return
		}
		twice, err := Apply(k, pt, patched, []byte(p))
		if err != nil || !reflect.DeepEqual(twice, patched) {
			t.Fatalf("%s %s: once %v, twice %v (%v)", k, p, patched, twice, err)
		}
		// RFC 7386 as the JSON patch library implements it says the same.
		original, _ := json.Marshal(current)
		theirs, err := jsonpatch.MergePatch(original, []byte(p))
		if err != nil {
			t.Fatalf("%s on %s: merged here, the library says %v", p, original, err)
		}
		if want, _ := object.Decode(theirs); !reflect.DeepEqual(map[string]any(want), patched) {
			t.Fatalf("%s on %s: merged here as %v, by the library as %s", p, original, patched, theirs)
		}
	})
}
