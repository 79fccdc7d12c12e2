// Package apiserver serves the API: one generic handler for every resource in
// the registry (list, watch, get, create, update, patch, delete, and the
// status subresource), discovery, and the OpenAPI kubectl reads. Each write
// goes the way kube-apiserver's do:
//
//	decode -> defaults -> mutating admission -> strategy -> validation -> validating admission -> store
//
// What differs per resource is given to it: the registry's table, defaulting
// and validation functions, custom resources through the CustomResource
// interface, virtual resources (the reviews) and subresources as handlers of
// their own, and hooks that run just before writes are stored (to take
// from shared pools: a Service's cluster IP) and after they are.
//
// In Kubernetes this is k8s.io/apiserver's pkg/endpoints (handlers, discovery)
// over pkg/registry/generic/registry (the generic store and its strategies).
package apiserver

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/admission"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/features"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// VerbHandler serves one verb on one resource. It returns what to send, or
// an error that becomes a Status; it never writes an error body itself.
type VerbHandler func(res *registry.Resource, r *http.Request, namespace, name string) (any, int, error)

// CustomResource is what a resource served for a CustomResourceDefinition
// brings, in registry.Resource.Custom: its version's schema. (The move
// between its served version and its storage version is its
// registry.Resource.Converter, as for any resource.)
type CustomResource interface {
	// UnknownFields lists the fields the schema does not know, without
	// changing obj.
	UnknownFields(obj object.Object) []string
	// PruneAndDefault drops unknown fields and fills in defaults, in place.
	PruneAndDefault(obj object.Object)
	// Validate checks an object against the schema.
	Validate(obj object.Object) []apierrors.Cause
	// OpenAPISchema is the version's schema, as /openapi/v3 publishes it.
	OpenAPISchema() map[string]any
}

// Event names a write for AfterWrite hooks.
type Event string

const (
	Created Event = "CREATE"
	Updated Event = "UPDATE"
	Deleted Event = "DELETE"
)

// APIServer is the API part of the server: what routes.go turns into routes.
type APIServer struct {
	Registry  *registry.Registry
	Store     *store.Store
	Admission *admission.Chain

	// Default and Validate are the per-kind defaulting and validation of
	// built-in resources (final/apis, and the CRD and APIService kinds).
	Default  func(res *registry.Resource, obj object.Object)
	Validate func(res *registry.Resource, obj, old object.Object) ([]apierrors.Cause, error)
	// Escalation is RBAC's check on writes of roles and bindings (nil: none).
	Escalation func(ctx context.Context, user *request.User, res *registry.Resource, obj object.Object) error
	// BeginWrite runs after admission, just before a create or an update
	// is stored (on a dry run too, which keeps nothing): it takes what the
	// object needs from a pool all objects of its kind share (a Service's
	// cluster IPs and node ports), filling it in. finish is then told
	// whether the write was stored, so that a write that was not gives
	// back what it took. Kubernetes' generic registry store has the same
	// hooks, BeginCreate and BeginUpdate. Nil: nothing to take.
	BeginWrite func(ctx context.Context, res *registry.Resource, obj, old object.Object, dryRun bool) (finish func(stored bool), err error)
	// AfterWrite hooks run after every committed write (not after dry runs):
	// quota usage, the CRD and APIService controllers, a new namespace's
	// default ServiceAccount.
	AfterWrite []func(ctx context.Context, res *registry.Resource, event Event, obj object.Object)
	// Deleters replace the store's delete for some resources, by qualified
	// name ("namespaces": a namespace is finalized, not removed at once).
	Deleters map[string]VerbHandler
	// Handlers serve virtual resources and subresources, by path template
	// ("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") and method.
	Handlers []Route

	// ExtraDiscovery and ExtraOpenAPIPaths add what extension servers
	// serve to /apis and /openapi/v3 (the aggregator's; nil: nothing).
	ExtraDiscovery    func(aggregated bool) []map[string]any
	ExtraOpenAPIPaths func() map[string]any
	// GroupPriority orders the groups of /apis, served here or by
	// extensions: the highest first, equal ones by name, as kube-aggregator
	// orders them by their APIServices' groupPriorityMinimum. Nil: the
	// registry's order, then the extensions' groups.
	GroupPriority func(group string) int64

	// Stop ends every watch when it closes: the server is shutting down,
	// and clients should watch again elsewhere (nil: never).
	Stop <-chan struct{}

	// BookmarkInterval is how often a watch with allowWatchBookmarks gets one.
	BookmarkInterval time.Duration
	// Features are the feature gates (nil: each at its default). WatchList
	// decides whether watches may ask for sendInitialEvents.
	Features *features.Gates
	// Version is what /version answers.
	Version map[string]any

	schemas fieldSchemas // what the field manager knows of each resource, read once
}

// Route is one extra route: a path template, a method, and its verb.
type Route struct {
	Path, Method string
	Resource     *registry.Resource
	Verb         VerbHandler
}

// Routes builds the router: discovery, OpenAPI, every registered resource,
// the extra routes, and the custom resources, which are looked up per request.
func (s *APIServer) Routes() *mux.Router {
	// SkipClean: a path with "//", "." or ".." is not redirected to a
	// cleaned one, it matches no route (404), as in Kubernetes.
	r := mux.NewRouter().SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		apierrors.WriteError(w, apierrors.NewPathNotFound())
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		apierrors.WriteError(w, apierrors.NewMethodNotAllowed())
	})
	// A request that names a resource is first matched against that
	// resource's dozen routes only: gorilla/mux tries routes one by one,
	// and there are hundreds. A request none of them takes goes on to all.
	byResource := map[string]*mux.Router{}
	r.MatcherFunc(func(req *http.Request, match *mux.RouteMatch) bool {
		info := request.RequestInfoFrom(req.Context())
		if !info.IsResourceRequest {
			return false
		}
		sub := byResource[resourceKey(info.APIPrefix, info.APIGroup, info.APIVersion, info.Resource)]
		if sub == nil {
			return false
		}
		if sub.Match(req, match) && match.MatchErr == nil {
			return true
		}
		*match = mux.RouteMatch{}
		return false
	})
	r.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		apierrors.WriteJSON(w, http.StatusOK, s.Version)
	}).Methods(http.MethodGet)
	s.discoveryRoutes(r)
	s.openAPIRoutes(r)
	for _, route := range s.Handlers {
		r.Handle(route.Path, s.handle(route.Resource, route.Verb)).Methods(route.Method)
	}
	for _, res := range s.Registry.All() {
		if res.Virtual || res.Custom != nil {
			continue
		}
		sub := mux.NewRouter().SkipClean(true)
		for _, route := range s.Handlers { // in the same order as on r
			if route.Resource == res {
				sub.Handle(route.Path, s.handle(route.Resource, route.Verb)).Methods(route.Method)
			}
		}
		apiPrefix := "apis"
		if res.Group == "" {
			apiPrefix = "api"
		}
		byResource[resourceKey(apiPrefix, res.Group, res.Version, res.Name)] = sub
		for _, router := range []*mux.Router{r, sub} {
			collection := res.PathPrefix() + "/" + res.Name
			if res.Namespaced {
				router.Handle(collection, s.handleList(res)).Methods(http.MethodGet)
				collection = res.PathPrefix() + "/namespaces/{namespace}/" + res.Name
			}
			s.resourceRoutes(router, res, collection)
		}
	}
	s.customResourceRoutes(r)
	return r
}

// resourceKey names a resource in one version, as a request names it.
func resourceKey(apiPrefix, group, version, resource string) string {
	return apiPrefix + "/" + group + "/" + version + "/" + resource
}

// resourceRoutes are the routes of one resource below its collection path.
func (s *APIServer) resourceRoutes(r *mux.Router, res *registry.Resource, collection string) {
	r.Handle(collection, s.handleList(res)).Methods(http.MethodGet)
	r.Handle(collection, s.handle(res, s.create)).Methods(http.MethodPost)
	r.Handle(collection, s.handle(res, s.deleteCollection)).Methods(http.MethodDelete)
	item := collection + "/{name}"
	r.Handle(item, s.handle(res, s.get)).Methods(http.MethodGet)
	r.Handle(item, s.handle(res, s.update)).Methods(http.MethodPut)
	r.Handle(item, s.handle(res, s.patch)).Methods(http.MethodPatch)
	r.Handle(item, s.handle(res, s.delete)).Methods(http.MethodDelete)
	if res.StatusSubresource {
		r.Handle(item+"/status", s.handle(res, s.get)).Methods(http.MethodGet)
		r.Handle(item+"/status", s.handle(res, s.update)).Methods(http.MethodPut)
		r.Handle(item+"/status", s.handle(res, s.patch)).Methods(http.MethodPatch)
	}
	if res.ScaleSubresource {
		r.Handle(item+"/scale", s.handle(res, s.getScale)).Methods(http.MethodGet)
		r.Handle(item+"/scale", s.handle(res, s.updateScale)).Methods(http.MethodPut, http.MethodPatch)
	}
}

// handle adapts a verb to an http.Handler: it pulls the namespace and name
// out of the route, collects warnings, and turns the verb's answer or error
// into a response.
func (s *APIServer) handle(res *registry.Resource, verb VerbHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vars := mux.Vars(r)
		if err := checkRequest(r, vars["name"]); err != nil {
			apierrors.WriteError(w, err)
			return
		}
		ctx, warnings := withWarnings(r.Context())
		body, code, err := verb(res, r.WithContext(ctx), vars["namespace"], vars["name"])
		writeWarnings(w, *warnings)
		if err != nil {
			apierrors.WriteError(w, err)
			return
		}
		apierrors.WriteJSON(w, code, body)
	})
}

// handleList serves a collection GET: a list, or with ?watch=true a watch.
func (s *APIServer) handleList(res *registry.Resource) http.Handler {
	list := s.handle(res, s.list)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if watch := r.URL.Query().Get("watch"); watch != "true" && watch != "1" {
			list.ServeHTTP(w, r)
			return
		}
		if err := checkAccept(r); err != nil {
			apierrors.WriteError(w, err)
			return
		}
		s.serveWatch(w, r, res, mux.Vars(r)["namespace"])
	})
}

// afterWrite runs the hooks.
func (s *APIServer) afterWrite(ctx context.Context, res *registry.Resource, event Event, obj object.Object) {
	for _, hook := range s.AfterWrite {
		hook(ctx, res, event, obj)
	}
}
