package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/cmd/conversion-webhook/webhook"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/pki"
)

const hpas = "/apis/autoscaling/%s/namespaces/default/horizontalpodautoscalers"

// storedAPIVersion is the apiVersion of the bytes under a key.
func (ts *testServer) storedAPIVersion(t *testing.T, key string) string {
	t.Helper()
	kv, err := ts.srv.backend.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var stored struct {
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(kv.Value, &stored); err != nil {
		t.Fatal(err)
	}
	return stored.APIVersion
}

// One HorizontalPodAutoscaler, read and written in autoscaling/v1 and v2,
// stored in v2: what v1 cannot say survives a write in v1, watches and
// lists come in the version asked for.
func TestHorizontalPodAutoscalerVersions(t *testing.T) {
	ts := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v1Events := ts.watch(t, ctx, fmt.Sprintf(hpas, "v1")+"?watch=true")

	r := ts.do(t, http.MethodPost, fmt.Sprintf(hpas, "v2"), "application/json", `{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
		"metadata":{"name":"api"},"spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"api"},"maxReplicas":5,
		"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":60}}},
		 {"type":"Pods","pods":{"metric":{"name":"qps"},"target":{"type":"AverageValue","averageValue":"10"}}}],
		"behavior":{"scaleDown":{"stabilizationWindowSeconds":60}}}}`)
	expect(t, r, http.StatusCreated, "")
	if got := ts.storedAPIVersion(t, "/registry/autoscaling/horizontalpodautoscalers/default/api"); got != "autoscaling/v2" {
		t.Errorf("stored in %q", got)
	}
	typ, obj := next(t, v1Events)
	if typ != "ADDED" || obj["apiVersion"] != "autoscaling/v1" || field(obj, "spec", "targetCPUUtilizationPercentage") != 60.0 {
		t.Errorf("the v1 watch got %s %v", typ, obj)
	}

	// A v1 client reads it, changes maxReplicas, writes it back.
	r = ts.do(t, http.MethodGet, fmt.Sprintf(hpas, "v1")+"/api", "", "")
	expect(t, r, http.StatusOK, "")
	if r.obj["apiVersion"] != "autoscaling/v1" || field(r.obj, "spec", "metrics") != nil ||
		field(r.obj, "metadata", "annotations", "autoscaling.alpha.kubernetes.io/metrics") != `[{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"10"}}]` {
		t.Fatalf("read in v1: %s", r.raw)
	}
	r.obj["spec"].(map[string]any)["maxReplicas"] = 7
	body, _ := json.Marshal(r.obj)
	expect(t, ts.do(t, http.MethodPut, fmt.Sprintf(hpas, "v1")+"/api", "application/json", string(body)), http.StatusOK, "")
	if typ, obj := next(t, v1Events); typ != "MODIFIED" || obj["apiVersion"] != "autoscaling/v1" || field(obj, "spec", "maxReplicas") != 7.0 {
		t.Errorf("the v1 watch got %s %v", typ, obj)
	}

	r = ts.do(t, http.MethodGet, fmt.Sprintf(hpas, "v2")+"/api", "", "")
	metrics, _ := json.Marshal(field(r.obj, "spec", "metrics"))
	if field(r.obj, "spec", "maxReplicas") != 7.0 || field(r.obj, "metadata", "annotations") != nil ||
		string(metrics) != `[{"pods":{"metric":{"name":"qps"},"target":{"averageValue":"10","type":"AverageValue"}},"type":"Pods"},{"resource":{"name":"cpu","target":{"averageUtilization":60,"type":"Utilization"}},"type":"Resource"}]` ||
		field(r.obj, "spec", "behavior", "scaleDown", "stabilizationWindowSeconds") != 60.0 || field(r.obj, "metadata", "generation") != 2.0 {
		t.Errorf("read in v2 after a write in v1: %s", r.raw)
	}

	// Lists, in each version; selectors work on either.
	for _, version := range []string{"v1", "v2"} {
		r = ts.do(t, http.MethodGet, fmt.Sprintf(hpas, version)+"?fieldSelector=metadata.name%3Dapi", "", "")
		items, _ := r.obj["items"].([]any)
		if r.obj["apiVersion"] != "autoscaling/"+version || len(items) != 1 || field(items[0], "apiVersion") != "autoscaling/"+version {
			t.Errorf("list in %s: %s", version, r.raw)
		}
	}

	// Validation is the hub's, whatever the version.
	r = ts.do(t, http.MethodPost, fmt.Sprintf(hpas, "v1"), "application/json", `{"metadata":{"name":"bad"},
		"spec":{"scaleTargetRef":{"kind":"Deployment","name":"x","apiVersion":"apps/v1"},"minReplicas":3,"maxReplicas":2,"targetCPUUtilizationPercentage":0}}`)
	expect(t, r, http.StatusUnprocessableEntity, "Invalid")
	if !strings.Contains(r.raw, "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`") ||
		!strings.Contains(r.raw, "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0") {
		t.Errorf("invalid: %s", r.raw)
	}
	r = ts.do(t, http.MethodPost, fmt.Sprintf(hpas, "v1"), "application/json", `{"metadata":{"name":"bad"},"spec":{"minReplicas":"a"}}`)
	expect(t, r, http.StatusBadRequest, "BadRequest")

	// Discovery: both versions, v2 preferred.
	r = ts.do(t, http.MethodGet, "/apis/autoscaling", "", "")
	if versions, _ := json.Marshal(r.obj["versions"]); string(versions) != `[{"groupVersion":"autoscaling/v2","version":"v2"},{"groupVersion":"autoscaling/v1","version":"v1"}]` {
		t.Errorf("discovery: %s", r.raw)
	}
}

// kubectl autoscale, kubectl get hpa, and the same object in v1.
func TestKubectlHorizontalPodAutoscaler(t *testing.T) {
	ts := startServer(t)
	_, must := kubectlFor(t, ts)
	must("", "create", "deployment", "web", "--image=nginx")
	must("", "autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=3")
	out := must("", "get", "hpa")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "NAME   REFERENCE        TARGETS              MINPODS   MAXPODS   REPLICAS   AGE") ||
		!strings.HasPrefix(lines[1], "web    Deployment/web   cpu: <unknown>/50%   1         3         0          ") {
		t.Errorf("kubectl get hpa:\n%s", out)
	}
	if out := must("", "get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "yaml"); !strings.Contains(out, "apiVersion: autoscaling/v1\n") ||
		!strings.Contains(out, "targetCPUUtilizationPercentage: 50\n") {
		t.Errorf("kubectl get in v1:\n%s", out)
	}
}

// startConversionWebhook serves the sample conversion webhook over TLS,
// with a certificate for 127.0.0.1 and for the Service backends.default.svc.
func startConversionWebhook(t *testing.T) (srv *httptest.Server, port int, caBundle []byte) {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	template := pki.ServingCertTemplate("127.0.0.1")
	template.DNSNames = []string{"backends.default.svc"}
	certFile, keyFile, err := ca.EnsureCert(dir, "webhook", template)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv = httptest.NewUnstartedServer(webhook.Handler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	fmt.Sscan(p, &port)
	return srv, port, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// backendCRD serves Backend in v1 (spec.size, a string) and v2
// (spec.replicas, an integer), stored in v2, converted by a webhook.
func backendCRD(clientConfig map[string]any) string {
	crd, _ := json.Marshal(map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "backends.example.com"},
		"spec": map[string]any{"group": "example.com", "scope": "Namespaced",
			"names": map[string]any{"plural": "backends", "kind": "Backend"},
			"versions": []any{
				map[string]any{"name": "v1", "served": true, "storage": false, "schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object",
					"properties": map[string]any{"spec": map[string]any{"type": "object", "properties": map[string]any{"size": map[string]any{"type": "string"}}}}}}},
				map[string]any{"name": "v2", "served": true, "storage": true, "schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object",
					"properties": map[string]any{"spec": map[string]any{"type": "object", "properties": map[string]any{"replicas": map[string]any{"type": "integer"}}}}}}}},
			"conversion": map[string]any{"strategy": "Webhook", "webhook": map[string]any{"conversionReviewVersions": []any{"v1"}, "clientConfig": clientConfig}}}})
	return string(crd)
}

// A CRD with a conversion webhook: every read and write between the
// version of the request and the storage version goes through it, by URL
// or by Service; when it fails, the request fails with a 500.
func TestCRDConversionWebhook(t *testing.T) {
	ts := startServer(t)
	srv, port, caBundle := startConversionWebhook(t)
	ts.createCRD(t, backendCRD(map[string]any{"url": srv.URL + "/convert", "caBundle": caBundle}))
	const v1, v2 = "/apis/example.com/v1/namespaces/default/backends", "/apis/example.com/v2/namespaces/default/backends"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v1Events := ts.watch(t, ctx, v1+"?watch=true")

	r := ts.do(t, http.MethodPost, v1, "application/json", `{"apiVersion":"example.com/v1","kind":"Backend","metadata":{"name":"db"},"spec":{"size":"3"}}`)
	expect(t, r, http.StatusCreated, "")
	if r.obj["apiVersion"] != "example.com/v1" || field(r.obj, "spec", "size") != "3" {
		t.Errorf("created: %s", r.raw)
	}
	if got := ts.storedAPIVersion(t, "/registry/example.com/backends/default/db"); got != "example.com/v2" {
		t.Errorf("stored in %q", got)
	}
	if typ, obj := next(t, v1Events); typ != "ADDED" || field(obj, "spec", "size") != "3" {
		t.Errorf("the v1 watch got %s %v", typ, obj)
	}
	r = ts.do(t, http.MethodGet, v2+"/db", "", "")
	if r.obj["apiVersion"] != "example.com/v2" || field(r.obj, "spec", "replicas") != 3.0 || field(r.obj, "spec", "size") != nil {
		t.Errorf("read in v2: %s", r.raw)
	}
	expect(t, ts.do(t, http.MethodPatch, v2+"/db", "application/merge-patch+json", `{"spec":{"replicas":5}}`), http.StatusOK, "")
	if typ, obj := next(t, v1Events); typ != "MODIFIED" || field(obj, "spec", "size") != "5" {
		t.Errorf("the v1 watch got %s %v", typ, obj)
	}
	r = ts.do(t, http.MethodGet, v1, "", "")
	items, _ := r.obj["items"].([]any)
	if len(items) != 1 || field(items[0], "apiVersion") != "example.com/v1" || field(items[0], "spec", "size") != "5" {
		t.Errorf("list in v1: %s", r.raw)
	}
	r = ts.do(t, http.MethodGet, crdsPath+"/backends.example.com", "", "")
	if stored, _ := json.Marshal(field(r.obj, "status", "storedVersions")); string(stored) != `["v2"]` {
		t.Errorf("storedVersions %s", stored)
	}

	// The same webhook, reached through a Service and its Endpoints.
	expect(t, ts.do(t, http.MethodPost, "/api/v1/namespaces/default/services", "application/json",
		`{"metadata":{"name":"backends"},"spec":{"ports":[{"name":"https","port":443}]}}`), http.StatusCreated, "")
	expect(t, ts.do(t, http.MethodPost, "/api/v1/namespaces/default/endpoints", "application/json", fmt.Sprintf(
		`{"metadata":{"name":"backends"},"subsets":[{"addresses":[{"ip":"127.0.0.1"}],"ports":[{"name":"https","port":%d}]}]}`, port)), http.StatusCreated, "")
	current := ts.do(t, http.MethodGet, crdsPath+"/backends.example.com", "", "")
	var def map[string]any
	_ = json.Unmarshal([]byte(backendCRD(map[string]any{"service": map[string]any{"namespace": "default", "name": "backends", "path": "/convert"},
		"caBundle": caBundle})), &def)
	def["metadata"] = current.obj["metadata"]
	body, _ := json.Marshal(def)
	expect(t, ts.do(t, http.MethodPut, crdsPath+"/backends.example.com", "application/json", string(body)), http.StatusOK, "")
	r = ts.do(t, http.MethodGet, v1+"/db", "", "")
	if field(r.obj, "spec", "size") != "5" {
		t.Errorf("read in v1 through the Service: %s", r.raw)
	}

	// A value the webhook refuses fails the write, as the webhook says.
	r = ts.do(t, http.MethodPost, v1, "application/json", `{"metadata":{"name":"bad"},"spec":{"size":"many"}}`)
	if r.code != http.StatusInternalServerError || !strings.HasPrefix(fmt.Sprint(r.obj["message"]),
		`conversion webhook for example.com/v1, Kind=Backend failed: spec.size "many" of`) {
		t.Errorf("a refused conversion: %d %s", r.code, r.raw)
	}

	// With the webhook gone, reads in another version fail; reads in the
	// storage version need no conversion.
	srv.Close()
	r = ts.do(t, http.MethodGet, v1+"/db", "", "")
	expect(t, r, http.StatusInternalServerError, "InternalError")
	if msg := fmt.Sprint(r.obj["message"]); !strings.HasPrefix(msg, "Internal error occurred: conversion webhook for example.com/v2, Kind=Backend failed: ") {
		t.Errorf("message %q", msg)
	}
	expect(t, ts.do(t, http.MethodGet, v2+"/db", "", ""), http.StatusOK, "")
}
