package admission

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

func TestLabelSelectorMatches(t *testing.T) {
	inProdOrStaging := `{"matchExpressions":[{"key":"env","operator":"In","values":["prod","staging"]}]}`
	notInProd := `{"matchExpressions":[{"key":"env","operator":"NotIn","values":["prod"]}]}`
	exists := `{"matchExpressions":[{"key":"env","operator":"Exists"}]}`
	doesNotExist := `{"matchExpressions":[{"key":"env","operator":"DoesNotExist"}]}`
	both := `{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"env","operator":"In","values":["prod"]}]}`
	tests := []struct {
		selector string
		labels   map[string]string
		want     bool
	}{
		{`null`, nil, true}, // no selector selects everything
		{`{}`, map[string]string{"app": "web"}, true},
		{`{"matchLabels":{"app":"web"}}`, map[string]string{"app": "web", "env": "prod"}, true},
		{`{"matchLabels":{"app":"web"}}`, map[string]string{"app": "db"}, false},
		{`{"matchLabels":{"app":"web"}}`, nil, false},
		{`{"matchLabels":{"app":""}}`, nil, false}, // an empty value must be there too
		{`{"matchLabels":{"app":""}}`, map[string]string{"app": ""}, true},
		{`{"matchLabels":{"app":"web","env":"prod"}}`, map[string]string{"app": "web"}, false},
		{inProdOrStaging, map[string]string{"env": "staging"}, true},
		{inProdOrStaging, map[string]string{"env": "dev"}, false},
		{inProdOrStaging, nil, false},
		{notInProd, map[string]string{"env": "dev"}, true},
		{notInProd, map[string]string{"env": "prod"}, false},
		{notInProd, nil, true}, // no label is not in the set
		{exists, map[string]string{"env": ""}, true},
		{exists, map[string]string{"app": "web"}, false},
		{doesNotExist, map[string]string{"app": "web"}, true},
		{doesNotExist, map[string]string{"env": "prod"}, false},
		{`{"matchExpressions":[{"key":"env","operator":"Gt","values":["1"]}]}`, map[string]string{"env": "2"}, false},
		{both, map[string]string{"app": "web", "env": "prod"}, true},
		{both, map[string]string{"app": "web", "env": "dev"}, false},
		{both, map[string]string{"app": "db", "env": "prod"}, false},
	}
	for _, tt := range tests {
		var sel *labelSelector
		if err := json.Unmarshal([]byte(tt.selector), &sel); err != nil {
			t.Fatalf("bad selector in test: %v", err)
		}
		if got := sel.matches(tt.labels); got != tt.want {
			t.Errorf("%s matches %v = %v, want %v", tt.selector, tt.labels, got, tt.want)
		}
	}
}

func TestWebhookRuleResources(t *testing.T) {
	tests := []struct {
		resources             []string
		resource, subresource string
		want                  bool
	}{
		{[]string{"pods"}, "pods", "", true},
		{[]string{"pods"}, "pods", "status", false}, // a subresource is named on its own
		{[]string{"pods/status"}, "pods", "status", true},
		{[]string{"pods/status"}, "pods", "", false},
		{[]string{"pods/*"}, "pods", "binding", true},
		{[]string{"pods/*"}, "pods", "", true}, // as Kubernetes' rules.Matcher: "*" matches no subresource too
		{[]string{"pods/*"}, "secrets", "", false},
		{[]string{"*"}, "configmaps", "", true},
		{[]string{"*"}, "pods", "status", false},
		{[]string{"*/status"}, "deployments", "status", true},
		{[]string{"*/*"}, "pods", "status", true},
		{[]string{"*/*"}, "pods", "", true},
		{[]string{"secrets", "pods"}, "pods", "", true},
		{nil, "pods", "", false},
	}
	for _, tt := range tests {
		if got := (webhookRule{Resources: tt.resources}).matchesResource(tt.resource, tt.subresource); got != tt.want {
			t.Errorf("%q matches %s/%s = %v, want %v", tt.resources, tt.resource, tt.subresource, got, tt.want)
		}
	}
}

func TestWebhookSelects(t *testing.T) {
	deps := newDeps(t)
	storeObjects(t, deps, "", "namespaces",
		`{"metadata":{"name":"prod","labels":{"env":"prod"}}}`,
		`{"metadata":{"name":"dev","labels":{"env":"dev"}}}`)
	w := &webhooks{deps: deps, mutating: true}

	const (
		configMapRule  = `"rules":[{"operations":["CREATE"],"apiGroups":[""],"apiVersions":["v1"],"resources":["configmaps"]}]`
		everythingRule = `"rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"]}]`
		inProd         = `"namespaceSelector":{"matchLabels":{"env":"prod"}}`
		webObjects     = `"objectSelector":{"matchLabels":{"app":"web"}}`
		rbacGroup      = "rbac.authorization.k8s.io"
	)
	type req struct {
		operation, group, resource, namespace, name string
		object, oldObject                           string // "" for none
	}
	createConfigMap := req{"CREATE", "", "configmaps", "prod", "settings", `{"metadata":{"name":"settings"}}`, ""}
	with := func(r req, change func(*req)) req { change(&r); return r }
	tests := []struct {
		name    string
		hook    string
		request req
		want    bool
	}{
		{"the rule matches", configMapRule, createConfigMap, true},
		{"another operation", configMapRule, with(createConfigMap, func(r *req) { r.operation = "UPDATE" }), false},
		{"another resource", configMapRule, with(createConfigMap, func(r *req) { r.resource = "secrets" }), false},
		{"another group", configMapRule, with(createConfigMap, func(r *req) { r.group, r.resource = "batch", "jobs" }), false},
		{"another version", `"rules":[{"operations":["CREATE"],"apiGroups":[""],"apiVersions":["v2"],"resources":["configmaps"]}]`, createConfigMap, false},
		{"wildcards", everythingRule, with(createConfigMap, func(r *req) { r.operation, r.group, r.resource = "DELETE", "batch", "jobs" }), true},
		{"the second rule matches", `"rules":[{"operations":["UPDATE"],"apiGroups":[""],"apiVersions":["v1"],"resources":["configmaps"]},
			{"operations":["CREATE"],"apiGroups":["batch"],"apiVersions":["v1"],"resources":["jobs"]}]`,
			with(createConfigMap, func(r *req) { r.group, r.resource = "batch", "jobs" }), true},
		{"no rules", `"rules":[]`, createConfigMap, false},
		{"scope Namespaced, a namespaced resource", `"rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"],"scope":"Namespaced"}]`,
			createConfigMap, true},
		{"scope Namespaced, a cluster-scoped resource", `"rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"],"scope":"Namespaced"}]`,
			req{"CREATE", "", "namespaces", "", "team", `{"metadata":{"name":"team"}}`, ""}, false},
		{"scope Cluster, a cluster-scoped resource", `"rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"],"scope":"Cluster"}]`,
			req{"CREATE", "", "namespaces", "", "team", `{"metadata":{"name":"team"}}`, ""}, true},
		{"scope Cluster, a namespaced resource", `"rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"],"scope":"Cluster"}]`,
			createConfigMap, false},

		// namespaceSelector: the labels of the object's namespace.
		{"namespaceSelector, a matching namespace", everythingRule + "," + inProd, createConfigMap, true},
		{"namespaceSelector, another namespace", everythingRule + "," + inProd, with(createConfigMap, func(r *req) { r.namespace = "dev" }), false},
		{"namespaceSelector, a missing namespace", everythingRule + "," + inProd, with(createConfigMap, func(r *req) { r.namespace = "gone" }), false},
		{"namespaceSelector on its kubernetes.io/metadata.name", everythingRule + `,"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system"]}]}`,
			with(createConfigMap, func(r *req) { r.namespace = "kube-system" }), false}, // bootstrap namespaces carry the label too
		{"namespaceSelector, a cluster-scoped object passes", everythingRule + "," + inProd,
			req{"CREATE", rbacGroup, "clusterroles", "", "reader", `{"metadata":{"name":"reader"}}`, ""}, true},
		// For a namespace, the labels of the namespace in the request, as
		// Kubernetes does: on create there is no stored one yet.
		{"namespaceSelector, creating a matching namespace", everythingRule + "," + inProd,
			req{"CREATE", "", "namespaces", "", "team", `{"metadata":{"name":"team","labels":{"env":"prod"}}}`, ""}, true},
		{"namespaceSelector, creating another namespace", everythingRule + "," + inProd,
			req{"CREATE", "", "namespaces", "", "team", `{"metadata":{"name":"team","labels":{"env":"dev"}}}`, ""}, false},
		{"namespaceSelector, relabelling a namespace into the selection", everythingRule + "," + inProd,
			req{"UPDATE", "", "namespaces", "", "dev", `{"metadata":{"name":"dev","labels":{"env":"prod"}}}`, `{"metadata":{"name":"dev","labels":{"env":"dev"}}}`}, true},
		{"namespaceSelector, deleting a matching namespace", everythingRule + "," + inProd,
			req{"DELETE", "", "namespaces", "", "prod", "", `{"metadata":{"name":"prod","labels":{"env":"prod"}}}`}, true},

		// objectSelector: the object's labels, or the old object's.
		{"objectSelector, a matching object", everythingRule + "," + webObjects,
			with(createConfigMap, func(r *req) { r.object = `{"metadata":{"labels":{"app":"web"}}}` }), true},
		{"objectSelector, another object", everythingRule + "," + webObjects, createConfigMap, false},
		{"objectSelector, the old object matches", everythingRule + "," + webObjects,
			with(createConfigMap, func(r *req) { r.operation, r.oldObject = "UPDATE", `{"metadata":{"labels":{"app":"web"}}}` }), true},
		{"objectSelector, a deleted object", everythingRule + "," + webObjects,
			with(createConfigMap, func(r *req) {
				r.operation, r.object, r.oldObject = "DELETE", "", `{"metadata":{"labels":{"app":"web"}}}`
			}), true},
		{"objectSelector, neither matches", everythingRule + "," + webObjects,
			with(createConfigMap, func(r *req) { r.operation, r.oldObject = "UPDATE", `{"metadata":{"labels":{"app":"db"}}}` }), false},
		{"both selectors must match", everythingRule + "," + inProd + "," + webObjects,
			with(createConfigMap, func(r *req) { r.namespace, r.object = "dev", `{"metadata":{"labels":{"app":"web"}}}` }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hook webhook
			if err := json.Unmarshal([]byte(`{"name":"hook",`+tt.hook+`}`), &hook); err != nil {
				t.Fatalf("bad hook in test: %v", err)
			}
			r := tt.request
			a := &Attributes{Operation: r.operation, Resource: deps.Registry.Lookup(r.group, r.resource), Namespace: r.namespace, Name: r.name}
			if r.object != "" {
				a.Object = mustDecode(t, r.object)
			}
			if r.oldObject != "" {
				a.OldObject = mustDecode(t, r.oldObject)
			}
			got, err := w.selects(context.Background(), hook, a)
			if err != nil || got != tt.want {
				t.Errorf("selects = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// fakeWebhook is an HTTPS admission webhook: answer decides the response to
// each AdmissionReview request; the uid is copied unless answer sets one.
type fakeWebhook struct {
	srv      *httptest.Server
	caBundle []byte // the PEM of the server's certificate

	mu      sync.Mutex
	reviews []map[string]any // every AdmissionReview received
}

func startWebhook(t *testing.T, answer func(request map[string]any) map[string]any) *fakeWebhook {
	t.Helper()
	w := &fakeWebhook{}
	w.srv = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var review map[string]any
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.reviews = append(w.reviews, review)
		w.mu.Unlock()
		request, _ := review["request"].(map[string]any)
		response := answer(request)
		if _, set := response["uid"]; !set {
			response["uid"] = request["uid"]
		}
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
	}))
	t.Cleanup(w.srv.Close)
	w.caBundle = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.srv.Certificate().Raw})
	return w
}

func (w *fakeWebhook) received() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.reviews)
}

// hookFor is a webhook entry calling url, for CREATE and UPDATE of
// configmaps, with extra fields (failurePolicy, selectors) on top.
func hookFor(name, url string, caBundle []byte, extra map[string]any) map[string]any {
	hook := map[string]any{
		"name":                    name,
		"clientConfig":            map[string]any{"url": url, "caBundle": caBundle}, // []byte encodes as base64
		"rules":                   []any{map[string]any{"operations": []string{"CREATE", "UPDATE"}, "apiGroups": []string{""}, "apiVersions": []string{"v1"}, "resources": []string{"configmaps"}}},
		"sideEffects":             "None",
		"admissionReviewVersions": []string{"v1"},
	}
	maps.Copy(hook, extra)
	return hook
}

// configure stores a Mutating- or ValidatingWebhookConfiguration.
func configure(t *testing.T, deps Dependencies, mutating bool, name string, hooks ...map[string]any) {
	t.Helper()
	kind, resource := "ValidatingWebhookConfiguration", "validatingwebhookconfigurations"
	if mutating {
		kind, resource = "MutatingWebhookConfiguration", "mutatingwebhookconfigurations"
	}
	storeObjects(t, deps, "admissionregistration.k8s.io", resource, encode(map[string]any{"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
		"metadata": map[string]any{"name": name}, "webhooks": hooks}))
}

func allowAll(map[string]any) map[string]any { return map[string]any{"allowed": true} }

func addLabelPatch(map[string]any) map[string]any {
	return map[string]any{"allowed": true, "patchType": "JSONPatch",
		"patch": []byte(`[{"op":"add","path":"/metadata/labels/mutated","value":"yes"}]`)}
}

func configMap(name, labels string) string {
	return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `","namespace":"default","labels":{` + labels + `}},"data":{"k":"v"}}`
}

// createConfigMap admits the creation of a configmap in default, as the
// server would, and returns the object admission left.
func createConfigMap(t *testing.T, chain *Chain, deps Dependencies, doc string) (object.Object, error) {
	t.Helper()
	obj := mustDecode(t, doc)
	a := &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "configmaps"), Namespace: "default", Name: obj.MetaString("name"),
		Object: obj, User: &request.User{Name: "alice", Groups: []string{"devs", request.GroupAuthenticated}}}
	return obj, admit(context.Background(), chain, a)
}

// Each case configures one webhook against a fresh store and admits a
// configmap; the webhook's answer, or its failure, decides the outcome.
func TestWebhooks(t *testing.T) {
	tests := []struct {
		name        string
		mutating    bool
		answer      func(request map[string]any) map[string]any
		extra       map[string]any
		url         func(w *fakeWebhook) string // default: the webhook's URL
		wantCode    int                         // 0: admitted
		wantReason  string
		wantMessage string // a part of the Status message
		wantCalls   int
		wantLabels  string // of the admitted configmap
	}{
		{name: "a validating webhook allows", answer: allowAll, wantCalls: 1, wantLabels: `{}`},
		{name: "a mutating webhook allows", mutating: true, answer: allowAll, wantCalls: 1, wantLabels: `{}`},
		{name: "a validating webhook denies with its message and code",
			answer: func(map[string]any) map[string]any {
				return map[string]any{"allowed": false, "status": map[string]any{"code": 422, "reason": "Invalid", "message": "no settings here"}}
			},
			wantCode: http.StatusUnprocessableEntity, wantReason: "Invalid", wantCalls: 1,
			wantMessage: `admission webhook "hook.example.com" denied the request: no settings here`},
		{name: "a mutating webhook denies", mutating: true,
			answer: func(map[string]any) map[string]any {
				return map[string]any{"allowed": false, "status": map[string]any{"code": 403, "reason": "Forbidden", "message": "not today"}}
			},
			wantCode: http.StatusForbidden, wantReason: "Forbidden", wantCalls: 1,
			wantMessage: `admission webhook "hook.example.com" denied the request: not today`},
		// Kubernetes' ToStatusErr: a refusal is never below 400, and says so
		// when the webhook gives no reason.
		{name: "a denial without a code is a 400",
			answer: func(map[string]any) map[string]any {
				return map[string]any{"allowed": false, "status": map[string]any{"code": 200, "message": "no"}}
			},
			wantCode: http.StatusBadRequest, wantReason: "", wantCalls: 1,
			wantMessage: `admission webhook "hook.example.com" denied the request: no`},
		{name: "a denial without explanation",
			answer:   func(map[string]any) map[string]any { return map[string]any{"allowed": false} },
			wantCode: http.StatusBadRequest, wantCalls: 1,
			wantMessage: `admission webhook "hook.example.com" denied the request without explanation`},
		{name: "a denial with only a reason",
			answer: func(map[string]any) map[string]any {
				return map[string]any{"allowed": false, "status": map[string]any{"reason": "Conflict", "code": 409}}
			},
			wantCode: http.StatusConflict, wantReason: "Conflict", wantCalls: 1,
			wantMessage: `admission webhook "hook.example.com" denied the request: Conflict`},
		{name: "a mutating webhook's JSON patch is applied", mutating: true, answer: addLabelPatch,
			wantCalls: 1, wantLabels: `{"mutated":"yes"}`},
		{name: "a patch from a validating webhook is refused", answer: addLabelPatch,
			wantCode: http.StatusInternalServerError, wantReason: "InternalError", wantCalls: 1,
			wantMessage: `webhook "hook.example.com" returned a patch it may not return`},
		{name: "a patch of another type is refused", mutating: true,
			answer: func(request map[string]any) map[string]any {
				answer := addLabelPatch(request)
				answer["patchType"] = "MergePatch"
				return answer
			},
			wantCode: http.StatusInternalServerError, wantReason: "InternalError", wantCalls: 1,
			wantMessage: `webhook "hook.example.com" returned a patch it may not return`},
		{name: "a patch that does not apply", mutating: true,
			answer: func(map[string]any) map[string]any {
				return map[string]any{"allowed": true, "patchType": "JSONPatch", "patch": []byte(`[{"op":"remove","path":"/spec"}]`)}
			},
			wantCode: http.StatusInternalServerError, wantReason: "InternalError", wantCalls: 1,
			wantMessage: `applying the patch of webhook "hook.example.com"`},
		{name: "an answer for another request is refused",
			answer:   func(map[string]any) map[string]any { return map[string]any{"uid": "not-yours", "allowed": true} },
			wantCode: http.StatusInternalServerError, wantReason: "InternalError", wantCalls: 1,
			wantMessage: `failed calling webhook "hook.example.com": the webhook answered for request "not-yours"`},
		{name: "an http url is refused", answer: allowAll,
			url:      func(w *fakeWebhook) string { return "http://" + strings.TrimPrefix(w.srv.URL, "https://") },
			wantCode: http.StatusInternalServerError, wantReason: "InternalError", wantCalls: 0,
			wantMessage: `failed calling webhook "hook.example.com": clientConfig.url must be an https URL`},
		{name: "a service that does not exist", answer: allowAll,
			url: func(*fakeWebhook) string { return "" }, extra: map[string]any{"clientConfig": map[string]any{"service": map[string]any{"namespace": "default", "name": "hook"}}},
			wantCode: http.StatusInternalServerError, wantReason: "InternalError", wantCalls: 0,
			wantMessage: `Internal error occurred: failed calling webhook "hook.example.com": failed to call webhook: Post "https://hook.default.svc:443/?timeout=10s": service "hook" not found`},
		{name: "a closed server, failurePolicy Fail", answer: allowAll, extra: map[string]any{"failurePolicy": "Fail"},
			url:      func(w *fakeWebhook) string { w.srv.Close(); return w.srv.URL },
			wantCode: http.StatusInternalServerError, wantReason: "InternalError", wantCalls: 0,
			wantMessage: `Internal error occurred: failed calling webhook "hook.example.com"`},
		{name: "a closed server, no failurePolicy means Fail", answer: allowAll,
			url:      func(w *fakeWebhook) string { w.srv.Close(); return w.srv.URL },
			wantCode: http.StatusInternalServerError, wantReason: "InternalError", wantCalls: 0,
			wantMessage: `failed calling webhook "hook.example.com"`},
		{name: "a closed server, failurePolicy Ignore", mutating: true, answer: allowAll, extra: map[string]any{"failurePolicy": "Ignore"},
			url:       func(w *fakeWebhook) string { w.srv.Close(); return w.srv.URL },
			wantCalls: 0, wantLabels: `{}`},
		{name: "an answer that does not decode, failurePolicy Ignore", answer: func(map[string]any) map[string]any { return map[string]any{"allowed": "yes"} },
			extra: map[string]any{"failurePolicy": "Ignore"}, wantCalls: 1, wantLabels: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, deps := newTestChain(t, "", "")
			w := startWebhook(t, tt.answer)
			url := w.srv.URL
			if tt.url != nil {
				url = tt.url(w)
			}
			hook := hookFor("hook.example.com", url, w.caBundle, tt.extra)
			if url == "" {
				delete(hook["clientConfig"].(map[string]any), "url")
			}
			configure(t, deps, tt.mutating, "config", hook)

			obj, err := createConfigMap(t, chain, deps, configMap("settings", ""))
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("admit: %v", err)
				}
				if got := encode(at(obj, "metadata", "labels")); got != tt.wantLabels {
					t.Errorf("labels = %s, want %s", got, tt.wantLabels)
				}
			} else {
				se := statusOf(t, err)
				if se.Code != tt.wantCode || se.Reason != tt.wantReason || !strings.Contains(se.Message, tt.wantMessage) {
					t.Errorf("admit: %d %s %q\nwant %d %s and a message with %q", se.Code, se.Reason, se.Message, tt.wantCode, tt.wantReason, tt.wantMessage)
				}
			}
			// Each webhook runs in its own phase only, so once per request.
			if got := len(w.received()); got != tt.wantCalls {
				t.Errorf("the webhook was called %d times, want %d", got, tt.wantCalls)
			}
		})
	}
}

// A webhook slower than its timeoutSeconds fails, and failurePolicy decides.
func TestWebhookTimeout(t *testing.T) {
	for _, policy := range []string{"Fail", "Ignore"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel() // each waits out the one-second timeout
			release := make(chan struct{})
			w := startWebhook(t, func(map[string]any) map[string]any { <-release; return map[string]any{"allowed": true} })
			t.Cleanup(func() { close(release) }) // before the server's Close, which waits for the handler

			chain, deps := newTestChain(t, "", "")
			hook := hookFor("hook.example.com", w.srv.URL, w.caBundle, map[string]any{"timeoutSeconds": 1, "failurePolicy": policy})
			configure(t, deps, false, "config", hook)

			a := &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "configmaps"), Namespace: "default", Name: "settings",
				Object: mustDecode(t, configMap("settings", ""))}
			var parsed webhook
			if err := remarshal(hook, &parsed); err != nil {
				t.Fatal(err)
			}
			if _, err := (&webhooks{deps: deps}).post(context.Background(), parsed, a); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("post: %v, want the deadline exceeded", err)
			}

			_, err := createConfigMap(t, chain, deps, configMap("settings", ""))
			switch {
			case policy == "Fail" && (err == nil || !strings.Contains(err.Error(), `failed calling webhook "hook.example.com"`) ||
				!strings.Contains(err.Error(), "context deadline exceeded")):
				t.Errorf("admit: %v; want failed calling webhook, the deadline exceeded", err)
			case policy == "Ignore" && err != nil:
				t.Errorf("admit: %v; want nil", err)
			}
		})
	}
}

// The request's context bounds the call too: a client that goes away does
// not leave the server waiting on a webhook.
func TestWebhookFollowsTheRequestContext(t *testing.T) {
	release := make(chan struct{})
	w := startWebhook(t, func(map[string]any) map[string]any { <-release; return map[string]any{"allowed": true} })
	t.Cleanup(func() { close(release) })
	deps := newDeps(t)
	var hook webhook
	if err := remarshal(hookFor("hook.example.com", w.srv.URL, w.caBundle, nil), &hook); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "configmaps"), Namespace: "default", Name: "settings",
		Object: mustDecode(t, configMap("settings", ""))}
	if _, err := (&webhooks{deps: deps}).post(ctx, hook, a); !errors.Is(err, context.Canceled) {
		t.Errorf("post: %v, want the context's cancellation", err)
	}
}

// The AdmissionReview names the request; UPDATE and DELETE send the object
// as it was in oldObject; the user and dryRun are the request's.
func TestWebhookAdmissionReview(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	w := startWebhook(t, allowAll)
	configure(t, deps, false, "config", hookFor("hook.example.com", w.srv.URL, w.caBundle, map[string]any{
		"rules": []any{map[string]any{"operations": []string{"*"}, "apiGroups": []string{""}, "apiVersions": []string{"v1"}, "resources": []string{"configmaps", "configmaps/*"}}}}))

	ctx := context.Background()
	configMaps := deps.Registry.Lookup("", "configmaps")
	user := &request.User{Name: "alice", UID: "42", Groups: []string{"devs"}, Extra: map[string][]string{"scopes": {"all"}}}
	v1, v2 := mustDecode(t, configMap("settings", `"app":"web"`)), mustDecode(t, configMap("settings", `"app":"web"`))
	v2["data"] = map[string]any{"k": "new"}
	for _, a := range []*Attributes{
		{Operation: Create, Object: v1},
		{Operation: Update, Object: v2, OldObject: v1, DryRun: true},
		{Operation: Update, Subresource: "status", Object: v2, OldObject: v1},
		{Operation: Delete, OldObject: v2},
	} {
		a.Resource, a.Namespace, a.Name, a.User = configMaps, "default", "settings", user
		if err := admit(ctx, chain, a); err != nil {
			t.Fatalf("%s: %v", a.Operation, err)
		}
	}

	reviews := w.received()
	tests := []struct {
		operation, subresource, objectData, oldObjectData string
		dryRun                                            bool
	}{
		{"CREATE", "", `{"k":"v"}`, "null", false},
		{"UPDATE", "", `{"k":"new"}`, `{"k":"v"}`, true},
		{"UPDATE", "status", `{"k":"new"}`, `{"k":"v"}`, false},
		{"DELETE", "", "null", `{"k":"new"}`, false},
	}
	if len(reviews) != len(tests) {
		t.Fatalf("the webhook received %d reviews, want %d", len(reviews), len(tests))
	}
	uids := map[any]bool{}
	for i, tt := range tests {
		review := reviews[i]
		if review["apiVersion"] != "admission.k8s.io/v1" || review["kind"] != "AdmissionReview" {
			t.Errorf("%s: apiVersion %v, kind %v; want admission.k8s.io/v1 AdmissionReview", tt.operation, review["apiVersion"], review["kind"])
		}
		request, _ := review["request"].(map[string]any)
		kind := map[string]any{"group": "", "version": "v1", "kind": "ConfigMap"}
		resource := map[string]any{"group": "", "version": "v1", "resource": "configmaps"}
		want := map[string]any{"operation": tt.operation, "name": "settings", "namespace": "default", "kind": kind, "resource": resource,
			"requestKind": kind, "requestResource": resource, "dryRun": tt.dryRun,
			"userInfo": map[string]any{"username": "alice", "uid": "42", "groups": []string{"devs"}, "extra": map[string]any{"scopes": []string{"all"}}}}
		if tt.subresource != "" {
			want["subResource"], want["requestSubResource"] = tt.subresource, tt.subresource
		}
		got := map[string]any{}
		for k := range want {
			got[k] = request[k]
		}
		if encode(got) != encode(want) {
			t.Errorf("%s: request = %s\nwant %s", tt.operation, encode(got), encode(want))
		}
		if got := encode(at(request, "object", "data")); got != tt.objectData {
			t.Errorf("%s: object.data = %s, want %s", tt.operation, got, tt.objectData)
		}
		if got := encode(at(request, "oldObject", "data")); got != tt.oldObjectData {
			t.Errorf("%s: oldObject.data = %s, want %s", tt.operation, got, tt.oldObjectData)
		}
		if uid, _ := request["uid"].(string); uid == "" || uids[uid] {
			t.Errorf("%s: uid %q, want a new one for each request", tt.operation, uid)
		}
		uids[request["uid"]] = true
	}
}

// A dry run never reaches a webhook that may have side effects: the request
// is refused instead, as Kubernetes does.
func TestWebhookDryRun(t *testing.T) {
	for _, tt := range []struct {
		name, sideEffects string
		wantCalled        bool
	}{{"None", "None", true}, {"NoneOnDryRun", "NoneOnDryRun", true}, {"Some", "Some", false}, {"Unknown", "Unknown", false}, {"unset", "", false}} {
		// The names make paths sqlite.Open can use: it cuts a path at a "#".
		t.Run(tt.name, func(t *testing.T) {
			chain, deps := newTestChain(t, "", "")
			w := startWebhook(t, allowAll)
			configure(t, deps, true, "config", hookFor("hook.example.com", w.srv.URL, w.caBundle, map[string]any{"sideEffects": tt.sideEffects}))
			a := &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "configmaps"), Namespace: "default", Name: "settings",
				Object: mustDecode(t, configMap("settings", "")), DryRun: true}
			err := admit(context.Background(), chain, a)
			if called := len(w.received()) == 1; called != tt.wantCalled {
				t.Errorf("called: %v, want %v", called, tt.wantCalled)
			}
			if tt.wantCalled && err != nil {
				t.Errorf("admit: %v", err)
			}
			if !tt.wantCalled {
				if se := statusOf(t, err); se.Code != http.StatusBadRequest || se.Message != `admission webhook "hook.example.com" does not support dry run` {
					t.Errorf("admit: %d %s", se.Code, se.Message)
				}
			}
		})
	}
}

// Mutating webhooks run before validating ones, which see their patches;
// within a phase, configurations run in name order and a denial stops the rest.
func TestWebhookPhasesAndOrder(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	var mu sync.Mutex
	var calls []string
	record := func(name string, answer func(map[string]any) map[string]any) func(map[string]any) map[string]any {
		return func(request map[string]any) map[string]any {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, name+" sees "+encode(at(request, "object", "metadata", "labels")))
			return answer(request)
		}
	}
	deny := func(map[string]any) map[string]any {
		return map[string]any{"allowed": false, "status": map[string]any{"code": 403, "reason": "Forbidden", "message": "b says no"}}
	}
	mutator := startWebhook(t, record("mutating", addLabelPatch))
	a := startWebhook(t, record("validating a", allowAll))
	b := startWebhook(t, record("validating b", deny))
	c := startWebhook(t, record("validating c", allowAll))
	// Stored out of order: the names decide.
	configure(t, deps, false, "c", hookFor("c.example.com", c.srv.URL, c.caBundle, nil))
	configure(t, deps, false, "b", hookFor("b.example.com", b.srv.URL, b.caBundle, nil))
	configure(t, deps, false, "a", hookFor("a.example.com", a.srv.URL, a.caBundle, nil))
	configure(t, deps, true, "z", hookFor("mutating.example.com", mutator.srv.URL, mutator.caBundle, nil))

	_, err := createConfigMap(t, chain, deps, configMap("settings", ""))
	if se := statusOf(t, err); se.Code != http.StatusForbidden || se.Message != `admission webhook "b.example.com" denied the request: b says no` {
		t.Errorf("admit: %d %s; want 403 from b.example.com", se.Code, se.Message)
	}
	want := []string{`mutating sees {}`, `validating a sees {"mutated":"yes"}`, `validating b sees {"mutated":"yes"}`}
	if !slices.Equal(calls, want) {
		t.Errorf("calls = %q\nwant    %q", calls, want)
	}
}

// Webhook configurations never go to webhooks, so that a broken webhook can
// always be removed, whatever its rules say.
func TestWebhookConfigurationsAreNeverSent(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	w := startWebhook(t, func(map[string]any) map[string]any { return map[string]any{"allowed": false} })
	everything := map[string]any{"rules": []any{map[string]any{"operations": []string{"*"}, "apiGroups": []string{"*"}, "apiVersions": []string{"*"}, "resources": []string{"*"}}}}
	configure(t, deps, false, "broken", hookFor("broken.example.com", w.srv.URL, w.caBundle, everything))
	configure(t, deps, true, "broken", hookFor("broken.example.com", w.srv.URL, w.caBundle, everything))
	for _, resource := range []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"} {
		a := &Attributes{Operation: Delete, Resource: deps.Registry.Lookup("admissionregistration.k8s.io", resource), Name: "broken",
			OldObject: mustDecode(t, `{"metadata":{"name":"broken"}}`)}
		if err := admit(context.Background(), chain, a); err != nil {
			t.Errorf("deleting the %s: %v", resource, err)
		}
	}
	if n := len(w.received()); n != 0 {
		t.Errorf("the webhook was asked %d times", n)
	}
	// Anything else goes to it, and it refuses.
	if _, err := createConfigMap(t, chain, deps, configMap("settings", "")); err == nil {
		t.Errorf("a configmap passed the webhook that refuses everything")
	}
}

// A namespaceSelector on the new namespace's labels sends its creation to
// the webhook.
func TestWebhookOnNamespaceCreation(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	w := startWebhook(t, func(map[string]any) map[string]any {
		return map[string]any{"allowed": false, "status": map[string]any{"code": 403, "message": "no prod namespaces"}}
	})
	configure(t, deps, false, "config", hookFor("hook.example.com", w.srv.URL, w.caBundle, map[string]any{
		"rules":             []any{map[string]any{"operations": []string{"CREATE"}, "apiGroups": []string{""}, "apiVersions": []string{"v1"}, "resources": []string{"namespaces"}}},
		"namespaceSelector": map[string]any{"matchLabels": map[string]string{"env": "prod"}},
	}))
	create := func(doc string) error {
		obj := mustDecode(t, doc)
		return admit(context.Background(), chain, &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "namespaces"), Name: obj.MetaString("name"), Object: obj})
	}
	if err := create(`{"metadata":{"name":"dev","labels":{"env":"dev"}}}`); err != nil {
		t.Errorf("namespace dev: %v", err)
	}
	if err := create(`{"metadata":{"name":"prod","labels":{"env":"prod"}}}`); err == nil || !strings.Contains(err.Error(), "no prod namespaces") {
		t.Errorf("namespace prod: %v; want the webhook's 403", err)
	}
}

// A caBundle that is not PEM, or that does not sign the server's
// certificate, makes the call fail.
func TestWebhookTrustsOnlyItsCABundle(t *testing.T) {
	tests := []struct {
		name     string
		caBundle func(w *fakeWebhook) []byte
		want     string
	}{
		{"not PEM", func(*fakeWebhook) []byte { return []byte("not a certificate") }, "clientConfig.caBundle holds no PEM certificate"},
		{"no caBundle: the system's roots", func(*fakeWebhook) []byte { return nil }, "certificate signed by unknown authority"},
		{"its own", func(w *fakeWebhook) []byte { return w.caBundle }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps := newDeps(t)
			w := startWebhook(t, allowAll)
			var hook webhook
			if err := remarshal(hookFor("hook.example.com", w.srv.URL, tt.caBundle(w), nil), &hook); err != nil {
				t.Fatal(err)
			}
			a := &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "configmaps"), Namespace: "default", Name: "settings",
				Object: mustDecode(t, configMap("settings", ""))}
			_, err := (&webhooks{deps: deps}).post(context.Background(), hook, a)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("post: %v, want success", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("post: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestApplyJSONPatch(t *testing.T) {
	obj := mustDecode(t, `{"metadata":{"name":"settings","labels":{"app":"web"}},"data":{"n":1}}`)
	patched, err := applyJSONPatch(obj, []byte(`[{"op":"add","path":"/metadata/labels/env","value":"prod"},{"op":"remove","path":"/data"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := encode(patched), `{"metadata":{"labels":{"app":"web","env":"prod"},"name":"settings"}}`; got != want {
		t.Errorf("patched = %s, want %s", got, want)
	}
	if encode(obj) != `{"data":{"n":1},"metadata":{"labels":{"app":"web"},"name":"settings"}}` {
		t.Errorf("the original changed: %s", encode(obj))
	}
	for _, patch := range []string{
		`{"op":"add"}`, // not a list
		`[{"op":"replace","path":"/spec/x","value":1}]`, // a missing path
		`[{"op":"add","path":"","value":[1]}]`,          // not an object any more
		`[{"op":"add","path":"","value":null}]`,
	} {
		if _, err := applyJSONPatch(obj, []byte(patch)); err == nil {
			t.Errorf("applyJSONPatch(%s) succeeded, want an error", patch)
		}
	}
}

// A configuration that does not decode is skipped; the others still apply.
func TestWebhookConfigurationThatDoesNotDecode(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	w := startWebhook(t, addLabelPatch)
	storeObjects(t, deps, "admissionregistration.k8s.io", "mutatingwebhookconfigurations", `{"metadata":{"name":"a-broken"},"webhooks":"not a list"}`)
	configure(t, deps, true, "b-good", hookFor("hook.example.com", w.srv.URL, w.caBundle, nil))
	obj, err := createConfigMap(t, chain, deps, configMap("settings", ""))
	if err != nil || obj.Labels()["mutated"] != "yes" {
		t.Errorf("admit: %v, labels %v; want the good webhook's label", err, obj.Labels())
	}
}
