package main

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
)

func TestLabelSelectorSpecMatches(t *testing.T) {
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
		var sel *labelSelectorSpec
		if err := json.Unmarshal([]byte(tt.selector), &sel); err != nil {
			t.Fatalf("bad selector in test: %v", err)
		}
		if got := sel.matches(tt.labels); got != tt.want {
			t.Errorf("%s matches %v = %v, want %v", tt.selector, tt.labels, got, tt.want)
		}
	}
}

func TestWebhookSelects(t *testing.T) {
	s, _ := newAdmissionServer(t, "", "")
	storeObjects(t, s, "", "namespaces",
		`{"metadata":{"name":"prod","labels":{"env":"prod"}}}`,
		`{"metadata":{"name":"dev","labels":{"env":"dev"}}}`)
	w := &webhooks{s: s, mutating: true}

	const (
		configMapRule  = `"rules":[{"operations":["CREATE"],"apiGroups":[""],"apiVersions":["v1"],"resources":["configmaps"]}]`
		everythingRule = `"rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"]}]`
		inProd         = `"namespaceSelector":{"matchLabels":{"env":"prod"}}`
		webObjects     = `"objectSelector":{"matchLabels":{"app":"web"}}`
	)
	type request struct {
		operation, group, resource, namespace, name string
		object, oldObject                           string // "" for none
	}
	createConfigMap := request{"CREATE", "", "configmaps", "prod", "settings", `{"metadata":{"name":"settings"}}`, ""}
	with := func(r request, change func(*request)) request { change(&r); return r }
	tests := []struct {
		name    string
		hook    string
		request request
		want    bool
	}{
		{"the rule matches", configMapRule, createConfigMap, true},
		{"another operation", configMapRule, with(createConfigMap, func(r *request) { r.operation = "UPDATE" }), false},
		{"another resource", configMapRule, with(createConfigMap, func(r *request) { r.resource = "secrets" }), false},
		{"another group", configMapRule, with(createConfigMap, func(r *request) { r.group, r.resource = "batch", "jobs" }), false},
		{"another version", `"rules":[{"operations":["CREATE"],"apiGroups":[""],"apiVersions":["v2"],"resources":["configmaps"]}]`, createConfigMap, false},
		{"wildcards", everythingRule, with(createConfigMap, func(r *request) { r.operation, r.group, r.resource = "DELETE", "batch", "jobs" }), true},
		{"the second rule matches", `"rules":[{"operations":["UPDATE"],"apiGroups":[""],"apiVersions":["v1"],"resources":["configmaps"]},
			{"operations":["CREATE"],"apiGroups":["batch"],"apiVersions":["v1"],"resources":["jobs"]}]`,
			with(createConfigMap, func(r *request) { r.group, r.resource = "batch", "jobs" }), true},
		{"no rules", `"rules":[]`, createConfigMap, false},
		{"scope Namespaced, a namespaced resource", `"rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"],"scope":"Namespaced"}]`,
			createConfigMap, true},
		{"scope Namespaced, a cluster-scoped resource", `"rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"],"scope":"Namespaced"}]`,
			request{"CREATE", "", "namespaces", "", "team", `{"metadata":{"name":"team"}}`, ""}, false},
		{"scope Cluster, a cluster-scoped resource", `"rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"],"scope":"Cluster"}]`,
			request{"CREATE", "", "namespaces", "", "team", `{"metadata":{"name":"team"}}`, ""}, true},
		{"scope Cluster, a namespaced resource", `"rules":[{"operations":["*"],"apiGroups":["*"],"apiVersions":["*"],"resources":["*"],"scope":"Cluster"}]`,
			createConfigMap, false},

		// namespaceSelector: the labels of the object's namespace.
		{"namespaceSelector, a matching namespace", everythingRule + "," + inProd, createConfigMap, true},
		{"namespaceSelector, another namespace", everythingRule + "," + inProd, with(createConfigMap, func(r *request) { r.namespace = "dev" }), false},
		{"namespaceSelector, a missing namespace", everythingRule + "," + inProd, with(createConfigMap, func(r *request) { r.namespace = "gone" }), false},
		{"namespaceSelector on its kubernetes.io/metadata.name", everythingRule + `,"namespaceSelector":{"matchExpressions":[{"key":"kubernetes.io/metadata.name","operator":"NotIn","values":["kube-system"]}]}`,
			with(createConfigMap, func(r *request) { r.namespace = "kube-system" }), false}, // bootstrap namespaces carry the label too
		{"namespaceSelector, a cluster-scoped object passes", everythingRule + "," + inProd,
			request{"CREATE", rbacGroup, "clusterroles", "", "reader", `{"metadata":{"name":"reader"}}`, ""}, true},
		// For a namespace, the labels of the namespace in the request, as
		// Kubernetes does: on create there is no stored one yet.
		{"namespaceSelector, creating a matching namespace", everythingRule + "," + inProd,
			request{"CREATE", "", "namespaces", "", "team", `{"metadata":{"name":"team","labels":{"env":"prod"}}}`, ""}, true},
		{"namespaceSelector, creating another namespace", everythingRule + "," + inProd,
			request{"CREATE", "", "namespaces", "", "team", `{"metadata":{"name":"team","labels":{"env":"dev"}}}`, ""}, false},
		{"namespaceSelector, relabelling a namespace into the selection", everythingRule + "," + inProd,
			request{"UPDATE", "", "namespaces", "", "dev", `{"metadata":{"name":"dev","labels":{"env":"prod"}}}`, `{"metadata":{"name":"dev","labels":{"env":"dev"}}}`}, true},
		{"namespaceSelector, deleting a matching namespace", everythingRule + "," + inProd,
			request{"DELETE", "", "namespaces", "", "prod", "", `{"metadata":{"name":"prod","labels":{"env":"prod"}}}`}, true},

		// objectSelector: the object's labels, or the old object's.
		{"objectSelector, a matching object", everythingRule + "," + webObjects,
			with(createConfigMap, func(r *request) { r.object = `{"metadata":{"labels":{"app":"web"}}}` }), true},
		{"objectSelector, another object", everythingRule + "," + webObjects, createConfigMap, false},
		{"objectSelector, the old object matches", everythingRule + "," + webObjects,
			with(createConfigMap, func(r *request) { r.operation, r.oldObject = "UPDATE", `{"metadata":{"labels":{"app":"web"}}}` }), true},
		{"objectSelector, a deleted object", everythingRule + "," + webObjects,
			with(createConfigMap, func(r *request) {
				r.operation, r.object, r.oldObject = "DELETE", "", `{"metadata":{"labels":{"app":"web"}}}`
			}), true},
		{"objectSelector, neither matches", everythingRule + "," + webObjects,
			with(createConfigMap, func(r *request) { r.operation, r.oldObject = "UPDATE", `{"metadata":{"labels":{"app":"db"}}}` }), false},
		{"both selectors must match", everythingRule + "," + inProd + "," + webObjects,
			with(createConfigMap, func(r *request) { r.namespace, r.object = "dev", `{"metadata":{"labels":{"app":"web"}}}` }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hook webhook
			if err := json.Unmarshal([]byte(`{"name":"hook",`+tt.hook+`}`), &hook); err != nil {
				t.Fatalf("bad hook in test: %v", err)
			}
			r := tt.request
			a := &admissionAttributes{operation: r.operation, resource: s.registry.lookup(r.group, r.resource), namespace: r.namespace, name: r.name}
			if r.object != "" {
				a.object = mustDecode(t, r.object)
			}
			if r.oldObject != "" {
				a.oldObject = mustDecode(t, r.oldObject)
			}
			if got := w.selects(hook, a); got != tt.want {
				t.Errorf("selects = %v, want %v", got, tt.want)
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

// configure creates a Mutating- or ValidatingWebhookConfiguration through the API.
func configure(t *testing.T, h http.Handler, mutating bool, name string, hooks ...map[string]any) {
	t.Helper()
	kind, path := "ValidatingWebhookConfiguration", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
	if mutating {
		kind, path = "MutatingWebhookConfiguration", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
	}
	mustCreate(t, h, path, encode(map[string]any{"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
		"metadata": map[string]any{"name": name}, "webhooks": hooks}))
}

func allowAll(map[string]any) map[string]any { return map[string]any{"allowed": true} }

func addLabelPatch(map[string]any) map[string]any {
	return map[string]any{"allowed": true, "patchType": "JSONPatch",
		"patch": []byte(`[{"op":"add","path":"/metadata/labels/mutated","value":"yes"}]`)}
}

// Each case configures one webhook against a fresh server and creates a
// configmap; the webhook's answer, or its failure, decides the outcome.
func TestWebhooksEndToEnd(t *testing.T) {
	tests := []struct {
		name        string
		mutating    bool
		answer      func(request map[string]any) map[string]any
		extra       map[string]any
		url         func(w *fakeWebhook) string // default: the webhook's URL
		wantCode    int
		wantReason  string
		wantMessage string // a part of the Status message
		wantCalls   int
		wantLabels  string // of the created configmap
	}{
		{name: "a validating webhook allows", answer: allowAll,
			wantCode: http.StatusCreated, wantCalls: 1, wantLabels: `{}`},
		{name: "a mutating webhook allows", mutating: true, answer: allowAll,
			wantCode: http.StatusCreated, wantCalls: 1, wantLabels: `{}`},
		{name: "a validating webhook denies with its message and code",
			answer: func(map[string]any) map[string]any {
				return map[string]any{"allowed": false, "status": map[string]any{"code": 400, "reason": "BadRequest", "message": "no settings here"}}
			},
			wantCode: http.StatusBadRequest, wantReason: "BadRequest", wantCalls: 1,
			wantMessage: `admission webhook "hook.example.com" denied the request: no settings here`},
		{name: "a mutating webhook denies", mutating: true,
			answer: func(map[string]any) map[string]any {
				return map[string]any{"allowed": false, "status": map[string]any{"code": 403, "message": "not today"}}
			},
			wantCode: http.StatusForbidden, wantReason: "Forbidden", wantCalls: 1,
			wantMessage: `admission webhook "hook.example.com" denied the request: not today`},
		{name: "a denial with no status is a 400 without explanation",
			answer:   func(map[string]any) map[string]any { return map[string]any{"allowed": false} },
			wantCode: http.StatusBadRequest, wantReason: "BadRequest", wantCalls: 1,
			wantMessage: `admission webhook "hook.example.com" denied the request without explanation`},
		{name: "a denial with only a reason shows the reason",
			answer: func(map[string]any) map[string]any {
				return map[string]any{"allowed": false, "status": map[string]any{"reason": "NoSettings"}}
			},
			wantCode: http.StatusBadRequest, wantReason: "NoSettings", wantCalls: 1,
			wantMessage: `admission webhook "hook.example.com" denied the request: NoSettings`},
		{name: "a mutating webhook's JSON patch is applied", mutating: true, answer: addLabelPatch,
			wantCode: http.StatusCreated, wantCalls: 1, wantLabels: `{"mutated":"yes"}`},
		{name: "a mutating webhook's patch is validated after it",
			mutating: true,
			answer: func(map[string]any) map[string]any {
				return map[string]any{"allowed": true, "patchType": "JSONPatch",
					"patch": []byte(`[{"op":"add","path":"/metadata/labels/mutated","value":"not valid!"}]`)}
			},
			wantCode: http.StatusUnprocessableEntity, wantReason: "Invalid", wantCalls: 1, wantMessage: "metadata.labels.mutated: Invalid value"},
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
		{name: "a closed server, failurePolicy Fail", answer: allowAll, extra: map[string]any{"failurePolicy": "Fail"},
			url:      func(w *fakeWebhook) string { w.srv.Close(); return w.srv.URL },
			wantCode: http.StatusInternalServerError, wantReason: "InternalError", wantCalls: 0,
			wantMessage: `Internal error occurred: failed calling webhook "hook.example.com"`},
		{name: "a closed server, no failurePolicy means Fail", answer: allowAll,
			url:      func(w *fakeWebhook) string { w.srv.Close(); return w.srv.URL },
			wantCode: http.StatusInternalServerError, wantReason: "InternalError", wantCalls: 0,
			wantMessage: `failed calling webhook "hook.example.com"`},
		{name: "a closed server, failurePolicy Ignore", mutating: true, answer: allowAll, extra: map[string]any{"failurePolicy": "Ignore"},
			url:      func(w *fakeWebhook) string { w.srv.Close(); return w.srv.URL },
			wantCode: http.StatusCreated, wantCalls: 0, wantLabels: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestServer()
			w := startWebhook(t, tt.answer)
			url := w.srv.URL
			if tt.url != nil {
				url = tt.url(w)
			}
			configure(t, h, tt.mutating, "config", hookFor("hook.example.com", url, w.caBundle, tt.extra))

			code, obj := call(t, h, "POST", configMapsPath, "application/json", configMap("settings", ""))
			if code != tt.wantCode {
				t.Fatalf("POST: %d %v, want %d", code, obj, tt.wantCode)
			}
			if tt.wantReason != "" && obj["reason"] != tt.wantReason {
				t.Errorf("reason = %v, want %s", obj["reason"], tt.wantReason)
			}
			if msg, _ := obj["message"].(string); !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMessage)
			}
			// Each webhook runs in its own phase only, so once per request.
			if got := len(w.received()); got != tt.wantCalls {
				t.Errorf("the webhook was called %d times, want %d", got, tt.wantCalls)
			}
			getCode, stored := call(t, h, "GET", configMapsPath+"/settings", "", "")
			switch {
			case code == http.StatusCreated && (getCode != http.StatusOK || encode(at(stored, "metadata", "labels")) != tt.wantLabels):
				t.Errorf("stored: %d, labels %v; want 200 and labels %s", getCode, at(stored, "metadata", "labels"), tt.wantLabels)
			case code != http.StatusCreated && getCode != http.StatusNotFound:
				t.Errorf("a refused configmap was stored: %v", stored)
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

			s, h := newAdmissionServer(t, "", "")
			configure(t, h, false, "config", hookFor("hook.example.com", w.srv.URL, w.caBundle,
				map[string]any{"timeoutSeconds": 1, "failurePolicy": policy}))
			a := &admissionAttributes{operation: "CREATE", resource: s.registry.lookup("", "configmaps"), namespace: "default", name: "settings",
				object: mustDecode(t, configMap("settings", ""))}
			var hook webhook
			if err := remarshal(hookFor("hook.example.com", w.srv.URL, w.caBundle, map[string]any{"timeoutSeconds": 1}), &hook); err != nil {
				t.Fatal(err)
			}
			if _, err := (&webhooks{s: s}).post(hook, a); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("post: %v, want the deadline exceeded", err)
			}

			code, status := call(t, h, "POST", configMapsPath, "application/json", configMap("settings", ""))
			if policy == "Fail" && (code != http.StatusInternalServerError || !strings.Contains(status["message"].(string), `failed calling webhook "hook.example.com"`)) {
				t.Errorf("POST: %d %v; want 500 failed calling webhook", code, status)
			}
			if policy == "Ignore" && code != http.StatusCreated {
				t.Errorf("POST: %d %v; want 201", code, status)
			}
		})
	}
}

// The AdmissionReview names the request; UPDATE and DELETE send the object
// as it was in oldObject.
func TestWebhookAdmissionReview(t *testing.T) {
	h := newTestServer()
	w := startWebhook(t, allowAll)
	configure(t, h, false, "config", hookFor("hook.example.com", w.srv.URL, w.caBundle, map[string]any{
		"rules": []any{map[string]any{"operations": []string{"*"}, "apiGroups": []string{""}, "apiVersions": []string{"v1"}, "resources": []string{"configmaps"}}}}))

	mustCreate(t, h, configMapsPath, configMap("settings", `"app":"web"`))
	if code, obj := call(t, h, "PATCH", configMapsPath+"/settings", mergePatchType, `{"data":{"k":"new"}}`); code != http.StatusOK {
		t.Fatalf("PATCH: %d %v", code, obj)
	}
	if code, obj := call(t, h, "DELETE", configMapsPath+"/settings", "", ""); code != http.StatusOK {
		t.Fatalf("DELETE: %d %v", code, obj)
	}

	reviews := w.received()
	if len(reviews) != 3 {
		t.Fatalf("the webhook received %d reviews, want 3 (create, update, delete)", len(reviews))
	}
	tests := []struct {
		operation, objectData, oldObjectData string
	}{
		{"CREATE", `{"k":"v"}`, "null"},
		{"UPDATE", `{"k":"new"}`, `{"k":"v"}`},
		{"DELETE", "null", `{"k":"new"}`},
	}
	uids := map[any]bool{}
	for i, tt := range tests {
		review := reviews[i]
		if review["apiVersion"] != "admission.k8s.io/v1" || review["kind"] != "AdmissionReview" {
			t.Errorf("%s: apiVersion %v, kind %v; want admission.k8s.io/v1 AdmissionReview", tt.operation, review["apiVersion"], review["kind"])
		}
		request, _ := review["request"].(map[string]any)
		if got := encode(map[string]any{"operation": request["operation"], "name": request["name"], "namespace": request["namespace"],
			"kind": request["kind"], "resource": request["resource"]}); got != encode(map[string]any{"operation": tt.operation, "name": "settings", "namespace": "default",
			"kind":     map[string]any{"group": "", "version": "v1", "kind": "ConfigMap"},
			"resource": map[string]any{"group": "", "version": "v1", "resource": "configmaps"}}) {
			t.Errorf("%s: request = %s", tt.operation, got)
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

// Mutating webhooks run before validating ones, which see their patches;
// within a phase, configurations run in name order and a denial stops the rest.
func TestWebhookPhasesAndOrder(t *testing.T) {
	h := newTestServer()
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
		return map[string]any{"allowed": false, "status": map[string]any{"message": "b says no"}}
	}
	mutator := startWebhook(t, record("mutating", addLabelPatch))
	a := startWebhook(t, record("validating a", allowAll))
	b := startWebhook(t, record("validating b", deny))
	c := startWebhook(t, record("validating c", allowAll))
	// Created out of order: the names decide.
	configure(t, h, false, "c", hookFor("c.example.com", c.srv.URL, c.caBundle, nil))
	configure(t, h, false, "b", hookFor("b.example.com", b.srv.URL, b.caBundle, nil))
	configure(t, h, false, "a", hookFor("a.example.com", a.srv.URL, a.caBundle, nil))
	configure(t, h, true, "z", hookFor("mutating.example.com", mutator.srv.URL, mutator.caBundle, nil))

	code, status := call(t, h, "POST", configMapsPath, "application/json", configMap("settings", ""))
	// A denial without a code is a 400, as Kubernetes makes it.
	if code != http.StatusBadRequest || status["message"] != `admission webhook "b.example.com" denied the request: b says no` {
		t.Errorf("POST: %d %v; want 400 from b.example.com", code, status)
	}
	want := []string{`mutating sees {}`, `validating a sees {"mutated":"yes"}`, `validating b sees {"mutated":"yes"}`}
	if !slices.Equal(calls, want) {
		t.Errorf("calls = %q\nwant    %q", calls, want)
	}
}

// Through the handler, a namespaceSelector on the new namespace's labels
// sends its creation to the webhook.
func TestWebhookOnNamespaceCreation(t *testing.T) {
	h := newTestServer()
	w := startWebhook(t, func(map[string]any) map[string]any {
		return map[string]any{"allowed": false, "status": map[string]any{"code": 403, "message": "no prod namespaces"}}
	})
	configure(t, h, false, "config", hookFor("hook.example.com", w.srv.URL, w.caBundle, map[string]any{
		"rules":             []any{map[string]any{"operations": []string{"CREATE"}, "apiGroups": []string{""}, "apiVersions": []string{"v1"}, "resources": []string{"namespaces"}}},
		"namespaceSelector": map[string]any{"matchLabels": map[string]string{"env": "prod"}},
	}))
	mustCreate(t, h, namespacesPath, `{"metadata":{"name":"dev","labels":{"env":"dev"}}}`)
	code, status := call(t, h, "POST", namespacesPath, "application/json", `{"metadata":{"name":"prod","labels":{"env":"prod"}}}`)
	if code != http.StatusForbidden || !strings.Contains(status["message"].(string), "no prod namespaces") {
		t.Errorf("POST namespace prod: %d %v; want the webhook's 403", code, status)
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
		{"no caBundle", func(*fakeWebhook) []byte { return nil }, "certificate signed by unknown authority"},
		{"its own", func(w *fakeWebhook) []byte { return w.caBundle }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newAdmissionServer(t, "", "")
			w := startWebhook(t, allowAll)
			var hook webhook
			if err := remarshal(hookFor("hook.example.com", w.srv.URL, tt.caBundle(w), nil), &hook); err != nil {
				t.Fatal(err)
			}
			a := &admissionAttributes{operation: "CREATE", resource: s.registry.lookup("", "configmaps"), namespace: "default", name: "settings",
				object: mustDecode(t, configMap("settings", ""))}
			_, err := (&webhooks{s: s}).post(hook, a)
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

// A mutating webhook may change an object, but not move it: a patch that
// puts it in another namespace, or renames it, is refused with 400 and
// nothing is stored where the webhook pointed.
func TestWebhookCannotMoveAnObject(t *testing.T) {
	for _, tt := range []struct{ name, patch string }{
		{"namespace", `[{"op":"replace","path":"/metadata/namespace","value":"kube-system"}]`},
		{"name", `[{"op":"replace","path":"/metadata/name","value":"elsewhere"}]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, h := newAdmissionServer(t, "", "")
			mustCreate(t, h, configMapsPath, configMap("settings", ""))
			hook := startWebhook(t, func(map[string]any) map[string]any {
				return map[string]any{"allowed": true, "patchType": "JSONPatch", "patch": []byte(tt.patch)}
			})
			configure(t, h, true, "mover", hookFor("mover.example.com", hook.srv.URL, hook.caBundle, nil))

			if code, status := call(t, h, "POST", configMapsPath, "application/json", configMap("moved", "")); code != http.StatusBadRequest || status["reason"] != "BadRequest" {
				t.Errorf("create: %d %v, want 400 BadRequest", code, status)
			}
			if code, status := call(t, h, "PATCH", configMapsPath+"/settings", "application/merge-patch+json", `{"data":{"k":"v"}}`); code != http.StatusBadRequest {
				t.Errorf("update: %d %v, want 400", code, status)
			}
			for _, path := range []string{"/api/v1/namespaces/kube-system/configmaps/moved", "/api/v1/namespaces/default/configmaps/elsewhere",
				"/api/v1/namespaces/kube-system/configmaps/settings"} {
				if code, _ := call(t, h, "GET", path, "", ""); code != http.StatusNotFound {
					t.Errorf("%s exists after a refused move (HTTP %d)", path, code)
				}
			}
		})
	}
}
