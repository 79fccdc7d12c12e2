package admission

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/pki"
)

// startServiceWebhook is a webhook whose certificate names the Service
// hook.default.svc, as a webhook in a cluster has; it records each request's
// path and query and allows everything.
func startServiceWebhook(t *testing.T) (port int, caBundle []byte, requests func() []string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	template := pki.ServingCertTemplate("127.0.0.1")
	template.DNSNames = []string{"hook.default.svc"}
	certFile, keyFile, err := ca.EnsureCert(dir, "hook", template)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var review struct {
			Request struct {
				UID string `json:"uid"`
			} `json:"request"`
		}
		_ = json.NewDecoder(r.Body).Decode(&review)
		mu.Lock()
		seen = append(seen, r.URL.RequestURI())
		mu.Unlock()
		_ = json.NewEncoder(rw).Encode(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
			"response": map[string]any{"uid": review.Request.UID, "allowed": true}})
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	fmt.Sscan(p, &port)
	caBundle = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	return port, caBundle, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

// A webhook named by clientConfig.service is called at the Service's DNS
// name, reached through its Endpoints; what cannot be resolved fails the
// call in Kubernetes' words.
func TestWebhookBehindAService(t *testing.T) {
	port, caBundle, requests := startServiceWebhook(t)
	service := `{"metadata":{"name":"hook","namespace":"default"},"spec":{"ports":[{"name":"https","port":443,"targetPort":8443}]}}`
	endpoints := fmt.Sprintf(`{"metadata":{"name":"hook","namespace":"default"},"subsets":[{"addresses":[{"ip":"127.0.0.1"}],"ports":[{"name":"https","port":%d}]}]}`, port)
	tests := []struct {
		name        string
		ref         map[string]any
		objects     map[string]string // resource: object
		wantMessage string            // "": admitted
		wantSeen    []string
	}{
		{name: "resolved through the Endpoints", ref: map[string]any{"namespace": "default", "name": "hook", "path": "/validate"},
			objects: map[string]string{"services": service, "endpoints": endpoints}, wantSeen: []string{"/validate?timeout=10s"}},
		{name: "no such port", ref: map[string]any{"namespace": "default", "name": "hook", "port": 8443},
			objects:     map[string]string{"services": service, "endpoints": endpoints},
			wantMessage: `failed calling webhook "hook.example.com": failed to call webhook: Post "https://hook.default.svc:8443/?timeout=10s": no service port 8443 found for service "hook"`},
		{name: "no endpoints", ref: map[string]any{"namespace": "default", "name": "hook"}, objects: map[string]string{"services": service},
			wantMessage: `failed to call webhook: Post "https://hook.default.svc:443/?timeout=10s": no endpoints available for service "hook"`},
		{name: "an ExternalName service", ref: map[string]any{"namespace": "default", "name": "hook"},
			objects:     map[string]string{"services": `{"metadata":{"name":"hook","namespace":"default"},"spec":{"type":"ExternalName","externalName":"example.com"}}`},
			wantMessage: `unsupported service type "ExternalName"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(requests())
			chain, deps := newTestChain(t, "", "")
			for resource, doc := range tt.objects {
				storeObjects(t, deps, "", resource, doc)
			}
			hook := hookFor("hook.example.com", "", caBundle, nil)
			hook["clientConfig"] = map[string]any{"service": tt.ref, "caBundle": caBundle}
			configure(t, deps, false, "config", hook)
			_, err := createConfigMap(t, chain, deps, configMap("settings", ""))
			if tt.wantMessage == "" {
				if err != nil {
					t.Fatalf("admit: %v", err)
				}
			} else if se := statusOf(t, err); se.Code != http.StatusInternalServerError || !strings.Contains(se.Message, tt.wantMessage) {
				t.Errorf("admit: %d %q, want 500 and a message with %q", se.Code, se.Message, tt.wantMessage)
			}
			if got := requests()[before:]; strings.Join(got, ",") != strings.Join(tt.wantSeen, ",") {
				t.Errorf("the webhook saw %v, want %v", got, tt.wantSeen)
			}
		})
	}
}
