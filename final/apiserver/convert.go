// Versions: a resource may be served in several versions (a CRD's, or the
// HorizontalPodAutoscaler in autoscaling/v1 and v2) and stored in one. The
// handlers work in the version of the request, from decoding the body to
// admission and validation; these functions are where objects cross into
// the storage version before the store, and back out of it after: the one
// place the handlers change an object's version. The resource's
// registry.Converter does the converting.
package apiserver

import (
	"context"
	"net/http"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// present turns a stored object into what the client of res reads: a copy
// in res's version where that differs. Objects of resources served in one
// version are served as stored.
func present(ctx context.Context, res *registry.Resource, obj object.Object) (object.Object, error) {
	if res.Converter == nil || obj == nil {
		return obj, nil
	}
	out, err := res.Converter.FromStorage(ctx, []object.Object{obj})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// presentAll is present for a list, in one go: a conversion webhook gets
// the whole list in one request, as Kubernetes sends it.
func presentAll(ctx context.Context, res *registry.Resource, objs []object.Object) ([]object.Object, error) {
	if res.Converter == nil || len(objs) == 0 {
		return objs, nil
	}
	return res.Converter.FromStorage(ctx, objs)
}

// presented is a verb's answer: obj in the client's version, with code.
func presented(ctx context.Context, res *registry.Resource, obj object.Object, code int) (any, int, error) {
	out, err := present(ctx, res, obj)
	if err != nil {
		return nil, 0, err
	}
	return out, code, nil
}

// toStorage converts a write to the storage version; stored is the object
// it replaces (nil on a create). The strategy then runs again on the
// converted object, against the stored one, as Kubernetes runs it on the
// internal version: what the request may not change (the status on the
// main endpoint, everything else on /status) is taken from the stored
// object whole, including what the request's version cannot express.
func toStorage(r *http.Request, res *registry.Resource, obj, stored object.Object) (object.Object, error) {
	if res.Converter == nil {
		return obj, nil
	}
	out, err := res.Converter.ToStorage(r.Context(), obj)
	if err != nil {
		return nil, err
	}
	if stored != nil {
		prepareForUpdate(res, out, stored, request.RequestInfoFrom(r.Context()).Subresource)
	}
	return out, nil
}
