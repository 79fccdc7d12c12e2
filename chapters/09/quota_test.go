package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
)

func TestQuotaKeys(t *testing.T) {
	reg := newRegistry(builtinResources())
	tests := []struct {
		group, resource string
		want            []string
	}{
		{"", "pods", []string{"count/pods", "pods"}},
		{"", "configmaps", []string{"count/configmaps", "configmaps"}},
		{"", "secrets", []string{"count/secrets", "secrets"}},
		{"", "services", []string{"count/services", "services"}},
		{"", "resourcequotas", []string{"count/resourcequotas", "resourcequotas"}},
		{"", "serviceaccounts", []string{"count/serviceaccounts"}}, // no bare name for these
		{"batch", "jobs", []string{"count/jobs.batch"}},
		{rbacGroup, "roles", []string{"count/roles.rbac.authorization.k8s.io"}},
	}
	for _, tt := range tests {
		if got := quotaKeys(reg.lookup(tt.group, tt.resource)); !slices.Equal(got, tt.want) {
			t.Errorf("quotaKeys(%s) = %q, want %q", tt.resource, got, tt.want)
		}
	}
}

func TestQuantity(t *testing.T) {
	tests := []struct {
		in     any
		want   int64
		wantOK bool
	}{
		{"10", 10, true},
		{"0", 0, true},
		{json.Number("3"), 3, true}, // a number in decoded JSON
		{json.Number("2.5"), 0, false},
		{"1k", 0, false}, // suffixes are beyond this chapter
		{"1.5", 0, false},
		{"", 0, false},
		{nil, 0, false},
		{true, 0, false},
	}
	for _, tt := range tests {
		got, ok := quantity(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("quantity(%#v) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

// storeObjects puts objects straight into the server's store, skipping admission.
func storeObjects(t *testing.T, s *server, group, resource string, docs ...string) {
	t.Helper()
	for _, doc := range docs {
		if _, err := s.store.create(s.registry.lookup(group, resource), mustDecode(t, doc)); err != nil {
			t.Fatalf("storing %s: %v", doc, err)
		}
	}
}

func quotaDoc(namespace, name, hard string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":%q,"namespace":%q},"spec":{"hard":%s}}`, name, namespace, hard)
}

func namedDoc(namespace, name string) string {
	return fmt.Sprintf(`{"metadata":{"name":%q,"namespace":%q}}`, name, namespace)
}

func TestResourceQuotaValidate(t *testing.T) {
	s, _ := newAdmissionServer(t, "", "")
	storeObjects(t, s, "", "resourcequotas",
		quotaDoc("small", "one-pod", `{"pods":"1","cpu":"2"}`),
		quotaDoc("small", "two-configmaps", `{"count/configmaps":2}`),
		quotaDoc("small", "jobs", `{"count/jobs.batch":"1"}`))
	storeObjects(t, s, "", "pods", namedDoc("small", "web"))
	storeObjects(t, s, "", "configmaps", namedDoc("small", "a"), namedDoc("other", "b"), namedDoc("other", "c"))

	tests := []struct {
		name, operation, group, resource, namespace, object string
		wantMessage                                         string // "" allowed
	}{
		{name: "at the limit", operation: "CREATE", resource: "pods", namespace: "small", object: "web-2",
			wantMessage: `pods "web-2" is forbidden: exceeded quota: one-pod, requested: pods=1, used: pods=1, limited: pods=1`},
		{name: "under the limit", operation: "CREATE", resource: "configmaps", namespace: "small", object: "b"},
		{name: "count/<resource>.<group>", operation: "CREATE", group: "batch", resource: "jobs", namespace: "small", object: "backup"},
		{name: "updates are not counted", operation: "UPDATE", resource: "pods", namespace: "small", object: "web"},
		{name: "deletes are not counted", operation: "DELETE", resource: "pods", namespace: "small", object: "web"},
		{name: "another namespace has no quota", operation: "CREATE", resource: "pods", namespace: "other", object: "web"},
		{name: "an uncounted resource", operation: "CREATE", resource: "secrets", namespace: "small", object: "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &admissionAttributes{operation: tt.operation, resource: s.registry.lookup(tt.group, tt.resource),
				namespace: tt.namespace, name: tt.object, object: mustDecode(t, namedDoc(tt.namespace, tt.object))}
			err := resourceQuota{s}.validate(a)
			if tt.wantMessage == "" {
				if err != nil {
					t.Errorf("validate: %v, want nil", err)
				}
				return
			}
			var se *statusError
			if !errors.As(err, &se) || se.code != http.StatusForbidden || se.message != tt.wantMessage {
				t.Errorf("validate: %v\nwant a 403 %s", err, tt.wantMessage)
			}
		})
	}

	// One more configmap fills two-configmaps; the next is refused, counted
	// under the key the quota uses.
	storeObjects(t, s, "", "configmaps", namedDoc("small", "b"))
	a := &admissionAttributes{operation: "CREATE", resource: s.registry.lookup("", "configmaps"), namespace: "small", name: "c"}
	const want = `configmaps "c" is forbidden: exceeded quota: two-configmaps, requested: count/configmaps=1, used: count/configmaps=2, limited: count/configmaps=2`
	if err := (resourceQuota{s}).validate(a); err == nil || err.Error() != want {
		t.Errorf("the third configmap: %v\nwant %s", err, want)
	}
}

func TestResourceQuotaRefresh(t *testing.T) {
	s, _ := newAdmissionServer(t, "", "")
	quotas := s.registry.lookup("", "resourcequotas")
	storeObjects(t, s, "", "resourcequotas", quotaDoc("small", "counts", `{"pods":"5","count/configmaps":"5","count/jobs.batch":"1","cpu":"2"}`))
	storeObjects(t, s, "", "pods", namedDoc("small", "web"))
	storeObjects(t, s, "", "configmaps", namedDoc("small", "a"), namedDoc("small", "b"), namedDoc("other", "c"))

	resourceQuota{s}.refresh("small")
	q, _ := s.store.get(quotas, "small", "counts")
	if got, want := encode(field(q, "status", "used")), `{"count/configmaps":"2","count/jobs.batch":"0","pods":"1"}`; got != want {
		t.Errorf("status.used = %s, want %s", got, want)
	}
	if got, want := encode(field(q, "status", "hard")), `{"count/configmaps":"5","count/jobs.batch":"1","cpu":"2","pods":"5"}`; got != want {
		t.Errorf("status.hard = %s, want %s", got, want)
	}

	// status follows spec.hard when it changes: a key removed from spec.hard
	// leaves status.hard and status.used.
	if _, err := s.store.update(quotas, "small", "counts", func(current object) (object, error) {
		return applyPatch(quotas, "application/merge-patch+json", current, []byte(`{"spec":{"hard":{"count/configmaps":null,"cpu":null}}}`))
	}); err != nil {
		t.Fatal(err)
	}
	resourceQuota{s}.refresh("small")
	q, _ = s.store.get(quotas, "small", "counts")
	if got, want := encode(field(q, "status")), `{"hard":{"count/jobs.batch":"1","pods":"5"},"used":{"count/jobs.batch":"0","pods":"1"}}`; got != want {
		t.Errorf("after spec.hard lost two keys, status = %s, want %s", got, want)
	}
}

// Through the handler: pods are created until the quota refuses one,
// status.used follows, and a delete makes room again.
func TestResourceQuotaThroughTheHandler(t *testing.T) {
	h := newTestServer()
	const pods = "/api/v1/namespaces/small/pods"
	const quota = "/api/v1/namespaces/small/resourcequotas/two-pods"
	mustCreate(t, h, namespacesPath, `{"metadata":{"name":"small"}}`)
	mustCreate(t, h, "/api/v1/namespaces/small/resourcequotas", `{"metadata":{"name":"two-pods"},"spec":{"hard":{"pods":"2"}}}`)
	pod := func(name string) string {
		return `{"metadata":{"name":"` + name + `"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`
	}
	used := func() any {
		_, q := call(t, h, "GET", quota, "", "")
		return at(q, "status", "used", "pods")
	}
	if got := used(); got != "0" {
		t.Errorf("a new quota: status.used.pods = %v, want 0", got)
	}

	created := 0
	for i := range 5 {
		code, status := call(t, h, "POST", pods, "application/json", pod(fmt.Sprint("web-", i)))
		if code == http.StatusCreated {
			created++
			continue
		}
		want := `pods "web-2" is forbidden: exceeded quota: two-pods, requested: pods=1, used: pods=2, limited: pods=2`
		if code != http.StatusForbidden || status["reason"] != "Forbidden" || status["message"] != want {
			t.Fatalf("pod %d: %d %v\nwant 403 %s", i, code, status, want)
		}
		break
	}
	if created != 2 || used() != "2" {
		t.Fatalf("created %d pods, status.used.pods %v; want 2 and 2", created, used())
	}
	if _, q := call(t, h, "GET", quota, "", ""); at(q, "status", "hard", "pods") != "2" {
		t.Errorf("status.hard = %v, want pods: 2", at(q, "status", "hard"))
	}
	// Other namespaces and other resources are not limited.
	mustCreate(t, h, "/api/v1/namespaces/default/pods", pod("web-2"))
	mustCreate(t, h, "/api/v1/namespaces/small/configmaps", configMap("settings", ""))

	if code, status := call(t, h, "DELETE", pods+"/web-0", "", ""); code != http.StatusOK {
		t.Fatalf("DELETE: %d %v", code, status)
	}
	if got := used(); got != "1" {
		t.Errorf("after a delete: status.used.pods = %v, want 1", got)
	}
	mustCreate(t, h, pods, pod("web-2"))
	if got := used(); got != "2" {
		t.Errorf("after the create that fits again: status.used.pods = %v, want 2", got)
	}

	// Editing spec.hard rewrites status: the key that went is gone from it.
	if code, status := call(t, h, "PATCH", quota, mergePatchType, `{"spec":{"hard":{"pods":null,"count/pods":"3"}}}`); code != http.StatusOK {
		t.Fatalf("PATCH the quota: %d %v", code, status)
	}
	if _, q := call(t, h, "GET", quota, "", ""); encode(q["status"]) != `{"hard":{"count/pods":"3"},"used":{"count/pods":"2"}}` {
		t.Errorf("after the edit, status = %s, want only count/pods", encode(q["status"]))
	}
}

// Without the plugin, nothing is limited and status is not kept.
func TestResourceQuotaDisabled(t *testing.T) {
	_, h := newAdmissionServer(t, "", "ResourceQuota")
	mustCreate(t, h, "/api/v1/namespaces/default/resourcequotas", `{"metadata":{"name":"none"},"spec":{"hard":{"count/configmaps":"0"}}}`)
	mustCreate(t, h, configMapsPath, configMap("settings", ""))
	if _, q := call(t, h, "GET", "/api/v1/namespaces/default/resourcequotas/none", "", ""); q["status"] != nil {
		t.Errorf("status = %v, want none", q["status"])
	}
}
