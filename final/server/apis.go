// The parts of the API that are not plain stored objects: the authentication
// and authorization reviews, TokenRequest, and namespace deletion with its
// controller. Also what a new cluster holds before anyone writes.
package server

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/admission"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apis"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apiserver"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authz"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// protectedNamespaces exist from the start and may not be deleted.
var protectedNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// bootstrapObjects creates the namespaces every cluster starts with (each
// with its default ServiceAccount) and the default RBAC policy; on a restart
// they are there already.
func (s *Server) bootstrapObjects(ctx context.Context) error {
	namespaces := s.registry.Lookup("", "namespaces")
	for _, name := range protectedNamespaces {
		ns := object.Object{"apiVersion": "v1", "kind": "Namespace",
			"metadata": map[string]any{"name": name, "uid": object.NewUID(), "creationTimestamp": object.Now()},
			"spec":     map[string]any{"finalizers": []any{"kubernetes"}},
			"status":   map[string]any{"phase": "Active"}}
		apis.Default(namespaces, ns) // the kubernetes.io/metadata.name label
		if _, err := s.store.Create(ctx, namespaces, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
		if err := admission.CreateDefaultServiceAccount(ctx, s.store, s.registry, name); err != nil {
			return fmt.Errorf("creating the default ServiceAccount of %s: %w", name, err)
		}
	}
	if err := s.rbac.CreateBootstrapPolicy(ctx); err != nil {
		return fmt.Errorf("creating the bootstrap RBAC policy: %w", err)
	}
	return nil
}

// authAPIs are the routes of the reviews and of TokenRequest.
func (s *Server) authAPIs(a authz.Authorizer, sas *authn.ServiceAccounts) []apiserver.Route {
	lookup := s.registry.Lookup
	review := func(group, name string, answer func(r *http.Request, review object.Object) (object.Object, error)) apiserver.Route {
		res := lookup(group, name)
		return apiserver.Route{Path: res.PathPrefix() + "/" + name, Method: http.MethodPost, Resource: res,
			Verb: func(res *registry.Resource, r *http.Request, _, _ string) (any, int, error) {
				body, err := readJSON(r)
				if err != nil {
					return nil, 0, err
				}
				out, err := answer(r, body)
				return out, http.StatusCreated, err
			}}
	}
	user := func(r *http.Request) *request.User { return request.UserFrom(r.Context()) }
	accounts := lookup("", "serviceaccounts")
	return []apiserver.Route{
		review("authentication.k8s.io", "tokenreviews", func(r *http.Request, o object.Object) (object.Object, error) {
			return authn.TokenReview(r.Context(), s.tokens, o)
		}),
		review("authentication.k8s.io", "selfsubjectreviews", func(r *http.Request, _ object.Object) (object.Object, error) {
			return authn.SelfSubjectReview(user(r)), nil
		}),
		review("authorization.k8s.io", "selfsubjectaccessreviews", func(r *http.Request, o object.Object) (object.Object, error) {
			return authz.SelfSubjectAccessReview(r.Context(), a, user(r), o)
		}),
		review("authorization.k8s.io", "subjectaccessreviews", func(r *http.Request, o object.Object) (object.Object, error) {
			return authz.SubjectAccessReview(r.Context(), a, o)
		}),
		review("authorization.k8s.io", "selfsubjectrulesreviews", func(r *http.Request, o object.Object) (object.Object, error) {
			return authz.SelfSubjectRulesReview(r.Context(), s.rbac, user(r), o)
		}),
		{Path: "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", Method: http.MethodPost, Resource: accounts,
			Verb: func(res *registry.Resource, r *http.Request, namespace, name string) (any, int, error) {
				body, err := readJSON(r)
				if err != nil {
					return nil, 0, err
				}
				sa, err := s.store.Get(r.Context(), res, namespace, name)
				if err != nil {
					return nil, 0, err
				}
				out, err := authn.TokenRequest(r.Context(), sas, sa, body)
				return out, http.StatusCreated, err
			}},
	}
}

func readJSON(r *http.Request) (object.Object, error) { return apiserver.ReadObject(r) }

// deleteNamespace does what kube-apiserver does: the namespace is not
// removed at once but marked Terminating (deletionTimestamp set, phase
// Terminating); the namespace controller then deletes everything in it and,
// last, the namespace itself. Meanwhile no new object may be created in it.
func (s *Server) deleteNamespace(res *registry.Resource, r *http.Request, _, name string) (any, int, error) {
	current, err := s.store.Get(r.Context(), res, "", name)
	if err != nil {
		return nil, 0, err
	}
	for _, protected := range protectedNamespaces {
		if name == protected {
			return nil, 0, apierrors.NewForbidden("", "namespaces", name, fmt.Errorf("this namespace may not be deleted"))
		}
	}
	if current.MetaString("deletionTimestamp") != "" {
		return current, http.StatusOK, nil // already on its way
	}
	check, err := apiserver.ReadPreconditions(r, res, name) // and a dry run said in the body
	if err != nil {
		return nil, 0, err
	}
	if check != nil {
		if err := check(current); err != nil {
			return nil, 0, err
		}
	}
	if err := s.api.Admit(r, "DELETE", res, nil, current); err != nil {
		return nil, 0, err
	}
	if apiserver.IsDryRun(r) { // what the delete would answer, and nothing more
		current.Metadata()["deletionTimestamp"] = object.Now()
		current["status"] = map[string]any{"phase": "Terminating"}
		return current, http.StatusOK, nil
	}
	updated, err := s.store.Update(r.Context(), res, "", name, func(ns object.Object) (object.Object, error) {
		ns.Metadata()["deletionTimestamp"] = object.Now()
		ns["status"] = map[string]any{"phase": "Terminating"}
		return ns, nil
	})
	if err != nil {
		return nil, 0, err
	}
	go s.finalizeNamespace(context.WithoutCancel(r.Context()), name)
	return updated, http.StatusOK, nil
}

// finalizeNamespace is the namespace controller's work for one namespace:
// delete every namespaced object in it, then the namespace.
func (s *Server) finalizeNamespace(ctx context.Context, name string) {
	namespaces := s.registry.Lookup("", "namespaces")
	for attempt := 0; attempt < 10; attempt++ {
		left := 0
		for _, res := range s.registry.All() {
			if !res.Namespaced || res.Virtual {
				continue
			}
			items, _, _, err := s.store.List(ctx, res, name, store.ListOptions{})
			if err != nil {
				left++
				continue
			}
			for _, item := range items {
				deleted, err := s.store.Delete(ctx, res, name, item.MetaString("name"), nil)
				if err != nil && !apierrors.IsNotFound(err) {
					left++
				}
				if err == nil {
					s.releaseDeletedService(ctx, res, apiserver.Deleted, deleted) // its cluster IP and node ports
				}
			}
		}
		if left == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	if _, err := s.store.Delete(ctx, namespaces, "", name, func(ns object.Object) error {
		if ns.MetaString("deletionTimestamp") == "" {
			return fmt.Errorf("namespace %s was recreated", name)
		}
		return nil
	}); err != nil && !apierrors.IsNotFound(err) {
		log.Printf("finalizing namespace %s: %v", name, err)
	}
}

// runControllers is what the leader among the replicas runs: a sweep that
// finishes namespace deletions a stopped replica left undone, and the
// token controller.
func (s *Server) runControllers(ctx context.Context) {
	var wg sync.WaitGroup // the leader's work ends before it hands over
	defer wg.Wait()
	wg.Go(func() { s.tokenController.Run(ctx) })
	wg.Go(func() { s.repairServiceAllocations(ctx) })
	ticker := time.NewTicker(10 * time.Second)
	defer ticker.Stop()
	for {
		s.finalizeTerminatingNamespaces(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// finalizeTerminatingNamespaces finishes what a stopped server left undone.
func (s *Server) finalizeTerminatingNamespaces(ctx context.Context) {
	items, _, _, err := s.store.List(ctx, s.registry.Lookup("", "namespaces"), "", store.ListOptions{})
	if err != nil {
		return
	}
	for _, ns := range items {
		if ns.MetaString("deletionTimestamp") != "" {
			s.finalizeNamespace(ctx, ns.MetaString("name"))
		}
	}
}
