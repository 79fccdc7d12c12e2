package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

func TestQuotaKeys(t *testing.T) {
	reg := registry.New(testResources(), object.ValidateDNS1123Subdomain)
	tests := []struct {
		res  *registry.Resource
		want []string
	}{
		{reg.Lookup("", "pods"), []string{"count/pods", "pods"}},
		{reg.Lookup("", "configmaps"), []string{"count/configmaps", "configmaps"}},
		{reg.Lookup("", "secrets"), []string{"count/secrets", "secrets"}},
		{reg.Lookup("", "services"), []string{"count/services", "services"}},
		{reg.Lookup("", "resourcequotas"), []string{"count/resourcequotas", "resourcequotas"}},
		{reg.Lookup("", "serviceaccounts"), []string{"count/serviceaccounts"}}, // no bare name for these
		{reg.Lookup("batch", "jobs"), []string{"count/jobs.batch"}},
		{reg.Lookup("rbac.authorization.k8s.io", "roles"), []string{"count/roles.rbac.authorization.k8s.io"}},
		{&registry.Resource{Group: "example.com", Version: "v1", Name: "widgets", Kind: "Widget", Namespaced: true, Custom: struct{}{}},
			[]string{"count/widgets.example.com"}},
	}
	for _, tt := range tests {
		if got := quotaKeys(tt.res); !slices.Equal(got, tt.want) {
			t.Errorf("quotaKeys(%s) = %q, want %q", tt.res.Name, got, tt.want)
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
		{"1k", 0, false}, // suffixes are beyond this server
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

func quotaDoc(namespace, name, hard string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":%q,"namespace":%q},"spec":{"hard":%s}}`, name, namespace, hard)
}

func namedDoc(namespace, name string) string {
	return fmt.Sprintf(`{"metadata":{"name":%q,"namespace":%q}}`, name, namespace)
}

func TestResourceQuotaValidate(t *testing.T) {
	chain, deps := newTestChain(t, "", "NamespaceLifecycle,ServiceAccount")
	storeObjects(t, deps, "", "resourcequotas",
		quotaDoc("small", "one-pod", `{"pods":"1","cpu":"2"}`),
		quotaDoc("small", "two-configmaps", `{"count/configmaps":2}`),
		quotaDoc("small", "jobs", `{"count/jobs.batch":"1"}`),
		quotaDoc("small", "no-sa", `{"count/serviceaccounts":"0"}`))
	storeObjects(t, deps, "", "pods", namedDoc("small", "web"))
	storeObjects(t, deps, "", "configmaps", namedDoc("small", "a"), namedDoc("other", "b"), namedDoc("other", "c"))

	tests := []struct {
		name, operation, group, resource, subresource, namespace, object string
		wantMessage                                                      string // "" allowed
	}{
		{name: "at the limit", operation: Create, resource: "pods", namespace: "small", object: "web-2",
			wantMessage: `pods "web-2" is forbidden: exceeded quota: one-pod, requested: pods=1, used: pods=1, limited: pods=1`},
		{name: "under the limit", operation: Create, resource: "configmaps", namespace: "small", object: "b"},
		{name: "count/<resource>.<group>", operation: Create, group: "batch", resource: "jobs", namespace: "small", object: "backup"},
		{name: "updates are not counted", operation: Update, resource: "pods", namespace: "small", object: "web"},
		{name: "deletes are not counted", operation: Delete, resource: "pods", namespace: "small", object: "web"},
		{name: "another namespace has no quota", operation: Create, resource: "pods", namespace: "other", object: "web"},
		{name: "an uncounted resource", operation: Create, resource: "secrets", namespace: "small", object: "token"},
		{name: "a subresource adds no object", operation: Create, resource: "serviceaccounts", subresource: "token", namespace: "small", object: "robot"},
		{name: "the object itself does", operation: Create, resource: "serviceaccounts", namespace: "small", object: "robot",
			wantMessage: `serviceaccounts "robot" is forbidden: exceeded quota: no-sa, requested: count/serviceaccounts=1, used: count/serviceaccounts=0, limited: count/serviceaccounts=0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Attributes{Operation: tt.operation, Resource: deps.Registry.Lookup(tt.group, tt.resource), Subresource: tt.subresource,
				Namespace: tt.namespace, Name: tt.object}
			if tt.operation != Delete {
				a.Object = mustDecode(t, namedDoc(tt.namespace, tt.object))
			}
			err := chain.Validate(context.Background(), a)
			if tt.wantMessage == "" {
				if err != nil {
					t.Errorf("Validate: %v, want nil", err)
				}
				return
			}
			if se := statusOf(t, err); se.Code != http.StatusForbidden || se.Reason != "Forbidden" || se.Message != tt.wantMessage {
				t.Errorf("Validate: %d %s\nwant a 403 %s", se.Code, se.Message, tt.wantMessage)
			}
		})
	}

	// One more configmap fills two-configmaps; the next is refused, counted
	// under the key the quota uses.
	storeObjects(t, deps, "", "configmaps", namedDoc("small", "b"))
	a := &Attributes{Operation: Create, Resource: deps.Registry.Lookup("", "configmaps"), Namespace: "small", Name: "c", Object: mustDecode(t, `{}`)}
	const want = `configmaps "c" is forbidden: exceeded quota: two-configmaps, requested: count/configmaps=1, used: count/configmaps=2, limited: count/configmaps=2`
	if err := chain.Validate(context.Background(), a); err == nil || err.Error() != want {
		t.Errorf("the third configmap: %v\nwant %s", err, want)
	}
}

func TestResourceQuotaRefresh(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	ctx := context.Background()
	quotas := deps.Registry.Lookup("", "resourcequotas")
	storeObjects(t, deps, "", "resourcequotas", quotaDoc("small", "counts", `{"pods":"5","count/configmaps":"5","count/jobs.batch":"1","cpu":"2"}`))
	storeObjects(t, deps, "", "pods", namedDoc("small", "web"))
	storeObjects(t, deps, "", "configmaps", namedDoc("small", "a"), namedDoc("small", "b"), namedDoc("other", "c"))

	if err := chain.RefreshQuota(ctx, deps.Registry.Lookup("", "configmaps"), "small"); err != nil {
		t.Fatal(err)
	}
	q, _ := deps.Store.Get(ctx, quotas, "small", "counts")
	if got, want := encode(at(q, "status", "used")), `{"count/configmaps":"2","count/jobs.batch":"0","pods":"1"}`; got != want {
		t.Errorf("status.used = %s, want %s", got, want)
	}
	if got, want := encode(at(q, "status", "hard")), `{"count/configmaps":"5","count/jobs.batch":"1","cpu":"2","pods":"5"}`; got != want {
		t.Errorf("status.hard = %s, want %s", got, want)
	}

	// Nothing changed: the quota is not written again (no new revision, no
	// watch event).
	if err := chain.RefreshQuota(ctx, deps.Registry.Lookup("", "pods"), "small"); err != nil {
		t.Fatal(err)
	}
	if again, _ := deps.Store.Get(ctx, quotas, "small", "counts"); again.MetaString("resourceVersion") != q.MetaString("resourceVersion") {
		t.Errorf("an unchanged quota was written: resourceVersion %s, was %s", again.MetaString("resourceVersion"), q.MetaString("resourceVersion"))
	}

	// status follows spec.hard when it changes: a key removed from spec.hard
	// leaves status.hard and status.used.
	if _, err := deps.Store.Update(ctx, quotas, "small", "counts", func(current object.Object) (object.Object, error) {
		hard := at(current, "spec", "hard").(map[string]any)
		delete(hard, "count/configmaps")
		delete(hard, "cpu")
		return current, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := chain.RefreshQuota(ctx, quotas, "small"); err != nil {
		t.Fatal(err)
	}
	q, _ = deps.Store.Get(ctx, quotas, "small", "counts")
	if got, want := encode(q["status"]), `{"hard":{"count/jobs.batch":"1","pods":"5"},"used":{"count/jobs.batch":"0","pods":"1"}}`; got != want {
		t.Errorf("after spec.hard lost two keys, status = %s, want %s", got, want)
	}

	// Cluster-scoped writes concern no quota.
	if err := chain.RefreshQuota(ctx, deps.Registry.Lookup("", "namespaces"), ""); err != nil {
		t.Errorf("RefreshQuota of a cluster-scoped resource: %v", err)
	}
}

// As the server does it: admission, then the store, then RefreshQuota. Pods
// are created until the quota refuses one, status.used follows, and a delete
// makes room again.
func TestResourceQuotaThroughTheChain(t *testing.T) {
	chain, deps := newTestChain(t, "", "")
	ctx := context.Background()
	pods, quotas := deps.Registry.Lookup("", "pods"), deps.Registry.Lookup("", "resourcequotas")
	storeObjects(t, deps, "", "namespaces", `{"metadata":{"name":"small"}}`)
	if err := CreateDefaultServiceAccount(ctx, deps.Store, deps.Registry, "small"); err != nil {
		t.Fatal(err)
	}
	create := func(res *registry.Resource, doc string) error {
		obj := mustDecode(t, doc)
		a := &Attributes{Operation: Create, Resource: res, Namespace: "small", Name: obj.MetaString("name"), Object: obj}
		if err := admit(ctx, chain, a); err != nil {
			return err
		}
		if _, err := deps.Store.Create(ctx, res, obj); err != nil {
			return err
		}
		return chain.RefreshQuota(ctx, res, "small")
	}
	used := func() any {
		q, _ := deps.Store.Get(ctx, quotas, "small", "two-pods")
		return at(q, "status", "used", "pods")
	}
	if err := create(quotas, quotaDoc("small", "two-pods", `{"pods":"2"}`)); err != nil {
		t.Fatal(err)
	}
	if got := used(); got != "0" {
		t.Errorf("a new quota: status.used.pods = %v, want 0", got)
	}
	pod := func(name string) string {
		return `{"metadata":{"name":"` + name + `","namespace":"small"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`
	}
	created := 0
	for i := range 5 {
		err := create(pods, pod(fmt.Sprint("web-", i)))
		if err == nil {
			created++
			continue
		}
		const want = `pods "web-2" is forbidden: exceeded quota: two-pods, requested: pods=1, used: pods=2, limited: pods=2`
		if se := statusOf(t, err); se.Code != http.StatusForbidden || se.Message != want {
			t.Fatalf("pod %d: %d %s\nwant 403 %s", i, se.Code, se.Message, want)
		}
		break
	}
	if created != 2 || used() != "2" {
		t.Fatalf("created %d pods, status.used.pods %v; want 2 and 2", created, used())
	}
	if _, err := deps.Store.Delete(ctx, pods, "small", "web-0", nil); err != nil {
		t.Fatal(err)
	}
	if err := chain.RefreshQuota(ctx, pods, "small"); err != nil {
		t.Fatal(err)
	}
	if got := used(); got != "1" {
		t.Errorf("after a delete: status.used.pods = %v, want 1", got)
	}
	if err := create(pods, pod("web-2")); err != nil {
		t.Errorf("the create that fits again: %v", err)
	}
}

// Without the plugin, nothing is limited and status is not kept.
func TestResourceQuotaDisabled(t *testing.T) {
	chain, deps := newTestChain(t, "", "ResourceQuota")
	ctx := context.Background()
	storeObjects(t, deps, "", "resourcequotas", quotaDoc("default", "none", `{"count/configmaps":"0"}`))
	configMaps := deps.Registry.Lookup("", "configmaps")
	a := &Attributes{Operation: Create, Resource: configMaps, Namespace: "default", Name: "settings", Object: mustDecode(t, namedDoc("default", "settings"))}
	if err := admit(ctx, chain, a); err != nil {
		t.Errorf("admit without ResourceQuota: %v", err)
	}
	if err := chain.RefreshQuota(ctx, configMaps, "default"); err != nil {
		t.Fatal(err)
	}
	if q, _ := deps.Store.Get(ctx, deps.Registry.Lookup("", "resourcequotas"), "default", "none"); q["status"] != nil {
		t.Errorf("status = %v, want none", q["status"])
	}
}
