package store

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
)

// The stored bytes with the resourceVersion spliced in must read exactly as
// the decoded object encoded again: that is what clients got before.
func TestAppendJSONMatchesDecodeAndEncode(t *testing.T) {
	for _, value := range []string{
		`{"apiVersion":"v1","data":{"a":"b"},"kind":"ConfigMap","metadata":{"creationTimestamp":"2026-01-01T00:00:00Z","name":"x","namespace":"default","uid":"u"}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`,                                               // resourceVersion goes last
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}`,                                                         // alone
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"uid":"u"}}`,                                                // first
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","resourceVersion":"7","uid":"u"}}`,               // replaced
		`{"data":{"metadata":"}{\"\\","x":[{"y":"]"}]},"kind":"ConfigMap","metadata":{"labels":{"a":"b"},"name":"x"}}`, // tricky strings before metadata
		`{"kind":"ConfigMap","metadata":{"annotations":{"resourceVersion":"no"},"name":"x"},"zzz":1}`,                  // a field after metadata
		`{"kind":"ConfigMap"}`,                    // no metadata: decoded instead
		`{ "kind": "ConfigMap", "metadata": {} }`, // not compact: decoded instead
	} {
		kv := storage.KeyValue{Key: "/registry/configmaps/default/x", Value: []byte(value), ModRevision: 42}
		got, err := AppendJSON([]byte("prefix"), kv)
		if err != nil {
			t.Fatalf("%s: %v", value, err)
		}
		obj, err := decode(kv)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(obj)
		if string(got) != "prefix"+string(want) {
			t.Errorf("stamped %s\n got %s\nwant %s", value, got[len("prefix"):], want)
		}
		var w bytes.Buffer
		if err := WriteJSON(&w, kv); err != nil || w.String() != string(want) {
			t.Errorf("WriteJSON of %s: %s, %v", value, w.String(), err)
		}
	}
}

func TestAppendJSONRefusesWhatIsNotAnObject(t *testing.T) {
	for _, value := range []string{``, `[]`, `{"metadata":`, `{"metadata":{"name":"x"`} {
		if _, err := AppendJSON(nil, storage.KeyValue{Key: "k", Value: []byte(value)}); err == nil {
			t.Errorf("%q: no error", value)
		}
	}
}

// What the list and watch paths save: splicing against decoding and
// encoding one ConfigMap of about 1 KiB.
func BenchmarkAppendJSON(b *testing.B) {
	kv := benchmarkValue(b)
	var buf []byte
	for b.Loop() {
		buf, _ = AppendJSON(buf[:0], kv)
	}
}

func BenchmarkDecodeEncode(b *testing.B) {
	kv := benchmarkValue(b)
	for b.Loop() {
		obj, _ := decode(kv)
		_, _ = json.Marshal(obj)
	}
}

func benchmarkValue(b *testing.B) storage.KeyValue {
	obj := object.Object{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"payload": string(bytes.Repeat([]byte("x"), 900))},
		"metadata": map[string]any{"name": "cm-000001", "namespace": "loadtest", "uid": object.NewUID(), "creationTimestamp": object.Now(),
			"labels": map[string]any{"app": "loadtest"}}}
	value, err := encode(obj)
	if err != nil {
		b.Fatal(err)
	}
	return storage.KeyValue{Key: "/registry/configmaps/loadtest/cm-000001", Value: value, ModRevision: 12345}
}

// Any object, stored as this server stores it (compact JSON without a
// resourceVersion), reads after the splice as it would decoded and encoded.
func FuzzAppendJSON(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"v1","data":{"a":"b\\\\","c":"\\\"","d":"\\\\\\\""},"kind":"ConfigMap","metadata":{"name":"x"}}`,
		`{"data":{"metadata":"}{\"\\","x":[{"y":"]"}]},"kind":"ConfigMap","metadata":{"labels":{"a":"b"},"name":"x"}}`,
		`{"kind":"ConfigMap","metadata":{"annotations":{"resourceVersion":"no"},"name":"x"},"zzz":1}`,
		`{"metadata":{}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := object.Decode(data)
		if err != nil {
			return
		}
		value, err := encode(obj)
		if err != nil {
			return
		}
		kv := storage.KeyValue{Key: "/registry/configmaps/default/x", Value: value, ModRevision: 42}
		got, err := AppendJSON(nil, kv)
		if err != nil {
			t.Fatalf("%s: %v", value, err)
		}
		decoded, err := decode(kv)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := json.Marshal(decoded); string(got) != string(want) {
			t.Fatalf("stamped %s\n got %s\nwant %s", value, got, want)
		}
	})
}
