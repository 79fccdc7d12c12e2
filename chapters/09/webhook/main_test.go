package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// reviewOf decodes an AdmissionReview request whose object is obj.
func reviewOf(t *testing.T, uid, obj string) review {
	t.Helper()
	var in review
	if err := json.Unmarshal([]byte(`{"request":{"uid":"`+uid+`","object":`+obj+`}}`), &in); err != nil {
		t.Fatalf("bad review in test: %v", err)
	}
	return in
}

// The patch adds the label whether or not the object has labels already,
// and keeps the labels it had.
func TestMutate(t *testing.T) {
	tests := []struct{ name, object, wantLabels string }{
		{"no labels", `{"metadata":{"name":"web"}}`, `{"example.com/mutated":"true"}`},
		{"labels: null", `{"metadata":{"name":"web","labels":null}}`, `{"example.com/mutated":"true"}`},
		{"empty labels", `{"metadata":{"name":"web","labels":{}}}`, `{"example.com/mutated":"true"}`},
		{"other labels", `{"metadata":{"name":"web","labels":{"app":"web"}}}`, `{"app":"web","example.com/mutated":"true"}`},
		{"already mutated", `{"metadata":{"name":"web","labels":{"example.com/mutated":"true"}}}`, `{"example.com/mutated":"true"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			response := mutate(reviewOf(t, "1", tt.object))
			if response["allowed"] != true || response["patchType"] != "JSONPatch" {
				t.Fatalf("response = %v, want allowed with a JSONPatch", response)
			}
			patch, err := base64.StdEncoding.DecodeString(response["patch"].(string))
			if err != nil {
				t.Fatalf("the patch is not base64: %v", err)
			}
			ops, err := jsonpatch.DecodePatch(patch)
			if err != nil {
				t.Fatalf("not a JSON patch: %v\n%s", err, patch)
			}
			patched, err := ops.Apply([]byte(tt.object))
			if err != nil {
				t.Fatalf("the patch %s does not apply to %s: %v", patch, tt.object, err)
			}
			var out struct {
				Metadata struct {
					Name   string          `json:"name"`
					Labels json.RawMessage `json:"labels"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(patched, &out); err != nil {
				t.Fatal(err)
			}
			if string(out.Metadata.Labels) != tt.wantLabels || out.Metadata.Name != "web" {
				t.Errorf("patched = %s, want name web and labels %s", patched, tt.wantLabels)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name, object string
		allowed      bool
	}{
		{"no labels", `{"metadata":{"name":"web"}}`, true},
		{"other labels", `{"metadata":{"labels":{"app":"web","example.com/denied":"x"}}}`, true},
		{"labelled example.com/deny", `{"metadata":{"labels":{"example.com/deny":"yes"}}}`, false},
		{"whatever the value", `{"metadata":{"labels":{"example.com/deny":""}}}`, false},
	}
	for _, tt := range tests {
		response := validate(reviewOf(t, "1", tt.object))
		if response["allowed"] != tt.allowed {
			t.Errorf("%s: allowed = %v, want %v", tt.name, response["allowed"], tt.allowed)
		}
		if tt.allowed {
			continue
		}
		status, _ := response["status"].(map[string]any)
		if status["code"] != 403 || status["message"] != "objects labelled example.com/deny are refused by the example webhook" {
			t.Errorf("%s: status = %v, want 403 with the webhook's message", tt.name, status)
		}
	}
}

func TestServe(t *testing.T) {
	handler := serve(validate)
	tests := []struct {
		name, body string
		wantCode   int
		wantUID    string
		allowed    bool
	}{
		{"allowed", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"abc-1","object":{"metadata":{"name":"web"}}}}`,
			http.StatusOK, "abc-1", true},
		{"denied", `{"request":{"uid":"abc-2","object":{"metadata":{"labels":{"example.com/deny":"yes"}}}}}`,
			http.StatusOK, "abc-2", false},
		{"not JSON", `{"request":`, http.StatusBadRequest, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			handler(rec, httptest.NewRequest("POST", "/validate", strings.NewReader(tt.body)))
			if rec.Code != tt.wantCode {
				t.Fatalf("code %d, want %d: %s", rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantCode != http.StatusOK {
				return
			}
			var out struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Response   struct {
					UID     string `json:"uid"`
					Allowed bool   `json:"allowed"`
				} `json:"response"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, rec.Body)
			}
			if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Response.UID != tt.wantUID || out.Response.Allowed != tt.allowed {
				t.Errorf("answer = %+v, want an AdmissionReview for uid %s, allowed %v", out, tt.wantUID, tt.allowed)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

// writeConfig writes a mutating and a validating configuration pointing at
// the server's two paths, each with the CA as a base64 caBundle.
func TestWriteConfig(t *testing.T) {
	_, caPEM, err := selfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	path, err := writeConfig(dir, "https://127.0.0.1:8443", caPEM)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "webhooks.yaml"); path != want || !filepath.IsAbs(path) {
		t.Errorf("path = %s, want %s", path, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(data), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("%d YAML documents, want 2:\n%s", len(docs), data)
	}
	// value reads "key: value" from a document (the keys are unique in it).
	value := func(doc, key string) string {
		m := regexp.MustCompile(`(?m)^\s*-?\s*` + key + `: (.*)$`).FindStringSubmatch(doc)
		if m == nil {
			return ""
		}
		return m[1]
	}
	wants := []struct{ kind, name, url string }{
		{"MutatingWebhookConfiguration", "label.example.com", "https://127.0.0.1:8443/mutate"},
		{"ValidatingWebhookConfiguration", "deny.example.com", "https://127.0.0.1:8443/validate"},
	}
	for i, want := range wants {
		doc := docs[i]
		if got := value(doc, "apiVersion"); got != "admissionregistration.k8s.io/v1" {
			t.Errorf("document %d: apiVersion %q", i, got)
		}
		if value(doc, "kind") != want.kind || value(doc, "name") != want.name || value(doc, "url") != want.url {
			t.Errorf("document %d: kind %q, name %q, url %q; want %s %s %s", i, value(doc, "kind"), value(doc, "name"), value(doc, "url"), want.kind, want.name, want.url)
		}
		if value(doc, "failurePolicy") != "Fail" || value(doc, "sideEffects") != "None" {
			t.Errorf("document %d: failurePolicy %q, sideEffects %q; want Fail and None", i, value(doc, "failurePolicy"), value(doc, "sideEffects"))
		}
		der, err := base64.StdEncoding.DecodeString(value(doc, "caBundle"))
		if err != nil {
			t.Fatalf("document %d: caBundle is not base64: %v", i, err)
		}
		block, _ := pem.Decode(der)
		if block == nil || block.Type != "CERTIFICATE" {
			t.Fatalf("document %d: caBundle is not a PEM certificate", i)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		// It is the server's own certificate, good for 127.0.0.1.
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
			t.Errorf("document %d: the caBundle does not verify itself for 127.0.0.1: %v", i, err)
		}
	}
}

// The certificate serves the webhook's paths over TLS to a client that
// trusts only its PEM, as the API server will with the caBundle.
func TestSelfSignedCertServes(t *testing.T) {
	cert, caPEM, err := selfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux() // the routes main serves
	mux.HandleFunc("POST /mutate", serve(mutate))
	mux.HandleFunc("POST /validate", serve(validate))
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("the CA PEM holds no certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/mutate", "/validate"} {
		resp, err := client.Post(srv.URL+path, "application/json", strings.NewReader(`{"request":{"uid":"u-1","object":{"metadata":{}}}}`))
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		var out struct {
			Response struct {
				UID     string `json:"uid"`
				Allowed bool   `json:"allowed"`
			} `json:"response"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || out.Response.UID != "u-1" || !out.Response.Allowed {
			t.Errorf("POST %s: %d %+v %v; want 200, allowed, uid u-1", path, resp.StatusCode, out, err)
		}
	}

	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Errorf("localhost: %v", err)
	}
}
