// Writes that take from a shared pool: BeginWrite reserves, finish keeps or
// gives back.
package apiserver

import (
	"net/http"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
)

// beginWrite calls the BeginWrite hook. The finish it returns is never nil
// and does something only once, so a caller may call it on every way out.
func (s *APIServer) beginWrite(r *http.Request, res *registry.Resource, obj, old object.Object) (func(stored bool), error) {
	if s.BeginWrite == nil {
		return func(bool) {}, nil
	}
	finish, err := s.BeginWrite(r.Context(), res, obj, old, isDryRun(r))
	if err != nil || finish == nil {
		return func(bool) {}, err
	}
	done := false
	return func(stored bool) {
		if !done {
			done = true
			finish(stored)
		}
	}, nil
}
