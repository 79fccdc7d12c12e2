// Package authn answers "who is making this request?". Each authenticator
// looks at one kind of credential (a client certificate, a front proxy's
// identity headers, a bearer token from the token file, a service-account
// JWT, a bootstrap token, an OIDC ID token, a token only a webhook knows)
// and either recognises it, rejects it, or has
// nothing to say. They are tried as a union, in kube-apiserver's order; a
// request with no credential at all is anonymous, if the server allows that. Authentication only names the
// user: what the user may do is final/authz's question.
//
// The package also holds what the authentication APIs compute (TokenReview,
// SelfSubjectReview, TokenRequest), as functions the HTTP layer calls.
//
// In Kubernetes the same pieces live in k8s.io/apiserver/pkg/authentication
// (authenticator for the interfaces, request/union, request/bearertoken,
// request/x509, request/headerrequest, token/tokenfile), in
// k8s.io/apiserver/pkg/endpoints/filters/authentication.go (the filter), and
// in kubernetes/pkg/serviceaccount (service-account JWTs),
// kubernetes/plugin/pkg/auth/authenticator/token/bootstrap (bootstrap
// tokens) and kubernetes/pkg/registry/authentication (the review and token
// APIs).
package authn

import (
	"context"
	"errors"
	"log"
	"net/http"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// Authenticator is Kubernetes' authenticator.Request. ok=false with no error
// means "not my kind of credential", so the next authenticator may know it;
// an error means "a credential I should understand, and it is bad".
type Authenticator interface {
	AuthenticateRequest(r *http.Request) (user *request.User, ok bool, err error)
}

// TokenAuthenticator is Kubernetes' authenticator.Token, for bearer tokens.
// The answers mean what they mean for an Authenticator.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (user *request.User, ok bool, err error)
}

// Union tries each authenticator in turn; the first that recognises the
// request wins, whatever the ones before it said. When none does, their
// errors together are the answer, and no error at all means "no credential".
// This is k8s.io/apiserver's unionAuthRequestHandler (request/union).
type Union []Authenticator

// AuthenticateRequest asks each authenticator, in order.
func (u Union) AuthenticateRequest(r *http.Request) (*request.User, bool, error) {
	var errs aggregate
	for _, a := range u {
		user, ok, err := a.AuthenticateRequest(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			return user, true, nil
		}
	}
	return nil, false, errs.orNil()
}

// aggregate is several authenticators' errors, printed the way Kubernetes'
// utilerrors.Aggregate prints them ("[a, b]"): one line, because it ends up
// in a log line or in a TokenReview's status.error.
type aggregate []error

func (a aggregate) orNil() error {
	switch len(a) {
	case 0:
		return nil
	case 1:
		return a[0]
	}
	return a
}

func (a aggregate) Error() string {
	msgs := make([]string, len(a))
	for i, err := range a {
		msgs[i] = err.Error()
	}
	return "[" + strings.Join(msgs, ", ") + "]"
}

// Unwrap lets errors.Is and errors.As see each error.
func (a aggregate) Unwrap() []error { return a }

// errNoCredentials is why a request is refused when anonymous requests are not allowed.
var errNoCredentials = errors.New("no credentials")

// Authenticate runs the whole chain for one request. A recognised user is
// also in system:authenticated; a request nobody recognises and nobody
// objects to is system:anonymous, if anonymous is allowed. A bad credential
// is always an error, even when anonymous requests are allowed: a wrong token
// is not "no token". kube-apiserver gets the same from a group adder around
// the union, and a fail-on-error union of that and the anonymous authenticator.
func Authenticate(chain Authenticator, anonymous bool, r *http.Request) (*request.User, error) {
	user, ok, err := chain.AuthenticateRequest(r)
	switch {
	case err != nil:
		return nil, err
	case ok:
		return authenticated(user), nil
	case anonymous:
		return &request.User{Name: request.UserAnonymous, Groups: []string{request.GroupUnauthenticated}}, nil
	}
	return nil, errNoCredentials
}

// authenticated returns a copy of the user with system:authenticated among
// its groups. A copy, because authenticators may hand out users they keep
// (the token file does), and appending could write into their groups' array.
func authenticated(user *request.User) *request.User {
	u := *user
	if !slices.Contains(u.Groups, request.GroupAuthenticated) {
		u.Groups = append(slices.Clip(u.Groups), request.GroupAuthenticated)
	}
	return &u
}

// WithAuthentication is the authentication filter: it finds out who is
// calling, puts the user in the request's context, and answers 401 to a
// request whose credentials do not check out. Like k8s.io/apiserver's
// filters.WithAuthentication, it says nothing about why: the reason goes to
// the log, where an attacker cannot read it.
func WithAuthentication(next http.Handler, chain Authenticator, anonymous bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := Authenticate(chain, anonymous, r)
		if err != nil {
			log.Printf("authentication failed for %s %s: %v", r.Method, r.URL.Path, err)
			apierrors.WriteError(w, apierrors.NewUnauthorized())
			return
		}
		// The credential has done its job; no handler (or proxied extension
		// server) should ever see it.
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r.WithContext(request.WithUser(r.Context(), user)))
	})
}
