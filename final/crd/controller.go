// The CRD controller: it keeps the registry and the CRDs' status in step with
// the stored CRDs. Kubernetes runs this as controllers that watch CRDs (the
// naming controller, the establishing controller, the finalizer that deletes
// a CRD's objects); here the server calls Sync at start-up and after every CRD
// write it serves, Run follows the writes of other replicas sharing the store,
// and a deleted CRD's objects are deleted right after it.

package crd

import (
	"context"
	"errors"
	"fmt"
	"log"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/admission"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apiserver"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/schema"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// Controller serves what the stored CRDs define.
type Controller struct {
	Store    *store.Store
	Registry *registry.Registry
	CRDs     *registry.Resource // customresourcedefinitions, as the registry holds it

	mu sync.Mutex // one Sync at a time
}

// Sync decides the names of every CRD, writes their status where it
// changed, and serves the accepted ones. Names are first come, first served
// within a group: the built-in resources hold theirs, a name accepted for one
// CRD stays with it, and a CRD asking for a taken name gets
// NamesAccepted=False and keeps whatever names it had accepted before.
func (c *Controller) Sync(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	items, _, _, err := c.Store.List(ctx, c.CRDs, "", store.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing CustomResourceDefinitions: %w", err)
	}
	defs := make([]*definition, 0, len(items))
	for _, item := range items {
		if d, err := read(item); err == nil {
			defs = append(defs, d)
		}
	}
	sort.SliceStable(defs, func(i, j int) bool {
		return defs[i].Metadata.CreationTimestamp < defs[j].Metadata.CreationTimestamp
	})

	// Who holds which name, per group: built-in resources, then what each
	// CRD had accepted already.
	owner := map[string]string{} // "group/name" -> the CRD's name, or "" for a built-in
	for _, res := range c.Registry.All() {
		if res.Custom == nil {
			for _, n := range slices.Concat([]string{res.Name, res.Singular, res.Kind, res.ListKindOrDefault()}, res.ShortNames) {
				owner[res.Group+"/"+strings.ToLower(n)] = ""
			}
		}
	}
	for _, d := range defs {
		for _, n := range allNames(d.Status.AcceptedNames) {
			owner[d.Spec.Group+"/"+n] = d.Metadata.Name
		}
	}

	var served []*registry.Resource
	for _, d := range defs {
		var conflict apierrors.Cause
		for _, n := range namedParts(d.Spec.Names) {
			if holder, taken := owner[d.Spec.Group+"/"+strings.ToLower(n.value)]; taken && holder != d.Metadata.Name {
				conflict = apierrors.Cause{Reason: n.reason, Message: fmt.Sprintf("%q is already in use", n.value)}
				break
			}
		}
		accepted := d.Status.AcceptedNames
		if conflict.Reason == "" {
			accepted = d.Spec.Names
			for _, n := range allNames(accepted) {
				owner[d.Spec.Group+"/"+n] = d.Metadata.Name
			}
		}
		if err := c.writeStatus(ctx, d, accepted, conflict); err != nil {
			log.Printf("CustomResourceDefinition %s: writing its status: %v", d.Metadata.Name, err)
		}
		if accepted.Plural != "" {
			served = append(served, c.resources(d, accepted)...)
		}
	}
	c.Registry.SetCustom(byGroupThenPriority(served), object.ValidateDNS1123Subdomain)
	return nil
}

type namedPart struct{ value, reason string }

// namedParts are the names a CRD asks for, each with the reason Kubernetes
// gives when it is taken.
func namedParts(n names) []namedPart {
	parts := []namedPart{{n.Plural, "PluralConflict"}, {n.Singular, "SingularConflict"},
		{n.Kind, "KindConflict"}, {n.ListKind, "ListKindConflict"}}
	for _, s := range n.ShortNames {
		parts = append(parts, namedPart{s, "ShortNamesConflict"})
	}
	return parts
}

// allNames are a CRD's names as they clash: lowercased, "Widget" with "widget".
func allNames(n names) []string {
	var out []string
	for _, p := range namedParts(n) {
		if p.value != "" {
			out = append(out, strings.ToLower(p.value))
		}
	}
	return out
}

// errUnchanged ends an update that has nothing to write.
var errUnchanged = errors.New("unchanged")

// writeStatus sets acceptedNames, the NamesAccepted and Established
// conditions and storedVersions, and stores them only if they changed: a
// Sync with nothing new writes nothing.
func (c *Controller) writeStatus(ctx context.Context, d *definition, accepted names, conflict apierrors.Cause) error {
	namesAccepted := map[string]any{"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"}
	established := map[string]any{"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
	if conflict.Reason != "" {
		namesAccepted = map[string]any{"type": "NamesAccepted", "status": "False", "reason": conflict.Reason, "message": conflict.Message}
		if accepted.Plural == "" {
			established = map[string]any{"type": "Established", "status": "False", "reason": "NotAccepted", "message": "not all names are accepted"}
		}
	}
	// Once objects were stored in a version, the CRD remembers it.
	stored := d.Status.StoredVersions
	for _, v := range d.Spec.Versions {
		if v.Storage && !slices.Contains(stored, v.Name) {
			stored = append(slices.Clone(stored), v.Name)
		}
	}
	conditions := []map[string]any{}
	for _, cond := range []map[string]any{namesAccepted, established} {
		cond["lastTransitionTime"] = object.Now()
		for _, previous := range d.Status.Conditions {
			if previous["type"] == cond["type"] && previous["status"] == cond["status"] {
				cond["lastTransitionTime"] = previous["lastTransitionTime"]
			}
		}
		conditions = append(conditions, cond)
	}
	var want map[string]any // as it reads back from the store
	if err := remarshal(map[string]any{"acceptedNames": accepted, "conditions": conditions, "storedVersions": stored}, &want); err != nil {
		return err
	}
	_, err := c.Store.Update(ctx, c.CRDs, "", d.Metadata.Name, func(current object.Object) (object.Object, error) {
		if reflect.DeepEqual(current["status"], want) {
			return nil, errUnchanged
		}
		current["status"] = want
		return current, nil
	})
	if errors.Is(err, errUnchanged) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// resources are the registry entries of a CRD: one per served version, each
// with the CustomResource that moves its objects to and from the storage
// version.
func (c *Controller) resources(d *definition, n names) []*registry.Resource {
	var storageVersion string
	var storageSchema *schema.Props
	for _, v := range d.Spec.Versions {
		if v.Storage {
			storageVersion, storageSchema = v.Name, parsedSchema(v)
		}
	}
	if storageSchema == nil {
		return nil // refused when the CRD was written; never served
	}
	conv := &converter{kind: n.Kind, deps: admission.Dependencies{Store: c.Store, Registry: c.Registry}}
	if d.Spec.Conversion != nil && d.Spec.Conversion.Strategy == "Webhook" && d.Spec.Conversion.Webhook != nil {
		conv.webhook = d.Spec.Conversion.Webhook.ClientConfig
	}
	var out []*registry.Resource
	for _, v := range d.Spec.Versions {
		versionSchema := parsedSchema(v)
		if !v.Served || versionSchema == nil {
			continue
		}
		custom := &customResource{converter: conv, groupVersion: d.Spec.Group + "/" + v.Name, schema: versionSchema,
			rawSchema: v.Schema.OpenAPIV3Schema, storageVersion: d.Spec.Group + "/" + storageVersion, storageSchema: storageSchema,
			columns: v.AdditionalPrinterColumns}
		out = append(out, &registry.Resource{
			Group: d.Spec.Group, Version: v.Name, Name: n.Plural, Singular: n.Singular,
			Kind: n.Kind, ListKind: n.ListKind, Namespaced: d.Spec.Scope == "Namespaced",
			ShortNames: n.ShortNames, Categories: n.Categories,
			StatusSubresource: v.Subresources != nil && v.Subresources.Status != nil,
			TracksGeneration:  true,
			Custom:            custom,
			Converter:         custom,
		})
	}
	return out
}

// parsedSchema is a version's schema, nil if it has none that parses.
func parsedSchema(v version) *schema.Props {
	if v.Schema == nil {
		return nil
	}
	props, problems := schema.Parse(v.Schema.OpenAPIV3Schema, "")
	if len(problems) > 0 {
		return nil
	}
	return props
}

// byGroupThenPriority orders the served resources group by group, in the
// order the groups first appear, and within a group by version priority: the
// registry's first version of a group is its preferred version, which
// discovery announces, for every CRD of the group together.
func byGroupThenPriority(served []*registry.Resource) []*registry.Resource {
	groups := map[string]int{}
	for _, res := range served {
		if _, ok := groups[res.Group]; !ok {
			groups[res.Group] = len(groups)
		}
	}
	sort.SliceStable(served, func(i, j int) bool {
		if gi, gj := groups[served[i].Group], groups[served[j].Group]; gi != gj {
			return gi < gj
		}
		return registry.VersionPriority(served[i].Version, served[j].Version)
	})
	return served
}

// AfterWrite is the hook the API server runs after each write it commits:
// a CRD write syncs at once, so a new CRD is Established when its create
// returns; a deleted CRD's objects are then deleted.
func (c *Controller) AfterWrite(ctx context.Context, res *registry.Resource, event apiserver.Event, obj object.Object) {
	if res != c.CRDs {
		return
	}
	ctx = context.WithoutCancel(ctx) // a client that hangs up does not stop the work half done
	if err := c.Sync(ctx); err != nil {
		log.Print(err)
	}
	if event == apiserver.Deleted {
		if err := c.DeleteObjects(ctx, obj); err != nil {
			log.Printf("deleting the objects of CustomResourceDefinition %s: %v", obj.MetaString("name"), err)
		}
	}
}

// DeleteObjects deletes every object of a deleted CRD, as Kubernetes'
// cleanup finalizer does before a CRD goes away; watchers see each one
// DELETED. Only a CRD whose names were accepted ever had objects: the plural
// it asked for may be a built-in resource's, whose objects are not its own.
func (c *Controller) DeleteObjects(ctx context.Context, deleted object.Object) error {
	d, err := read(deleted)
	if err != nil || d.Status.AcceptedNames.Plural == "" {
		return err
	}
	res := &registry.Resource{Group: d.Spec.Group, Name: d.Status.AcceptedNames.Plural, Kind: d.Status.AcceptedNames.Kind}
	items, _, _, err := c.Store.List(ctx, res, "", store.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for _, item := range items {
		_, err := c.Store.Delete(ctx, res, item.MetaString("namespace"), item.MetaString("name"), nil)
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run follows CRD writes made through other servers sharing the store (with
// --etcd-servers, several replicas): each change syncs, so every replica
// serves what the CRDs define. It returns when ctx ends. Objects of a deleted
// CRD are deleted by the replica that served the delete.
func (c *Controller) Run(ctx context.Context) {
	logError := func(err error) {
		if err != nil && ctx.Err() == nil {
			log.Printf("CRD controller: %v", err)
		}
	}
	for {
		events, err := c.Store.Watch(ctx, c.CRDs, "", 0)
		logError(err)
		if err == nil {
			logError(c.Sync(ctx)) // what changed before the watch began
			for range events {    // closed when ctx ends or the watch falls behind
				logError(c.Sync(ctx))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}
