package admission

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
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
	if got, want := encode(at(q, "status", "used")), `{"count/configmaps":"2","count/jobs.batch":"0","cpu":"0","pods":"1"}`; got != want {
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

// Compute quotas on pods; the messages are kube-apiserver v1.37's for the
// same quota and usage.
func TestResourceQuotaCompute(t *testing.T) {
	chain, deps := newTestChain(t, "", "NamespaceLifecycle,ServiceAccount,LimitRanger")
	storeObjects(t, deps, "", "resourcequotas", quotaDoc("default", "compute", `{"requests.cpu":"1","limits.memory":"1Gi","pods":"10"}`))
	storeObjects(t, deps, "", "pods",
		`{"metadata":{"name":"p1","namespace":"default"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"600m"},"limits":{"memory":"512Mi"}}}]}}`,
		// A finished pod counts in count/pods only.
		`{"metadata":{"name":"done","namespace":"default"},"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"1"},"limits":{"memory":"1Gi"}}}]},"status":{"phase":"Succeeded"}}`)
	tests := []struct{ name, containers, want string }{
		{"every container must say what is quota'd", `{"name":"c","image":"nginx"},{"name":"b","image":"nginx","resources":{"requests":{"cpu":"1m"}}}`,
			`pods "web" is forbidden: failed quota: compute: must specify limits.memory for: b,c; requests.cpu for: c`},
		{"over", `{"name":"c","image":"nginx","resources":{"requests":{"cpu":"500m"},"limits":{"memory":"768Mi"}}}`,
			`pods "web" is forbidden: exceeded quota: compute, requested: limits.memory=768Mi,requests.cpu=500m, used: limits.memory=512Mi,requests.cpu=600m, limited: limits.memory=1Gi,requests.cpu=1`},
		{"exactly up to the limits", `{"name":"c","image":"nginx","resources":{"requests":{"cpu":"0.4"},"limits":{"memory":"512Mi"}}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := createPod(t, chain, deps, "default", `{"metadata":{"name":"web","namespace":"default"},"spec":{"containers":[`+tt.containers+`]}}`)
			if tt.want == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if se := statusOf(t, err); se.Code != http.StatusForbidden || se.Message != tt.want {
				t.Errorf("%d %s\nwant 403 %s", se.Code, se.Message, tt.want)
			}
		})
	}
	if err := chain.RefreshQuota(context.Background(), deps.Registry.Lookup("", "pods"), "default"); err != nil {
		t.Fatal(err)
	}
	q, _ := deps.Store.Get(context.Background(), deps.Registry.Lookup("", "resourcequotas"), "default", "compute")
	if got, want := encode(at(q, "status", "used")), `{"limits.memory":"512Mi","pods":"1","requests.cpu":"600m"}`; got != want {
		t.Errorf("status.used = %s, want %s", got, want)
	}
}

func TestUsage(t *testing.T) {
	reg := registry.New(testResources(), object.ValidateDNS1123Subdomain)
	tests := []struct {
		res  *registry.Resource
		obj  string
		want string
	}{
		{reg.Lookup("", "configmaps"), `{}`, `{"configmaps":"1","count/configmaps":"1"}`},
		{reg.Lookup("batch", "jobs"), `{}`, `{"count/jobs.batch":"1"}`},
		{reg.Lookup("", "pods"), `{"spec":{"containers":[{"name":"a"}]}}`, `{"count/pods":"1","pods":"1"}`},
		{reg.Lookup("", "pods"), `{"spec":{"containers":[{"name":"a","resources":{"requests":{"cpu":"250m","memory":"64Mi","hugepages-2Mi":"4Mi"},"limits":{"cpu":"1","ephemeral-storage":"1Gi"}}},
			{"name":"b","resources":{"requests":{"cpu":"250m"}}}]}}`,
			`{"count/pods":"1","cpu":"500m","hugepages-2Mi":"4Mi","limits.cpu":"1","limits.ephemeral-storage":"1Gi","memory":"64Mi","pods":"1","requests.cpu":"500m","requests.hugepages-2Mi":"4Mi","requests.memory":"64Mi"}`},
		{reg.Lookup("", "pods"), `{"spec":{"containers":[{"name":"a","resources":{"requests":{"cpu":"1"}}}]},"status":{"phase":"Failed"}}`, `{"count/pods":"1"}`},
	}
	for _, tt := range tests {
		if got := encode(usage(tt.res, mustDecode(t, tt.obj))); got != tt.want {
			t.Errorf("usage(%s, %s) = %s\nwant %s", tt.res.Name, tt.obj, got, tt.want)
		}
	}
}

// limitedResources: what matches needs a quota that limits it, or is refused.
func TestResourceQuotaLimitedResources(t *testing.T) {
	configs := Configs{ResourceQuota: {Configuration: []byte(`{"apiVersion":"apiserver.config.k8s.io/v1","kind":"ResourceQuotaConfiguration",
		"limitedResources":[{"resource":"pods","matchContains":["cpu"]},{"apiGroup":"batch","resource":"jobs","matchContains":["count/jobs.batch"]}]}`)}}
	deps := newDeps(t)
	deps.Configs = configs
	chain, err := NewChain("", "", deps)
	if err != nil {
		t.Fatal(err)
	}
	const cpuPod = `{"metadata":{"name":"web","namespace":"default"},"spec":{"containers":[{"name":"c","image":"nginx","resources":{"requests":{"cpu":"100m"}}}]}}`
	const plainPod = `{"metadata":{"name":"plain","namespace":"default"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`
	job := func() error {
		return admit(context.Background(), chain, &Attributes{Operation: Create, Resource: deps.Registry.Lookup("batch", "jobs"),
			Namespace: "default", Name: "backup", Object: mustDecode(t, `{"metadata":{"name":"backup"}}`)})
	}

	_, err = createPod(t, chain, deps, "default", cpuPod)
	if se := statusOf(t, err); se.Code != http.StatusForbidden || se.Message != `pods "web" is forbidden: insufficient quota to consume: cpu,requests.cpu` {
		t.Errorf("no quota: %d %s", se.Code, se.Message)
	}
	if _, err := createPod(t, chain, deps, "default", plainPod); err != nil {
		t.Errorf("a pod that uses no cpu needs no quota: %v", err)
	}
	if se := statusOf(t, job()); se.Message != `jobs.batch "backup" is forbidden: insufficient quota to consume: count/jobs.batch` {
		t.Errorf("a job without a quota: %s", se.Message)
	}

	// A quota on requests.cpu covers that, not "cpu".
	storeObjects(t, deps, "", "resourcequotas", quotaDoc("default", "requests", `{"requests.cpu":"2"}`))
	_, err = createPod(t, chain, deps, "default", cpuPod)
	if se := statusOf(t, err); se.Message != `pods "web" is forbidden: insufficient quota to consume: cpu` {
		t.Errorf("half covered: %s", se.Message)
	}
	// Two quotas together cover both.
	storeObjects(t, deps, "", "resourcequotas", quotaDoc("default", "cpu", `{"cpu":"2"}`),
		quotaDoc("default", "jobs", `{"count/jobs.batch":"3"}`))
	if _, err := createPod(t, chain, deps, "default", cpuPod); err != nil {
		t.Errorf("covered: %v", err)
	}
	if err := job(); err != nil {
		t.Errorf("a job with a quota: %v", err)
	}
	// Another namespace has no quota.
	_, err = createPod(t, chain, deps, "kube-public", strings.Replace(cpuPod, `"default"`, `"kube-public"`, 1))
	if se := statusOf(t, err); se.Code != http.StatusForbidden {
		t.Errorf("kube-public: %v", err)
	}
}
