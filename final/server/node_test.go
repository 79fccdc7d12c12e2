package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/pki"
)

// client is a caller of the server with its own credential: a client
// certificate, or a bearer token.
type client struct {
	ts     *testServer
	http   *http.Client
	bearer string
}

// kubeletClient is worker-1's kubelet, with a client certificate the data
// directory's CA issues it: CN system:node:worker-1, O system:nodes.
func kubeletClient(t *testing.T, ts *testServer, node string) *client {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(ts.dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := ca.EnsureCert(ts.dir, "kubelet-"+node, pki.ClientCertTemplate("system:node:"+node, "system:nodes"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c := tokenClient(t, ts, "")
	c.http.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{cert}
	return c
}

// tokenClient sends "Authorization: Bearer <token>" ("" for none).
func tokenClient(t *testing.T, ts *testServer, token string) *client {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(ts.dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &client{ts: ts, bearer: token, http: &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}
}

func (c *client) do(t *testing.T, method, path, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, c.ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{code: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.obj)
	return r
}

// whoami is kubectl auth whoami: the user name and groups the server sees.
func (c *client) whoami(t *testing.T) (string, []string) {
	t.Helper()
	r := c.do(t, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json",
		`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	expect(t, r, http.StatusCreated, "")
	name, _ := field(r.obj, "status", "userInfo", "username").(string)
	var groups []string
	list, _ := field(r.obj, "status", "userInfo", "groups").([]any)
	for _, g := range list {
		groups = append(groups, g.(string))
	}
	return name, groups
}

// The seeds' control plane: --authorization-mode=Node,RBAC with a kubelet's
// client certificate, and --enable-bootstrap-token-auth with a token
// Secret as kubeadm writes it.
func TestNodeAuthorizerAndBootstrapTokens(t *testing.T) {
	ts := startServer(t, "--authorization-mode=Node,RBAC", "--enable-bootstrap-token-auth")
	json := "application/json"
	for _, body := range []struct{ path, obj string }{
		{"/api/v1/namespaces", `{"metadata":{"name":"apps"}}`},
		{"/api/v1/nodes", `{"metadata":{"name":"worker-2"}}`},
		{"/api/v1/namespaces/apps/secrets", `{"metadata":{"name":"web-secret"},"stringData":{"password":"s3cret"}}`},
		{"/api/v1/namespaces/apps/secrets", `{"metadata":{"name":"db-secret"},"stringData":{"password":"other"}}`},
		{"/api/v1/namespaces/apps/configmaps", `{"metadata":{"name":"web-config"},"data":{"mode":"prod"}}`},
	} {
		expect(t, ts.do(t, "POST", body.path, json, body.obj), http.StatusCreated, "")
	}
	// No scheduler here: the pods are bound by naming their node.
	expect(t, ts.do(t, "POST", "/api/v1/namespaces/apps/pods", json, `{"metadata":{"name":"web"},"spec":{"nodeName":"worker-1",
		"containers":[{"name":"web","image":"nginx","envFrom":[{"configMapRef":{"name":"web-config"}}]}],
		"volumes":[{"name":"s","secret":{"secretName":"web-secret"}}]}}`), http.StatusCreated, "")
	expect(t, ts.do(t, "POST", "/api/v1/namespaces/apps/pods", json, `{"metadata":{"name":"db"},"spec":{"nodeName":"worker-2",
		"containers":[{"name":"db","image":"postgres","env":[{"name":"P","valueFrom":{"secretKeyRef":{"name":"db-secret","key":"password"}}}]}]}}`),
		http.StatusCreated, "")

	t.Run("kubelet", func(t *testing.T) {
		kubelet := kubeletClient(t, ts, "worker-1")
		if name, groups := kubelet.whoami(t); name != "system:node:worker-1" || !slices.Contains(groups, "system:nodes") {
			t.Fatalf("the kubelet is %s in %v", name, groups)
		}
		merge := "application/merge-patch+json"
		for _, tt := range []struct {
			method, path, contentType, body string
			want                            int
		}{
			// Its own Node: register, read, report status; not another's.
			{"POST", "/api/v1/nodes", json, `{"metadata":{"name":"worker-1"}}`, http.StatusCreated},
			{"GET", "/api/v1/nodes/worker-1", "", "", http.StatusOK},
			{"PATCH", "/api/v1/nodes/worker-1/status", merge, `{"status":{"conditions":[{"type":"Ready","status":"True"}]}}`, http.StatusOK},
			{"PATCH", "/api/v1/nodes/worker-1", merge, `{"metadata":{"labels":{"disk":"ssd"}}}`, http.StatusOK},
			{"GET", "/api/v1/nodes?fieldSelector=metadata.name%3Dworker-1", "", "", http.StatusOK},
			{"GET", "/api/v1/nodes/worker-2", "", "", http.StatusForbidden},
			{"PATCH", "/api/v1/nodes/worker-2/status", merge, `{"status":{"conditions":[{"type":"Ready","status":"False"}]}}`, http.StatusForbidden},
			{"GET", "/api/v1/nodes", "", "", http.StatusForbidden},
			{"DELETE", "/api/v1/nodes/worker-1", "", "", http.StatusForbidden},
			// Its pods, by the field selector or by name; their status.
			{"GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dworker-1", "", "", http.StatusOK},
			{"GET", "/api/v1/pods", "", "", http.StatusForbidden},
			{"GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dworker-2", "", "", http.StatusForbidden},
			{"GET", "/api/v1/namespaces/apps/pods/web", "", "", http.StatusOK},
			{"GET", "/api/v1/namespaces/apps/pods/db", "", "", http.StatusForbidden},
			{"PATCH", "/api/v1/namespaces/apps/pods/db/status", merge, `{"status":{"phase":"Failed"}}`, http.StatusForbidden},
			{"DELETE", "/api/v1/namespaces/apps/pods/web", "", "", http.StatusForbidden},
			// What its pods refer to, and nothing else.
			{"GET", "/api/v1/namespaces/apps/secrets/web-secret", "", "", http.StatusOK},
			{"GET", "/api/v1/namespaces/apps/secrets?fieldSelector=metadata.name%3Dweb-secret", "", "", http.StatusOK},
			{"GET", "/api/v1/namespaces/apps/configmaps/web-config", "", "", http.StatusOK},
			{"GET", "/api/v1/namespaces/apps/serviceaccounts/default", "", "", http.StatusOK},
			{"GET", "/api/v1/namespaces/apps/secrets/db-secret", "", "", http.StatusForbidden},
			{"GET", "/api/v1/namespaces/apps/secrets", "", "", http.StatusForbidden},
			{"PUT", "/api/v1/namespaces/apps/secrets/web-secret", json, `{"metadata":{"name":"web-secret"}}`, http.StatusForbidden},
			{"GET", "/api/v1/namespaces", "", "", http.StatusForbidden},
		} {
			r := kubelet.do(t, tt.method, tt.path, tt.contentType, tt.body)
			if r.code != tt.want {
				t.Errorf("%s %s: %d, want %d: %s", tt.method, tt.path, r.code, tt.want, r.raw)
			}
		}
		// What it saw is what it asked for.
		r := kubelet.do(t, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dworker-1", "", "")
		if names := itemNames(t, r); !slices.Equal(names, []string{"web"}) {
			t.Errorf("its pods: %v", names)
		}
		// Its pod's status passes authorization. (Pods are served here without
		// a status subresource, so what answers is the router, not a 403.)
		if r := kubelet.do(t, "PATCH", "/api/v1/namespaces/apps/pods/web/status", merge, `{"status":{"phase":"Running"}}`); r.code == http.StatusForbidden {
			t.Errorf("its pod's status: %s", r.raw)
		}
		// The 403 says why: RBAC had nothing, and the Node authorizer its reason.
		r = kubelet.do(t, "GET", "/api/v1/namespaces/apps/secrets/db-secret", "", "")
		want := `secrets "db-secret" is forbidden: User "system:node:worker-1" cannot get resource "secrets" in API group "" in the namespace "apps": ` +
			`node: no relationship found between node "worker-1" and this object`
		if msg := r.obj["message"]; msg != want {
			t.Errorf("message %q,\nwant    %q", msg, want)
		}
		// Another kubelet sees the other side.
		worker2 := kubeletClient(t, ts, "worker-2")
		expect(t, worker2.do(t, "GET", "/api/v1/namespaces/apps/secrets/db-secret", "", ""), http.StatusOK, "")
		expect(t, worker2.do(t, "GET", "/api/v1/namespaces/apps/secrets/web-secret", "", ""), http.StatusForbidden, "Forbidden")
	})

	t.Run("bootstrap token", func(t *testing.T) {
		// As kubeadm writes it: stringData, a future expiration, extra groups.
		expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		expect(t, ts.do(t, "POST", "/api/v1/namespaces/kube-system/secrets", json, `{"metadata":{"name":"bootstrap-token-abcdef"},
			"type":"bootstrap.kubernetes.io/token","stringData":{"token-id":"abcdef","token-secret":"0123456789abcdef",
			"usage-bootstrap-authentication":"true","usage-bootstrap-signing":"true","expiration":"`+expires+`",
			"auth-extra-groups":"system:bootstrappers:kubeadm:default-node-token"}}`), http.StatusCreated, "")
		// An expired one, with data in base64 ("expird", "0123456789abcdef", "true", 2020).
		expect(t, ts.do(t, "POST", "/api/v1/namespaces/kube-system/secrets", json, `{"metadata":{"name":"bootstrap-token-expird"},
			"type":"bootstrap.kubernetes.io/token","data":{"token-id":"ZXhwaXJk","token-secret":"MDEyMzQ1Njc4OWFiY2RlZg==",
			"usage-bootstrap-authentication":"dHJ1ZQ==","expiration":"MjAyMC0wMS0wMVQwMDowMDowMFo="}}`), http.StatusCreated, "")

		joiner := tokenClient(t, ts, "abcdef.0123456789abcdef")
		name, groups := joiner.whoami(t)
		wantGroups := []string{"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:authenticated"}
		if name != "system:bootstrap:abcdef" || !slices.Equal(groups, wantGroups) {
			t.Errorf("the token is %s in %v, want system:bootstrap:abcdef in %v", name, groups, wantGroups)
		}
		// Authenticated is not authorized: RBAC grants a bootstrapper nothing here.
		expect(t, joiner.do(t, "GET", "/api/v1/namespaces/apps/secrets/web-secret", "", ""), http.StatusForbidden, "Forbidden")

		for _, token := range []string{"abcdef.0123456789abcdee", "expird.0123456789abcdef", "zzzzzz.0123456789abcdef"} {
			expect(t, tokenClient(t, ts, token).do(t, "GET", "/api/v1/namespaces/default", "", ""), http.StatusUnauthorized, "Unauthorized")
		}
		// Deleting the Secret revokes the token.
		expect(t, ts.do(t, "DELETE", "/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef", "", ""), http.StatusOK, "")
		expect(t, joiner.do(t, "GET", "/api/v1/namespaces/default", "", ""), http.StatusUnauthorized, "Unauthorized")
	})
}

// Without --enable-bootstrap-token-auth a bootstrap token is no credential.
func TestBootstrapTokensAreOffByDefault(t *testing.T) {
	ts := startServer(t)
	expect(t, ts.do(t, "POST", "/api/v1/namespaces/kube-system/secrets", "application/json", `{"metadata":{"name":"bootstrap-token-abcdef"},
		"type":"bootstrap.kubernetes.io/token","stringData":{"token-id":"abcdef","token-secret":"0123456789abcdef","usage-bootstrap-authentication":"true"}}`),
		http.StatusCreated, "")
	expect(t, tokenClient(t, ts, "abcdef.0123456789abcdef").do(t, "GET", "/api/v1/namespaces/default", "", ""), http.StatusUnauthorized, "Unauthorized")
}
