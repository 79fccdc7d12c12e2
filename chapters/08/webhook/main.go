// An example admission webhook, for chapter 05's doc and tests. It serves
// HTTPS with a certificate it makes at start-up, and answers AdmissionReview
// requests on two paths:
//
//	/mutate    adds the label example.com/mutated=true (a JSON patch)
//	/validate  refuses objects labelled example.com/deny
//
// It writes webhooks.yaml, the two configurations that point the API server
// at it (with its CA as caBundle), and prints how to apply them.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

func main() {
	bindAddress := flag.String("bind-address", "127.0.0.1", "IP address to listen on")
	port := flag.Int("port", 8443, "HTTPS port (0 picks a free one)")
	dataDir := flag.String("data-dir", "data/05-webhook", "where to write webhooks.yaml")
	flag.Parse()

	cert, caPEM, err := selfSignedCert()
	if err != nil {
		log.Fatalf("certificate: %v", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*bindAddress, fmt.Sprint(*port)))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	url := "https://" + ln.Addr().String()
	config, err := writeConfig(*dataDir, url, caPEM)
	if err != nil {
		log.Fatalf("writing webhooks.yaml: %v", err)
	}
	fmt.Printf("example webhook serving on %s\n\n", url)
	fmt.Printf("Point the API server at it (chapter 05 or later):\n  kubectl apply -f %s\n", config)
	fmt.Println("Then objects get the label example.com/mutated=true, and ones labelled example.com/deny are refused.")

	mux := http.NewServeMux()
	mux.HandleFunc("POST /mutate", serve(mutate))
	mux.HandleFunc("POST /validate", serve(validate))
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ServeTLS(ln, "", ""))
}

// review is the AdmissionReview fields this webhook reads.
type review struct {
	Request struct {
		UID    string `json:"uid"`
		Object struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		} `json:"object"`
	} `json:"request"`
}

// serve decodes an AdmissionReview, asks decide, and answers with its response.
func serve(decide func(review) map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in review
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 3<<20)).Decode(&in); err != nil {
			http.Error(w, "not an AdmissionReview: "+err.Error(), http.StatusBadRequest)
			return
		}
		response := decide(in)
		response["uid"] = in.Request.UID // the server checks it is the answer to its question
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
	}
}

func mutate(in review) map[string]any {
	patch := []map[string]any{{"op": "add", "path": "/metadata/labels/example.com~1mutated", "value": "true"}}
	if in.Request.Object.Metadata.Labels == nil {
		patch = []map[string]any{{"op": "add", "path": "/metadata/labels", "value": map[string]string{"example.com/mutated": "true"}}}
	}
	data, _ := json.Marshal(patch)
	return map[string]any{"allowed": true, "patchType": "JSONPatch", "patch": base64.StdEncoding.EncodeToString(data)}
}

func validate(in review) map[string]any {
	if _, deny := in.Request.Object.Metadata.Labels["example.com/deny"]; deny {
		return map[string]any{"allowed": false, "status": map[string]any{
			"code": 403, "message": "objects labelled example.com/deny are refused by the example webhook"}}
	}
	return map[string]any{"allowed": true}
}

// selfSignedCert makes a certificate for 127.0.0.1 and localhost that is its
// own CA, so the same PEM serves as the configuration's caBundle.
func selfSignedCert() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "example-webhook"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// writeConfig writes the two webhook configurations for this server.
func writeConfig(dataDir, url string, caPEM []byte) (string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	path, err := filepath.Abs(filepath.Join(dataDir, "webhooks.yaml"))
	if err != nil {
		return "", err
	}
	ca := base64.StdEncoding.EncodeToString(caPEM)
	hook := func(kind, name, endpoint string) string {
		return fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: %s
metadata:
  name: %s
webhooks:
- name: %s
  clientConfig:
    url: %s%s
    caBundle: %s
  rules:
  - operations: ["CREATE", "UPDATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["pods", "configmaps"]
  failurePolicy: Fail
  timeoutSeconds: 5
  sideEffects: None
  admissionReviewVersions: ["v1"]
`, kind, name, name, url, endpoint, ca)
	}
	config := hook("MutatingWebhookConfiguration", "label.example.com", "/mutate") + "---\n" +
		hook("ValidatingWebhookConfiguration", "deny.example.com", "/validate")
	return path, os.WriteFile(path, []byte(config), 0o600)
}
