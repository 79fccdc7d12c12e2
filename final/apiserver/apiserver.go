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
	"maps"
	"net/http"
	"slices"
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
	byResource := map[string]*resourceRouter{}
	r.MatcherFunc(func(req *http.Request, match *mux.RouteMatch) bool {
		info := request.RequestInfoFrom(req.Context())
		if !info.IsResourceRequest {
			return false
		}
		sub := byResource[resourceKey(info.APIPrefix, info.APIGroup, info.APIVersion, info.Resource)]
		if sub == nil {
			return false
		}
		if h, vars := sub.plain(req, info); h != nil {
			match.Handler, match.Vars = h, vars
			return true
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
		collection, item := s.plainVerbs(res)
		sub := &resourceRouter{Router: mux.NewRouter().SkipClean(true), res: res, collection: collection, item: item}
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
		collectionPath := res.PathPrefix() + "/" + res.Name
		if res.Namespaced {
			for _, router := range []*mux.Router{r, sub.Router} {
				router.Handle(collectionPath, collection[http.MethodGet]).Methods(http.MethodGet)
			}
			collectionPath = res.PathPrefix() + "/namespaces/{namespace}/" + res.Name
		}
		for _, router := range []*mux.Router{r, sub.Router} {
			s.resourceRoutes(router, res, collectionPath, collection, item)
		}
		for _, route := range s.Handlers {
			if route.Resource == res && (route.Path == collectionPath || route.Path == collectionPath+"/{name}") {
				sub.collection, sub.item = nil, nil // an extra route comes first: the patterns decide
			}
		}
	}
	s.customResourceRoutes(r)
	return r
}

// resourceRouter has one resource's routes. Those of the collection and of
// an item (the verbs of resourceRoutes, by method) are also kept by method,
// for the requests that name them exactly.
type resourceRouter struct {
	*mux.Router
	res              *registry.Resource
	collection, item map[string]http.Handler
}

// plain finds the handler of a request for the collection or an item,
// without a subresource, from its RequestInfo, with the route variables
// its pattern would give: the route it would match, found without trying
// patterns. Anything else (subresources, a method a route does not take,
// a path the patterns would not match as RequestInfo reads it) is left to
// the patterns: nil.
func (rr *resourceRouter) plain(req *http.Request, info request.RequestInfo) (http.Handler, map[string]string) {
	if info.Subresource != "" || rr.collection == nil {
		return nil, nil
	}
	path, vars := rr.res.PathPrefix(), map[string]string{}
	if rr.res.Namespaced {
		if info.Namespace == "" { // only the list across namespaces
			if info.Name != "" || req.Method != http.MethodGet {
				return nil, nil
			}
		} else {
			path += "/namespaces/" + info.Namespace
			vars["namespace"] = info.Namespace
		}
	}
	path += "/" + rr.res.Name
	routes := rr.collection
	if info.Name != "" {
		path += "/" + info.Name
		vars["name"] = info.Name
		routes = rr.item
	}
	if path != req.URL.Path {
		return nil, nil
	}
	return routes[req.Method], vars
}

// resourceKey names a resource in one version, as a request names it.
func resourceKey(apiPrefix, group, version, resource string) string {
	return apiPrefix + "/" + group + "/" + version + "/" + resource
}

// plainVerbs are a resource's handlers of its collection and of an item, by method.
func (s *APIServer) plainVerbs(res *registry.Resource) (collection, item map[string]http.Handler) {
	collection = map[string]http.Handler{
		http.MethodGet:    s.handleList(res),
		http.MethodPost:   s.handle(res, s.create),
		http.MethodDelete: s.handle(res, s.deleteCollection),
	}
	item = map[string]http.Handler{
		http.MethodGet:    s.handle(res, s.get),
		http.MethodPut:    s.handle(res, s.update),
		http.MethodPatch:  s.handle(res, s.patch),
		http.MethodDelete: s.handle(res, s.delete),
	}
	return collection, item
}

// resourceRoutes are the routes of one resource below its collection path:
// those of plainVerbs, then the subresources'.
func (s *APIServer) resourceRoutes(r *mux.Router, res *registry.Resource, collectionPath string, collection, item map[string]http.Handler) {
	for _, method := range slices.Sorted(maps.Keys(collection)) {
		r.Handle(collectionPath, collection[method]).Methods(method)
	}
	itemPath := collectionPath + "/{name}"
	for _, method := range slices.Sorted(maps.Keys(item)) {
		r.Handle(itemPath, item[method]).Methods(method)
	}
	if res.StatusSubresource {
		r.Handle(itemPath+"/status", s.handle(res, s.get)).Methods(http.MethodGet)
		r.Handle(itemPath+"/status", s.handle(res, s.update)).Methods(http.MethodPut)
		r.Handle(itemPath+"/status", s.handle(res, s.patch)).Methods(http.MethodPatch)
	}
	if res.ScaleSubresource {
		r.Handle(itemPath+"/scale", s.handle(res, s.getScale)).Methods(http.MethodGet)
		r.Handle(itemPath+"/scale", s.handle(res, s.updateScale)).Methods(http.MethodPut, http.MethodPatch)
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
