package apiserver

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// A list written from stored bytes reads exactly as the list encoded from
// decoded objects, which is what clients got before.
func TestStoredListReadsAsTheEncodedList(t *testing.T) {
	values := []string{ // as the store writes them: json.Marshal's, with HTML escaped
		`{"apiVersion":"v1","data":{"a":"\u003c\u0026\u003e"},"kind":"ConfigMap","metadata":{"name":"a","namespace":"default","uid":"1"}}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"labels":{"x":"y"},"name":"b","namespace":"default"}}`,
	}
	meta := map[string]any{"resourceVersion": "9", "continue": "token"}
	var kvs []storage.KeyValue
	var objs []object.Object
	for i, v := range values {
		kvs = append(kvs, storage.KeyValue{Key: "k", Value: []byte(v), ModRevision: int64(7 + i)})
		obj, err := object.Decode([]byte(v))
		if err != nil {
			t.Fatal(err)
		}
		obj.Metadata()["resourceVersion"] = strconv.Itoa(7 + i)
		objs = append(objs, obj)
	}
	for _, n := range []int{0, 1, 2} {
		var want bytes.Buffer
		_ = json.NewEncoder(&want).Encode(map[string]any{"kind": "ConfigMapList", "apiVersion": "v1", "metadata": meta, "items": append([]object.Object{}, objs[:n]...)})
		var got bytes.Buffer
		written, err := storedList{apiVersion: "v1", kind: "ConfigMapList", metadata: meta, items: kvs[:n]}.WriteTo(&got)
		if err != nil || written != int64(got.Len()) || got.String() != want.String() {
			t.Errorf("%d items: wrote %d bytes, %v\n got %s\nwant %s", n, written, err, got.String(), want.String())
		}
	}
	var event bytes.Buffer
	if !writeStored(&event, store.Event{Type: "ADDED", Stored: kvs[1]}) {
		t.Fatal("writeStored failed")
	}
	var wantEvent bytes.Buffer
	_ = json.NewEncoder(&wantEvent).Encode(struct {
		Type   string `json:"type"`
		Object any    `json:"object"`
	}{"ADDED", objs[1]})
	if event.String() != wantEvent.String() {
		t.Errorf("event\n got %s\nwant %s", event.String(), wantEvent.String())
	}
}
