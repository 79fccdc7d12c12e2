// Routing with gorilla/mux: every path the server answers is declared here,
// built from the registry. For each resource the same six routes appear,
// under /api/v1 for the core group and /apis/{group}/{version} for the rest:
//
//	{prefix}/{resource}                                  list (all namespaces)
//	{prefix}/namespaces/{namespace}/{resource}           list, create
//	{prefix}/namespaces/{namespace}/{resource}/{name}    get, update, patch, delete
//
// (cluster-scoped resources drop the namespaces/{namespace} part).
package main

import (
	"net/http"
	"runtime"
	"time"

	"github.com/gorilla/mux"
)

type server struct {
	registry   *registry
	store      *store
	namespaces *resource // the namespaces resource, looked up by the namespace rules

	tokens              *serviceAccountTokens // signs and verifies service-account tokens
	tokenAuthenticators tokenAuthenticators   // what TokenReview asks
	tokenRequests       *resource             // the TokenRequest kind, for its errors

	rbac       *rbacAuthorizer // reads roles and bindings
	authorizer authorizer      // the --authorization-mode chain

	admission  *admissionChain // the plugins of --enable/--disable-admission-plugins
	crds       *crdController  // serves what the CustomResourceDefinitions define
	aggregator *aggregator     // proxies the APIServices of extension servers

	bookmarkInterval time.Duration // how often a watch with allowWatchBookmarks gets one
}

func (s *server) routes() http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, errPathNotFound())
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, errMethodNotAllowed())
	})

	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		r.HandleFunc(path, serveHealth).Methods(http.MethodGet)
	}
	r.HandleFunc("/version", serveVersion).Methods(http.MethodGet)

	// Discovery.
	r.HandleFunc("/api", s.serveAPI).Methods(http.MethodGet)
	r.HandleFunc("/api/{version}", func(w http.ResponseWriter, r *http.Request) {
		s.serveResourceList(w, "", mux.Vars(r)["version"])
	}).Methods(http.MethodGet)
	r.HandleFunc("/apis", s.serveAPIs).Methods(http.MethodGet)
	r.HandleFunc("/apis/{group}", func(w http.ResponseWriter, r *http.Request) {
		s.serveAPIGroup(w, r, mux.Vars(r)["group"])
	}).Methods(http.MethodGet)
	r.HandleFunc("/apis/{group}/{version}", func(w http.ResponseWriter, r *http.Request) {
		s.serveResourceList(w, mux.Vars(r)["group"], mux.Vars(r)["version"])
	}).Methods(http.MethodGet)

	r.HandleFunc("/openapi/v3", s.serveOpenAPIIndex).Methods(http.MethodGet)
	r.HandleFunc("/openapi/v3/api/{version}", s.serveOpenAPIGroupVersion).Methods(http.MethodGet)
	r.HandleFunc("/openapi/v3/apis/{group}/{version}", s.serveOpenAPIGroupVersion).Methods(http.MethodGet)

	// The authentication APIs, served by their own handlers (authapis.go).
	accounts := s.registry.lookup("", "serviceaccounts")
	r.Handle("/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
		s.handle(accounts, s.createToken)).Methods(http.MethodPost)
	r.Handle("/apis/authentication.k8s.io/v1/tokenreviews",
		s.handle(s.registry.lookup("authentication.k8s.io", "tokenreviews"), s.createTokenReview)).Methods(http.MethodPost)
	r.Handle("/apis/authentication.k8s.io/v1/selfsubjectreviews",
		s.handle(s.registry.lookup("authentication.k8s.io", "selfsubjectreviews"), s.createSelfSubjectReview)).Methods(http.MethodPost)

	// The authorization APIs (accessreviews.go).
	for name, verb := range map[string]verbHandler{
		"selfsubjectaccessreviews": s.createSelfSubjectAccessReview,
		"subjectaccessreviews":     s.createSubjectAccessReview,
		"selfsubjectrulesreviews":  s.createSelfSubjectRulesReview,
	} {
		r.Handle("/apis/authorization.k8s.io/v1/"+name,
			s.handle(s.registry.lookup("authorization.k8s.io", name), verb)).Methods(http.MethodPost)
	}

	// Compaction on demand, like "etcdctl compact": a non-resource path that
	// only cluster admins are allowed (chapter 04's RBAC).
	r.HandleFunc("/storage/compact", s.serveCompact).Methods(http.MethodPost)

	// Resources.
	for _, res := range s.registry.all() {
		if res.virtual {
			continue
		}
		collection := res.pathPrefix() + "/" + res.name
		if res.namespaced {
			r.Handle(collection, s.handleList(res)).Methods(http.MethodGet)
			collection = res.pathPrefix() + "/namespaces/{namespace}/" + res.name
		}
		r.Handle(collection, s.handleList(res)).Methods(http.MethodGet)
		r.Handle(collection, s.handle(res, s.create)).Methods(http.MethodPost)
		item := collection + "/{name}"
		r.Handle(item, s.handle(res, s.get)).Methods(http.MethodGet)
		r.Handle(item, s.handle(res, s.update)).Methods(http.MethodPut)
		r.Handle(item, s.handle(res, s.patch)).Methods(http.MethodPatch)
		r.Handle(item, s.handle(res, s.delete)).Methods(http.MethodDelete)
		if res.statusSubresource {
			r.Handle(item+"/status", s.handle(res, s.get)).Methods(http.MethodGet)
			r.Handle(item+"/status", s.handle(res, s.update)).Methods(http.MethodPut)
			r.Handle(item+"/status", s.handle(res, s.patch)).Methods(http.MethodPatch)
		}
	}

	// Custom resources come and go at run time (customresource.go).
	s.customResourceRoutes(r)
	return r
}

// handleList serves a collection GET: a list, or with ?watch=true a watch.
func (s *server) handleList(res *resource) http.Handler {
	list := s.handle(res, s.list)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if watch := r.URL.Query().Get("watch"); watch != "true" && watch != "1" {
			list.ServeHTTP(w, r)
			return
		}
		o, err := parseWatchOptions(r)
		if err == nil {
			o.match, err = parseSelectors(r)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		s.serveWatch(w, r, res, mux.Vars(r)["namespace"], o)
	})
}

// handle adapts a verb to an http.Handler: it pulls the namespace and name
// out of the route, and turns the verb's answer or error into a response.
func (s *server) handle(res *resource, verb verbHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("dryRun") {
			writeError(w, errBadRequest("dryRun is not supported by this server"))
			return
		}
		vars := mux.Vars(r)
		ctx, warnings := withWarnings(r.Context())
		body, code, err := verb(res, r.WithContext(ctx), vars["namespace"], vars["name"])
		writeWarnings(w, *warnings)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, code, body)
	})
}

func serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

// serveVersion answers /version in the shape of k8s.io/apimachinery's version.Info.
// The version is the Kubernetes API level this server follows.
func serveVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"major":        "1",
		"minor":        "37",
		"gitVersion":   "v1.37.0-scratch",
		"gitCommit":    "",
		"gitTreeState": "clean",
		"buildDate":    "",
		"goVersion":    runtime.Version(),
		"compiler":     runtime.Compiler,
		"platform":     runtime.GOOS + "/" + runtime.GOARCH,
	})
}

// serveCompact compacts the store to ?revision= (default: the current one).
func (s *server) serveCompact(w http.ResponseWriter, r *http.Request) {
	rev := s.store.revision()
	if v := r.URL.Query().Get("revision"); v != "" {
		n, err := parseResourceVersion(v)
		if err != nil {
			writeError(w, err)
			return
		}
		rev = n
	}
	if err := s.store.compact(rev); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"compacted": rev})
}
