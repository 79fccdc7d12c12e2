package crd

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apiserver"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// newController is a controller over a fresh SQLite store, with a registry
// that serves roles (to clash with) and CRDs.
func newController(t *testing.T) *Controller {
	t.Helper()
	backend, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	return replica(store.New(backend))
}

// replica is another server's controller over the same store.
func replica(s *store.Store) *Controller {
	reg := registry.New([]*registry.Resource{
		{Group: "rbac.authorization.k8s.io", Version: "v1", Name: "roles", Singular: "role", Kind: "Role", Namespaced: true},
		{Group: "apiextensions.k8s.io", Version: "v1", Name: "customresourcedefinitions", Singular: "customresourcedefinition",
			Kind: "CustomResourceDefinition", ShortNames: []string{"crd", "crds"}, StatusSubresource: true, TracksGeneration: true},
	}, object.ValidateDNS1123Subdomain)
	return &Controller{Store: s, Registry: reg, CRDs: reg.Lookup("apiextensions.k8s.io", "customresourcedefinitions")}
}

// create stores a CRD as the API server does (defaulted, validated, then
// the hook), created at the given second.
func (c *Controller) create(t *testing.T, def string, second int) object.Object {
	t.Helper()
	obj := mustDecode(t, def)
	Default(obj)
	if causes, err := Validate(obj, nil); err != nil || len(causes) > 0 {
		t.Fatalf("invalid CRD: %v %v", causes, err)
	}
	meta := obj.Metadata()
	meta["uid"], meta["creationTimestamp"] = object.NewUID(), fmt.Sprintf("2026-01-01T00:00:%02dZ", second)
	created, err := c.Store.Create(context.Background(), c.CRDs, obj)
	if err != nil {
		t.Fatal(err)
	}
	c.AfterWrite(context.Background(), c.CRDs, apiserver.Created, created)
	return created
}

func (c *Controller) delete(t *testing.T, name string) {
	t.Helper()
	deleted, err := c.Store.Delete(context.Background(), c.CRDs, "", name, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.AfterWrite(context.Background(), c.CRDs, apiserver.Deleted, deleted)
}

func (c *Controller) get(t *testing.T, name string) object.Object {
	t.Helper()
	obj, err := c.Store.Get(context.Background(), c.CRDs, "", name)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// condition is the status of one of a CRD's conditions, and its reason.
func condition(crd object.Object, kind string) (string, string) {
	conditions, _ := at(crd, "status", "conditions").([]any)
	for _, c := range conditions {
		if at(c, "type") == kind {
			s, _ := at(c, "status").(string)
			r, _ := at(c, "reason").(string)
			return s, r
		}
	}
	return "", ""
}

func TestSyncEstablishesAndServes(t *testing.T) {
	c := newController(t)
	c.create(t, widgetCRD, 0)
	got := c.get(t, "widgets.example.com")
	if s, _ := condition(got, "NamesAccepted"); s != "True" {
		t.Errorf("NamesAccepted %q: %v", s, got["status"])
	}
	if s, _ := condition(got, "Established"); s != "True" {
		t.Errorf("Established %q: %v", s, got["status"])
	}
	if at(got, "status", "acceptedNames", "plural") != "widgets" || at(got, "status", "acceptedNames", "listKind") != "WidgetList" ||
		fmt.Sprint(at(got, "status", "storedVersions")) != "[v1]" {
		t.Errorf("status %v", got["status"])
	}
	res := c.Registry.LookupVersion("example.com", "v1", "widgets")
	if res == nil || res.Kind != "Widget" || res.ListKind != "WidgetList" || res.Singular != "widget" || !res.Namespaced ||
		!slices.Equal(res.ShortNames, []string{"wd"}) || !res.TracksGeneration || res.StatusSubresource || res.ValidateName == nil {
		t.Fatalf("served %+v", res)
	}
	if _, ok := res.Custom.(apiserver.CustomResource); !ok {
		t.Errorf("Custom is %T", res.Custom)
	}

	// Nothing changed: a second Sync writes nothing.
	rev, _ := c.Store.Revision(context.Background())
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Store.Revision(context.Background()); again != rev {
		t.Errorf("an idle Sync wrote: revision %d -> %d", rev, again)
	}

	// Writes to other resources are not the controller's business.
	c.AfterWrite(context.Background(), c.Registry.Lookup("rbac.authorization.k8s.io", "roles"), apiserver.Deleted, got)
	if c.Registry.Lookup("example.com", "widgets") == nil {
		t.Error("a role's delete unserved widgets")
	}
}

func TestServedVersionsPreferredFirst(t *testing.T) {
	c := newController(t)
	def := mustDecode(t, widgetCRD)
	v1 := spec(def)["versions"].([]any)[0].(map[string]any)
	var versions []any
	for _, name := range []string{"v1alpha1", "v1", "v2beta1", "v1beta1"} {
		v := object.DeepCopy(v1).(map[string]any)
		v["name"], v["storage"] = name, name == "v1"
		v["served"] = name != "v1alpha1"
		if name == "v2beta1" {
			v["subresources"] = map[string]any{"status": map[string]any{}}
		}
		versions = append(versions, v)
	}
	spec(def)["versions"] = versions
	c.create(t, object.JSONString(map[string]any(def)), 0)
	// A second CRD of the group, created later, that only serves v2: v2 is
	// the group's preferred version now.
	c.create(t, strings.NewReplacer("widgets", "gadgets", `"Widget"`, `"Gadget"`, `"wd"`, `"gd"`, `"v1"`, `"v2"`).Replace(widgetCRD), 1)

	if got := c.Registry.Versions("example.com"); !slices.Equal(got, []string{"v2", "v1", "v2beta1", "v1beta1"}) {
		t.Errorf("versions %v", got)
	}
	if res := c.Registry.Lookup("example.com", "widgets"); res == nil || res.Version != "v1" {
		t.Errorf("widgets' first version: %+v", res)
	}
	if c.Registry.LookupVersion("example.com", "v1alpha1", "widgets") != nil {
		t.Error("a version that is not served is")
	}
	if res := c.Registry.LookupVersion("example.com", "v2beta1", "widgets"); res == nil || !res.StatusSubresource {
		t.Errorf("v2beta1: %+v", res)
	}
	// Every version stores in v1.
	obj := mustDecode(t, `{"apiVersion":"example.com/v2beta1","kind":"Widget","metadata":{"name":"a"}}`)
	obj, err := c.Registry.LookupVersion("example.com", "v2beta1", "widgets").Converter.ToStorage(context.Background(), obj)
	if err != nil || obj["apiVersion"] != "example.com/v1" {
		t.Errorf("stored as %v", obj["apiVersion"])
	}
}

func TestNamesAreFirstComeFirstServed(t *testing.T) {
	c := newController(t)
	c.create(t, widgetCRD, 5)
	// A second CRD of the same group, older by its timestamp, that wants
	// the short name wd: widgets had it first.
	gadgets := strings.NewReplacer("widgets", "gadgets", `"Widget"`, `"Gadget"`).Replace(widgetCRD)
	c.create(t, gadgets, 1)
	got := c.get(t, "gadgets.example.com")
	if s, r := condition(got, "NamesAccepted"); s != "False" || r != "ShortNamesConflict" {
		t.Errorf("NamesAccepted %s %s: %v", s, r, got["status"])
	}
	if s, r := condition(got, "Established"); s != "False" || r != "NotAccepted" {
		t.Errorf("Established %s %s: %v", s, r, got["status"])
	}
	if c.Registry.Lookup("example.com", "gadgets") != nil {
		t.Error("gadgets is served with a clashing short name")
	}
	if c.Registry.Lookup("example.com", "widgets") == nil {
		t.Error("widgets lost its names")
	}

	// After a restart (a new registry, the same store) the same holds.
	restarted := replica(c.Store)
	if err := restarted.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if restarted.Registry.Lookup("example.com", "widgets") == nil || restarted.Registry.Lookup("example.com", "gadgets") != nil {
		t.Errorf("after a restart: %v", restarted.Registry.Groups())
	}

	// When widgets goes, gadgets gets its names.
	c.delete(t, "widgets.example.com")
	if s, _ := condition(c.get(t, "gadgets.example.com"), "Established"); s != "True" {
		t.Errorf("gadgets after widgets went: %v", c.get(t, "gadgets.example.com")["status"])
	}
	if c.Registry.Lookup("example.com", "widgets") != nil || c.Registry.Lookup("example.com", "gadgets") == nil {
		t.Errorf("served after widgets went: %v", c.Registry.All())
	}
}

func TestAcceptedNamesStayWhenNewOnesClash(t *testing.T) {
	c := newController(t)
	c.create(t, widgetCRD, 0)
	c.create(t, strings.NewReplacer("widgets", "gadgets", `"Widget"`, `"Gadget"`, `"wd"`, `"gd"`).Replace(widgetCRD), 1)
	// widgets now asks for gadgets' short name: it keeps what it had.
	_, err := c.Store.Update(context.Background(), c.CRDs, "", "widgets.example.com", func(cur object.Object) (object.Object, error) {
		at(cur, "spec", "names").(map[string]any)["shortNames"] = []any{"gd"}
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := c.get(t, "widgets.example.com")
	if s, r := condition(got, "NamesAccepted"); s != "False" || r != "ShortNamesConflict" {
		t.Errorf("NamesAccepted %s %s", s, r)
	}
	if s, _ := condition(got, "Established"); s != "True" {
		t.Errorf("Established %s", s)
	}
	if res := c.Registry.Lookup("example.com", "widgets"); res == nil || !slices.Equal(res.ShortNames, []string{"wd"}) {
		t.Errorf("widgets served as %+v", res)
	}
}

func TestBuiltinNamesAreTaken(t *testing.T) {
	c := newController(t)
	roles := c.Registry.Lookup("rbac.authorization.k8s.io", "roles")
	role := mustDecode(t, `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"kept","namespace":"default"},"rules":[]}`)
	if _, err := c.Store.Create(context.Background(), roles, role); err != nil {
		t.Fatal(err)
	}
	// A CRD claiming the built-in roles is never served...
	claim := strings.NewReplacer("widgets.example.com", "roles.rbac.authorization.k8s.io", `"example.com"`, `"rbac.authorization.k8s.io"`,
		"widgets", "roles", `"Widget"`, `"Role"`, `["wd"]`, `[]`).Replace(widgetCRD)
	c.create(t, claim, 0)
	got := c.get(t, "roles.rbac.authorization.k8s.io")
	if s, r := condition(got, "NamesAccepted"); s != "False" || r != "PluralConflict" {
		t.Errorf("NamesAccepted %s %s", s, r)
	}
	if res := c.Registry.LookupVersion("rbac.authorization.k8s.io", "v1", "roles"); res != roles {
		t.Errorf("roles is served by %+v", res)
	}
	// ...nor is one whose kind only clashes with a built-in's list kind.
	c.create(t, strings.NewReplacer("widgets.example.com", "lists.rbac.authorization.k8s.io", `"example.com"`, `"rbac.authorization.k8s.io"`,
		"widgets", "lists", `"kind":"Widget"`, `"kind":"RoleList","singular":"list"`, `["wd"]`, `[]`).Replace(widgetCRD), 1)
	if s, r := condition(c.get(t, "lists.rbac.authorization.k8s.io"), "NamesAccepted"); s != "False" || r != "KindConflict" {
		t.Errorf("kind RoleList: NamesAccepted %s %s", s, r)
	}
	// ...and deleting it leaves the built-in objects alone.
	c.delete(t, "roles.rbac.authorization.k8s.io")
	if _, err := c.Store.Get(context.Background(), roles, "default", "kept"); err != nil {
		t.Errorf("the built-in role went with the CRD: %v", err)
	}
}

func TestDeletingACRDDeletesItsObjects(t *testing.T) {
	ctx := context.Background()
	c := newController(t)
	c.create(t, widgetCRD, 0)
	widgets := c.Registry.Lookup("example.com", "widgets")
	for _, ns := range []string{"default", "other"} {
		obj := mustDecode(t, fmt.Sprintf(`{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":%q}}`, ns))
		if _, err := c.Store.Create(ctx, widgets, obj); err != nil {
			t.Fatal(err)
		}
	}
	// An object of another group's widgets, and of a longer plural, stay.
	neighbours := []*registry.Resource{
		{Group: "example.org", Version: "v1", Name: "widgets", Kind: "Widget", Namespaced: true},
		{Group: "example.com", Version: "v1", Name: "widgetsets", Kind: "WidgetSet", Namespaced: true},
	}
	for _, res := range neighbours {
		if _, err := c.Store.Create(ctx, res, mustDecode(t, `{"metadata":{"name":"n","namespace":"default"}}`)); err != nil {
			t.Fatal(err)
		}
	}
	events, err := c.Store.Watch(ctx, widgets, "", 0)
	if err != nil {
		t.Fatal(err)
	}

	c.delete(t, "widgets.example.com")
	if c.Registry.Lookup("example.com", "widgets") != nil {
		t.Error("widgets is still served")
	}
	items, _, _, err := c.Store.List(ctx, widgets, "", store.ListOptions{})
	if err != nil || len(items) != 0 {
		t.Errorf("left: %v %v", items, err)
	}
	for _, res := range neighbours {
		if _, err := c.Store.Get(ctx, res, "default", "n"); err != nil {
			t.Errorf("%s went too: %v", store.Key(res, "default", "n"), err)
		}
	}
	var deleted []string
	for len(deleted) < 2 {
		select {
		case e := <-events:
			if e.Type == "DELETED" {
				deleted = append(deleted, e.Object.MetaString("namespace"))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("watchers saw %v deleted", deleted)
		}
	}
	// A CRD of the same name, created again, starts empty.
	c.create(t, widgetCRD, 2)
	if items, _, _, _ := c.Store.List(ctx, widgets, "", store.ListOptions{}); len(items) != 0 {
		t.Errorf("the objects outlived their CRD: %v", items)
	}
}

func TestDeleteObjectsOfACRDNeverAccepted(t *testing.T) {
	c := newController(t)
	// As stored: names asked for, none accepted.
	never := mustDecode(t, widgetCRD)
	if err := c.DeleteObjects(context.Background(), never); err != nil {
		t.Errorf("DeleteObjects: %v", err)
	}
	never["spec"] = "not a spec"
	if err := c.DeleteObjects(context.Background(), never); apierrors.ReasonForError(err) != "BadRequest" {
		t.Errorf("DeleteObjects of a broken CRD: %v", err)
	}
}

// With several servers on one store, each one's Run serves the CRDs the
// others write.
func TestRunFollowsOtherReplicas(t *testing.T) {
	c := newController(t)
	other := replica(c.Store)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { other.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	c.create(t, widgetCRD, 0)
	waitFor(t, "the other replica serves widgets", func() bool { return other.Registry.Lookup("example.com", "widgets") != nil })
	c.delete(t, "widgets.example.com")
	waitFor(t, "the other replica stops serving widgets", func() bool { return other.Registry.Lookup("example.com", "widgets") == nil })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
	}
}
