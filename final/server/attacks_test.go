package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn/authntest"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/pki"
)

// The authentication and authorization attack suite: one server with every
// authenticator and authorizer on (certificates, the front proxy, the token
// file, service accounts, OIDC, the token webhook; Node, RBAC and the
// authorization webhook), and every way we know to get in as somebody else
// or to get more than one was given. Each attack must get the exact answer
// Kubernetes gives, and change nothing.

// Kubernetes' answer to a credential that does not check out: the reason
// is never said.
const unauthorized = "Unauthorized"

// attack is one attempt, and the answer it must get.
type attack struct {
	name    string
	send    func() response
	code    int
	reason  string
	message string
}

// attackServer is the server under attack and the services it trusts.
type attackServer struct {
	*testServer
	issuer               *authntest.Issuer
	tokenHook, authzHook *authntest.Webhook
	ca, frontProxyCA     *pki.CA
}

// tokenReviews is the token webhook: "erin-token" is erin, in webhook-users.
func tokenReviews(review map[string]any) (int, any) {
	status := map[string]any{"authenticated": false}
	if field(review, "spec", "token") == "erin-token" {
		status = map[string]any{"authenticated": true, "user": map[string]any{"username": "erin", "groups": []string{"webhook-users"}}}
	}
	return http.StatusOK, map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status}
}

// accessReviews is the authorization webhook: erin may read configmaps, and
// is denied secrets outright; about anything else it has no opinion.
func accessReviews(review map[string]any) (int, any) {
	status := map[string]any{"allowed": false}
	if field(review, "spec", "user") == "erin" {
		switch field(review, "spec", "resourceAttributes", "resource") {
		case "configmaps":
			if verb := field(review, "spec", "resourceAttributes", "verb"); verb == "get" || verb == "list" {
				status = map[string]any{"allowed": true}
			}
		case "secrets":
			status = map[string]any{"allowed": false, "denied": true, "reason": "erin may not read secrets"}
		}
	}
	return http.StatusOK, map[string]any{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "status": status}
}

func startAttackServer(t *testing.T) *attackServer {
	t.Helper()
	s := &attackServer{issuer: authntest.NewIssuer(t), tokenHook: authntest.NewWebhook(t, tokenReviews), authzHook: authntest.NewWebhook(t, accessReviews)}
	s.testServer = startServer(t,
		"--oidc-issuer-url="+s.issuer.URL, "--oidc-client-id="+authntest.ClientID, "--oidc-ca-file="+s.issuer.CAFile,
		"--oidc-groups-claim=groups", "--oidc-groups-prefix=oidc:",
		"--authentication-token-webhook-config-file="+s.tokenHook.Kubeconfig,
		"--authorization-mode=Node,RBAC,Webhook", "--authorization-webhook-config-file="+s.authzHook.Kubeconfig,
		"--requestheader-allowed-names=front-proxy-client")
	var err error
	if s.ca, err = pki.LoadOrCreateCA(s.dir, "ca"); err != nil {
		t.Fatal(err)
	}
	if s.frontProxyCA, err = pki.LoadOrCreateCA(s.dir, "front-proxy-ca"); err != nil {
		t.Fatal(err)
	}
	return s
}

// caller is a client with a bearer token ("" for none) and a client
// certificate (nil for none).
func (ts *testServer) caller(t *testing.T, token string, cert *tls.Certificate) *tokenUser {
	t.Helper()
	return &tokenUser{ts: ts, token: token, client: tlsClient(t, ts.dir, func(c *tls.Config) {
		if cert != nil {
			c.Certificates = []tls.Certificate{*cert}
		}
	})}
}

// certificate issues a client certificate from ca, valid from notBefore to notAfter.
func certificate(t *testing.T, ca *pki.CA, template *x509.Certificate, notBefore, notAfter time.Time) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template.SerialNumber = big.NewInt(time.Now().UnixNano())
	template.NotBefore, template.NotAfter = notBefore, notAfter
	template.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, template, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serviceAccountClaims are what a TokenRequest for sa (its uid) would sign.
func serviceAccountClaims(namespace, name, uid string, mutate func(jwt.MapClaims)) jwt.MapClaims {
	const issuer = "https://kubernetes.default.svc.cluster.local" // the default --service-account-issuer
	now := time.Now()
	c := jwt.MapClaims{"iss": issuer, "aud": []string{issuer}, "sub": "system:serviceaccount:" + namespace + ":" + name,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "attack",
		"kubernetes.io": map[string]any{"namespace": namespace, "serviceaccount": map[string]any{"name": name, "uid": uid}}}
	if mutate != nil {
		mutate(c)
	}
	return c
}

func publicKeyPEM(t *testing.T, key *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// tokenFor asks the TokenRequest API, as the admin, for a token of a ServiceAccount.
func (s *attackServer) tokenFor(t *testing.T, namespace, name string) string {
	t.Helper()
	r := s.do(t, "POST", "/api/v1/namespaces/"+namespace+"/serviceaccounts/"+name+"/token", "application/json",
		`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}`)
	expect(t, r, http.StatusCreated, "")
	return field(r.obj, "status", "token").(string)
}

// snapshot is every object an attack could write, by path, with its resourceVersion.
func (s *attackServer) snapshot(t *testing.T) map[string]string {
	t.Helper()
	objects := map[string]string{}
	for _, list := range []string{
		"/api/v1/namespaces/team/configmaps", "/api/v1/namespaces/team/pods", "/api/v1/namespaces/team/serviceaccounts",
		"/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles", "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings",
		"/apis/rbac.authorization.k8s.io/v1/clusterroles", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
	} {
		r := s.do(t, "GET", list, "", "")
		expect(t, r, http.StatusOK, "")
		items, _ := r.obj["items"].([]any)
		for _, item := range items {
			objects[list+"/"+field(item, "metadata", "name").(string)] = field(item, "metadata", "resourceVersion").(string)
		}
	}
	return objects
}

func whoami(t *testing.T, u *tokenUser, header http.Header) string {
	t.Helper()
	r := u.do(t, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", `{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`, header)
	expect(t, r, http.StatusCreated, "")
	groups, _ := field(r.obj, "status", "userInfo", "groups").([]any)
	return fmt.Sprint(field(r.obj, "status", "userInfo", "username"), " ", groups)
}

func TestAttacks(t *testing.T) {
	s := startAttackServer(t)
	const js = "application/json"
	for _, obj := range []struct{ path, body string }{
		{"/api/v1/namespaces", `{"metadata":{"name":"team"}}`},
		{"/api/v1/namespaces/team/serviceaccounts", `{"metadata":{"name":"robot"}}`},
		{"/api/v1/namespaces/team/serviceaccounts", `{"metadata":{"name":"powerful"}}`},
		{"/api/v1/namespaces/team/serviceaccounts", `{"metadata":{"name":"doomed"}}`},
		{"/api/v1/namespaces/team/serviceaccounts", `{"metadata":{"name":"phoenix"}}`},
		{"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", `{"metadata":{"name":"powerful-admin"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},
			"subjects":[{"kind":"ServiceAccount","name":"powerful","namespace":"team"}]}`},
		{"/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings", `{"metadata":{"name":"robot-edit"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"},
			"subjects":[{"kind":"ServiceAccount","name":"robot","namespace":"team"}]}`},
		{"/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings", `{"metadata":{"name":"jane-edit"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"},
			"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"` + s.issuer.URL + `#jane"}]}`},
		// alice manages roles and bindings in team, without escalate or bind.
		{"/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles", `{"metadata":{"name":"manager"},"rules":[{"apiGroups":["","rbac.authorization.k8s.io"],
			"resources":["roles","rolebindings","configmaps","pods"],"verbs":["get","list","create","update","patch","delete"]}]}`},
		{"/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings", `{"metadata":{"name":"alice-manager"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"manager"},
			"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"}]}`},
		{"/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings", `{"metadata":{"name":"ops-admins"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},
			"subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"ops"}]}`},
	} {
		expect(t, s.do(t, "POST", obj.path, js, obj.body), http.StatusCreated, "")
	}
	saUID := func(name string) string {
		r := s.do(t, "GET", "/api/v1/namespaces/team/serviceaccounts/"+name, "", "")
		expect(t, r, http.StatusOK, "")
		return field(r.obj, "metadata", "uid").(string)
	}
	robotUID := saUID("robot")
	doomed, phoenix := s.tokenFor(t, "team", "doomed"), s.tokenFor(t, "team", "phoenix")
	expect(t, s.do(t, "DELETE", "/api/v1/namespaces/team/serviceaccounts/doomed", "", ""), http.StatusOK, "")
	expect(t, s.do(t, "DELETE", "/api/v1/namespaces/team/serviceaccounts/phoenix", "", ""), http.StatusOK, "")
	expect(t, s.do(t, "POST", "/api/v1/namespaces/team/serviceaccounts", js, `{"metadata":{"name":"phoenix"}}`), http.StatusCreated, "")

	saKey, err := pki.LoadOrCreateRSAKey(filepath.Join(s.dir, "sa.key"))
	if err != nil {
		t.Fatal(err)
	}
	foreignKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	oidcKey, oidcKid := s.issuer.Key()
	jane := func(mutate func(jwt.MapClaims)) jwt.MapClaims { return s.issuer.Claims("jane", mutate) }
	robot := func(mutate func(jwt.MapClaims)) jwt.MapClaims {
		return serviceAccountClaims("team", "robot", robotUID, mutate)
	}
	past := func(c jwt.MapClaims) {
		c["iat"], c["nbf"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	}
	future := func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }
	none := func(claims jwt.MapClaims) string {
		return authntest.SignWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims)
	}

	// Controls: the same credentials, made right, get in; so the attacks'
	// refusals below are the checks' doing, not a broken setup.
	cm := func(name string) string { return `{"metadata":{"name":"` + name + `"}}` }
	expect(t, s.caller(t, s.tokenFor(t, "team", "robot"), nil).do(t, "POST", "/api/v1/namespaces/team/configmaps", cm("by-robot"), nil), http.StatusCreated, "")
	expect(t, s.caller(t, authntest.SignWith(jwt.SigningMethodRS256, saKey, "", robot(nil)), nil).do(t, "POST", "/api/v1/namespaces/team/configmaps", cm("by-forged-robot"), nil), http.StatusCreated, "")
	janeToken := s.issuer.Sign(jane(func(c jwt.MapClaims) { c["groups"] = []string{"dev"} }))
	expect(t, s.caller(t, janeToken, nil).do(t, "POST", "/api/v1/namespaces/team/configmaps", cm("by-jane"), nil), http.StatusCreated, "")
	if got := whoami(t, s.caller(t, janeToken, nil), nil); got != s.issuer.URL+"#jane [oidc:dev system:authenticated]" {
		t.Errorf("OIDC whoami: %s", got)
	}
	// An opaque token passes OIDC (not a JWT) and the others by, to the webhook.
	erin := s.caller(t, "erin-token", nil)
	if got := whoami(t, erin, nil); got != "erin [webhook-users system:authenticated]" {
		t.Errorf("webhook whoami: %s", got)
	}
	calls := s.tokenHook.Calls()
	whoami(t, erin, nil)
	if n := s.tokenHook.Calls() - calls; n != 0 {
		t.Errorf("the token webhook was asked %d more times for a cached token", n)
	}
	// The authorization webhook decides what RBAC has no opinion on.
	expect(t, erin.do(t, "GET", "/api/v1/namespaces/team/configmaps", "", nil), http.StatusOK, "")
	r := erin.do(t, "GET", "/api/v1/namespaces/team/secrets", "", nil)
	expect(t, r, http.StatusForbidden, "Forbidden")
	if want := `secrets is forbidden: User "erin" cannot list resource "secrets" in API group "" in the namespace "team": erin may not read secrets`; r.obj["message"] != want {
		t.Errorf("denied by the webhook: %q, want %q", r.obj["message"], want)
	}
	proxyCert := certificate(t, s.frontProxyCA, pki.ClientCertTemplate("front-proxy-client"), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if got := whoami(t, s.caller(t, "", proxyCert), http.Header{"X-Remote-User": {"alice"}, "X-Remote-Group": {"proxied"}}); got != "alice [proxied system:authenticated]" {
		t.Errorf("through the front proxy: %s", got)
	}
	// What Kubernetes allows and this server too: a user who may create pods
	// may run them as any ServiceAccount of the namespace, however
	// privileged; the ServiceAccount admission plugin only checks that it exists.
	alice := s.as(t, "alice")
	expect(t, alice.do(t, "POST", "/api/v1/namespaces/team/pods", `{"metadata":{"name":"as-powerful"},"spec":{"serviceAccountName":"powerful","containers":[{"name":"c","image":"nginx"}]}}`, nil),
		http.StatusCreated, "")

	bob := s.as(t, "bob")
	forgedAdmin := certificate(t, foreignCA(t), pki.ClientCertTemplate("admin", "system:masters"), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	expiredAdmin := certificate(t, s.ca, pki.ClientCertTemplate("admin", "system:masters"), time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
	proxyAsUser := certificate(t, s.frontProxyCA, pki.ClientCertTemplate("admin", "system:masters"), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	otherProxy := certificate(t, s.frontProxyCA, pki.ClientCertTemplate("other-proxy"), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	carol := certificate(t, s.ca, pki.ClientCertTemplate("carol"), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	lookAlike := certificate(t, s.ca, pki.ClientCertTemplate("front-proxy-client"), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	masters := http.Header{"X-Remote-User": {"system:admin"}, "X-Remote-Group": {"system:masters"}}
	// A certificate nobody trusts does not spoil a good token sent with it,
	// as in kube-apiserver: the union takes the authenticator that knows the request.
	if got := whoami(t, s.caller(t, bob.token, forgedAdmin), nil); got != "bob [system:authenticated]" {
		t.Errorf("a token with a foreign certificate: %s", got)
	}

	// steal is a write any of the stolen identities could make.
	steal := func(u *tokenUser, header http.Header) func() response {
		return func() response {
			return u.do(t, "POST", "/api/v1/namespaces/team/configmaps", cm("stolen"), header)
		}
	}
	withToken := func(token string) func() response { return steal(s.caller(t, token, nil), nil) }
	withCert := func(cert *tls.Certificate, header http.Header) func() response {
		return steal(s.caller(t, "", cert), header)
	}
	forbiddenCM := func(user string) string {
		return `configmaps is forbidden: User "` + user + `" cannot create resource "configmaps" in API group "" in the namespace "team"`
	}
	escalation := func(resource, name string, rules ...string) string {
		return resource + ".rbac.authorization.k8s.io \"" + name + `" is forbidden: user "alice" (groups=["developers" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:` +
			"\n" + strings.Join(rules, "\n")
	}
	const everything, everyURL = `{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`, `{NonResourceURLs:["*"], Verbs:["*"]}`
	rbacPath := "/apis/rbac.authorization.k8s.io/v1/namespaces/team/"
	bindClusterAdmin := `{"metadata":{"name":"grab"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"}]}`

	attacks := []attack{
		// Service-account JWTs.
		{"SA token, alg none", withToken(none(robot(nil))), 401, unauthorized, unauthorized},
		{"SA token, HS256 keyed with the public key", withToken(authntest.SignWith(jwt.SigningMethodHS256, publicKeyPEM(t, saKey), "", robot(nil))), 401, unauthorized, unauthorized},
		{"SA token, a foreign key", withToken(authntest.SignWith(jwt.SigningMethodRS256, foreignKey, "", robot(nil))), 401, unauthorized, unauthorized},
		{"SA token, a kid and jku pointing elsewhere", withToken(func() string {
			token := jwt.NewWithClaims(jwt.SigningMethodRS256, robot(nil))
			token.Header["kid"], token.Header["jku"] = "attacker", "https://127.0.0.1:1/keys"
			signed, _ := token.SignedString(foreignKey)
			return signed
		}()), 401, unauthorized, unauthorized},
		{"SA token, expired", withToken(authntest.SignWith(jwt.SigningMethodRS256, saKey, "", robot(past))), 401, unauthorized, unauthorized},
		{"SA token, not yet valid", withToken(authntest.SignWith(jwt.SigningMethodRS256, saKey, "", robot(future))), 401, unauthorized, unauthorized},
		{"SA token, wrong issuer", withToken(authntest.SignWith(jwt.SigningMethodRS256, saKey, "", robot(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }))), 401, unauthorized, unauthorized},
		{"SA token, wrong audience", withToken(authntest.SignWith(jwt.SigningMethodRS256, saKey, "", robot(func(c jwt.MapClaims) { c["aud"] = []string{"https://vault.example"} }))), 401, unauthorized, unauthorized},
		{"SA token of a deleted ServiceAccount", withToken(doomed), 401, unauthorized, unauthorized},
		{"SA token of a ServiceAccount deleted and created again", withToken(phoenix), 401, unauthorized, unauthorized},
		{"SA token claiming another uid", withToken(authntest.SignWith(jwt.SigningMethodRS256, saKey, "", serviceAccountClaims("team", "robot", "not-"+robotUID, nil))), 401, unauthorized, unauthorized},

		// OIDC ID tokens.
		{"OIDC token, alg none", withToken(none(jane(nil))), 401, unauthorized, unauthorized},
		{"OIDC token, HS256 keyed with the public key", withToken(authntest.SignWith(jwt.SigningMethodHS256, publicKeyPEM(t, oidcKey), oidcKid, jane(nil))), 401, unauthorized, unauthorized},
		{"OIDC token, a foreign key", withToken(authntest.SignWith(jwt.SigningMethodRS256, foreignKey, "", jane(nil))), 401, unauthorized, unauthorized},
		{"OIDC token, a foreign key under the provider's kid", withToken(authntest.SignWith(jwt.SigningMethodRS256, foreignKey, oidcKid, jane(nil))), 401, unauthorized, unauthorized},
		{"OIDC token, a kid the provider does not have", withToken(authntest.SignWith(jwt.SigningMethodRS256, foreignKey, "attacker", jane(nil))), 401, unauthorized, unauthorized},
		{"OIDC token, expired", withToken(s.issuer.Sign(jane(past))), 401, unauthorized, unauthorized},
		{"OIDC token, not yet valid", withToken(s.issuer.Sign(jane(future))), 401, unauthorized, unauthorized},
		{"OIDC token, wrong issuer", withToken(s.issuer.Sign(jane(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }))), 401, unauthorized, unauthorized},
		{"OIDC token, wrong audience", withToken(s.issuer.Sign(jane(func(c jwt.MapClaims) { c["aud"] = []string{"other-client"} }))), 401, unauthorized, unauthorized},
		{"OIDC token, no expiry", withToken(s.issuer.Sign(jane(func(c jwt.MapClaims) { delete(c, "exp") }))), 401, unauthorized, unauthorized},

		// Client certificates.
		{"client certificate of a foreign CA", withCert(forgedAdmin, nil), 401, unauthorized, unauthorized},
		{"expired client certificate", withCert(expiredAdmin, nil), 401, unauthorized, unauthorized},
		{"front-proxy CA certificate as a user", withCert(proxyAsUser, nil), 401, unauthorized, unauthorized},

		// Identity headers.
		{"X-Remote-* without credentials", withCert(nil, masters), 403, "Forbidden", forbiddenCM("system:anonymous")},
		{"X-Remote-* with a bearer token", steal(bob, masters), 403, "Forbidden", forbiddenCM("bob")},
		{"X-Remote-* with a user's certificate", withCert(carol, masters), 403, "Forbidden", forbiddenCM("carol")},
		{"X-Remote-* with a client-CA certificate named front-proxy-client", withCert(lookAlike, masters), 403, "Forbidden", forbiddenCM("front-proxy-client")},
		{"X-Remote-* from a front-proxy CA certificate not allowed", withCert(otherProxy, masters), 401, unauthorized, unauthorized},
		{"Impersonate-User without the impersonate verb", steal(bob, http.Header{"Impersonate-User": {"admin"}}), 403, "Forbidden",
			`users "admin" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope`},
		{"Impersonate-User of a ServiceAccount", steal(alice, http.Header{"Impersonate-User": {"system:serviceaccount:team:powerful"}}), 403, "Forbidden",
			`serviceaccounts "powerful" is forbidden: User "alice" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team"`},
		{"Impersonate-Group system:masters as oneself", steal(bob, http.Header{"Impersonate-User": {"bob"}, "Impersonate-Group": {"system:masters"}}), 403, "Forbidden",
			`users "bob" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope`},
		{"Impersonate-Group alone", steal(bob, http.Header{"Impersonate-Group": {"system:masters"}}), 400, "BadRequest", ""},

		// RBAC escalation, by alice, who may write roles and bindings in team.
		{"create a Role granting everything", func() response {
			return alice.do(t, "POST", rbacPath+"roles", `{"metadata":{"name":"everything"},"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}`, nil)
		}, 403, "Forbidden", escalation("roles", "everything", everything)},
		{"add everything to one's own Role", func() response {
			return alice.do(t, "PATCH", rbacPath+"roles/manager", `[{"op":"add","path":"/rules/-","value":{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}}]`,
				http.Header{"Content-Type": {"application/json-patch+json"}})
		}, 403, "Forbidden", escalation("roles", "manager", everything)},
		{"bind cluster-admin in the namespace", func() response { return alice.do(t, "POST", rbacPath+"rolebindings", bindClusterAdmin, nil) },
			403, "Forbidden", escalation("rolebindings", "grab", everything, everyURL)},
		{"bind cluster-admin cluster-wide", func() response {
			return alice.do(t, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", bindClusterAdmin, nil)
		}, 403, "Forbidden", `clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "alice" cannot create resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope`},
		{"add oneself to a RoleBinding of cluster-admin", func() response {
			return alice.do(t, "PATCH", rbacPath+"rolebindings/ops-admins", `[{"op":"add","path":"/subjects/-","value":{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"}}]`,
				http.Header{"Content-Type": {"application/json-patch+json"}})
		}, 403, "Forbidden", escalation("rolebindings", "ops-admins", everything, everyURL)},
		{"point one's own RoleBinding at cluster-admin", func() response {
			return alice.do(t, "PATCH", rbacPath+"rolebindings/alice-manager", `{"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"}}`,
				http.Header{"Content-Type": {"application/merge-patch+json"}})
		}, 403, "Forbidden", escalation("rolebindings", "alice-manager", everything, everyURL)},
		{"a token for a privileged ServiceAccount", func() response {
			return alice.do(t, "POST", "/api/v1/namespaces/team/serviceaccounts/powerful/token", `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}`, nil)
		}, 403, "Forbidden", `serviceaccounts "powerful" is forbidden: User "alice" cannot create resource "serviceaccounts/token" in API group "" in the namespace "team"`},
		{"a pod running as a ServiceAccount that does not exist", func() response {
			return alice.do(t, "POST", "/api/v1/namespaces/team/pods", `{"metadata":{"name":"ghostly"},"spec":{"serviceAccountName":"ghost","containers":[{"name":"c","image":"nginx"}]}}`, nil)
		}, 403, "Forbidden", `pods "ghostly" is forbidden: error looking up service account team/ghost: serviceaccount "ghost" not found`},
	}

	before := s.snapshot(t)
	for _, a := range attacks {
		r := a.send()
		if r.code != a.code || r.obj["reason"] != a.reason || (a.message != "" && r.obj["message"] != a.message) {
			t.Errorf("%s: got %d %v %q\nwant %d %s %q", a.name, r.code, r.obj["reason"], r.obj["message"], a.code, a.reason, a.message)
		}
	}
	after := s.snapshot(t)
	for path, rv := range after {
		if before[path] != rv {
			t.Errorf("%s changed (resourceVersion %q, was %q)", path, rv, before[path])
		}
	}
	for path := range before {
		if _, ok := after[path]; !ok {
			t.Errorf("%s was deleted", path)
		}
	}
	t.Logf("%d attacks, each refused with Kubernetes' code and reason, nothing changed", len(attacks))

	// kubectl logs in with an ID token as with any bearer token.
	kubectl := requireKubectl(t)
	k := &seedKubectl{t: t, kubectl: kubectl, ts: s.testServer}
	out, stderr, code := k.withToken(janeToken, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if code != 0 || out != s.issuer.URL+"#jane" {
		t.Errorf("kubectl auth whoami with an ID token: exit %d, %q %s", code, out, stderr)
	}
}

// foreignCA is a CA nobody trusts.
func foreignCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(t.TempDir(), "ca")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// Without --requestheader-allowed-names (kube-apiserver's default), any
// client certificate of the front-proxy CA may assert identities; one of
// the cluster CA may not, whatever its name.
func TestRequestHeaderAnyProxyName(t *testing.T) {
	ts := startServer(t)
	frontProxyCA, err := pki.LoadOrCreateCA(ts.dir, "front-proxy-ca")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreateCA(ts.dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	valid := func(ca *pki.CA, cn string) *tls.Certificate {
		return certificate(t, ca, pki.ClientCertTemplate(cn), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	}
	asserted := http.Header{"X-Remote-User": {"alice"}, "X-Remote-Group": {"proxied"}}
	if got := whoami(t, ts.caller(t, "", valid(frontProxyCA, "any-proxy")), asserted); got != "alice [proxied system:authenticated]" {
		t.Errorf("a front-proxy CA certificate of any name: %s", got)
	}
	if got := whoami(t, ts.caller(t, "", valid(ca, "front-proxy-client")), asserted); got != "front-proxy-client [system:authenticated]" {
		t.Errorf("a cluster CA certificate named front-proxy-client: %s", got)
	}
}
