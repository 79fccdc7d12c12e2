package main

import (
	"bytes"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// encodeProtobuf encodes obj as client-go does for "application/vnd.kubernetes.protobuf".
func encodeProtobuf(t *testing.T, obj runtime.Object) string {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if err := protobuf.NewSerializer(scheme, scheme).Encode(obj, &body); err != nil {
		t.Fatalf("encoding protobuf: %v", err)
	}
	return body.String()
}

func TestCreateFromProtobuf(t *testing.T) {
	h := newTestServer()
	body := encodeProtobuf(t, &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "settings", Labels: map[string]string{"app": "web"}},
		Data:       map[string]string{"greeting": "hello"},
	})

	code, created := call(t, h, "POST", configMapsPath, protobufType, body)
	if code != http.StatusCreated {
		t.Fatalf("POST protobuf: %d %v", code, created)
	}
	_, stored := call(t, h, "GET", configMapsPath+"/settings", "", "")
	if encode(stored["data"]) != `{"greeting":"hello"}` || at(stored, "metadata", "labels", "app") != "web" ||
		stored["kind"] != "ConfigMap" || at(stored, "metadata", "namespace") != "default" {
		t.Errorf("stored = %v; want the ConfigMap's data, labels, kind and namespace", stored)
	}
}

func TestBadProtobufIsRefused(t *testing.T) {
	pod := encodeProtobuf(t, &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "settings"},
	})
	tests := []struct{ name, body string }{
		{"not protobuf at all", `{"metadata":{"name":"settings"}}`},
		{"a Pod sent to the configmaps URL", pod},
	}
	for _, tt := range tests {
		h := newTestServer()
		code, status := call(t, h, "POST", configMapsPath, protobufType, tt.body)
		if code != http.StatusBadRequest || status["reason"] != "BadRequest" {
			t.Errorf("%s: %d %v; want 400 BadRequest", tt.name, code, status)
		}
		if _, list := call(t, h, "GET", configMapsPath, "", ""); len(names(list)) != 0 {
			t.Errorf("%s: stored anyway: %v", tt.name, names(list))
		}
	}
}
