// Authentication: who is making this request? Each authenticator looks at one
// kind of credential (a client certificate, a bearer token) and either
// recognises it, rejects it, or has nothing to say. They are tried as a union,
// as in kube-apiserver; a request with no credential at all is anonymous.
// Authentication only names the user: what the user may do is chapter 04.
package main

import (
	"context"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
)

// userInfo is the authenticated user, as k8s.io/apiserver's user.Info.
type userInfo struct {
	Name   string              `json:"username"`
	UID    string              `json:"uid,omitempty"`
	Groups []string            `json:"groups,omitempty"`
	Extra  map[string][]string `json:"extra,omitempty"`
}

// Every authenticated user is also in system:authenticated; anonymous
// requests are system:anonymous in system:unauthenticated.
const (
	groupAuthenticated   = "system:authenticated"
	groupUnauthenticated = "system:unauthenticated"
	userAnonymous        = "system:anonymous"
)

// requestAuthenticator is Kubernetes' authenticator.Request: ok=false with no
// error means "not my kind of credential"; an error means "a credential I
// should understand, and it is bad".
type requestAuthenticator interface {
	authenticateRequest(r *http.Request) (user *userInfo, ok bool, err error)
}

// tokenAuthenticator is Kubernetes' authenticator.Token, for bearer tokens.
type tokenAuthenticator interface {
	authenticateToken(token string) (user *userInfo, ok bool, err error)
}

// union tries each authenticator in turn; the first that recognises the
// request wins. When none does, their errors are the answer.
type union []requestAuthenticator

func (u union) authenticateRequest(r *http.Request) (*userInfo, bool, error) {
	var errs []error
	for _, a := range u {
		user, ok, err := a.authenticateRequest(r)
		if ok {
			return user, true, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return nil, false, errors.Join(errs...)
}

// tokenAuthenticators asks each token authenticator in turn; a token none
// of them recognises is invalid.
type tokenAuthenticators []tokenAuthenticator

func (ts tokenAuthenticators) authenticateToken(token string) (*userInfo, bool, error) {
	for _, a := range ts {
		if user, ok, err := a.authenticateToken(token); ok || err != nil {
			return user, ok, err
		}
	}
	return nil, false, errInvalidToken
}

// bearerToken reads "Authorization: Bearer <token>" and asks the token
// authenticators about the token.
type bearerToken struct{ tokens tokenAuthenticators }

var errInvalidToken = errors.New("invalid bearer token")

func (b bearerToken) authenticateRequest(r *http.Request) (*userInfo, bool, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return nil, false, nil
	}
	scheme, token, found := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return nil, false, errors.New("malformed Authorization header: want \"Bearer <token>\"")
	}
	return b.tokens.authenticateToken(token)
}

// tokenFile is the static token file of --token-auth-file: a CSV of
// token,user,uid and optionally "group1,group2".
type tokenFile map[string]*userInfo

func loadTokenFile(path string) (tokenFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading token file: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.Comment = '#'
	tokens := tokenFile{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return tokens, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parsing token file %s: %w", path, err)
		}
		if len(rec) < 3 || rec[0] == "" || rec[1] == "" {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("token file %s line %d: want token,user,uid[,\"groups\"]", path, line)
		}
		user := &userInfo{Name: rec[1], UID: rec[2]}
		if len(rec) > 3 && rec[3] != "" {
			user.Groups = strings.Split(rec[3], ",")
		}
		tokens[rec[0]] = user
	}
}

func (t tokenFile) authenticateToken(token string) (*userInfo, bool, error) {
	for known, user := range t {
		// Compare in constant time, so response timing says nothing about tokens.
		if subtle.ConstantTimeCompare([]byte(known), []byte(token)) == 1 {
			return user, true, nil
		}
	}
	return nil, false, nil
}

// x509Authenticator reads the client certificate the TLS handshake verified
// against --client-ca-file: common name = user, organizations = groups.
type x509Authenticator struct{}

func (x509Authenticator) authenticateRequest(r *http.Request) (*userInfo, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	if len(r.TLS.VerifiedChains) == 0 {
		return nil, false, errors.New("client certificate is not signed by a trusted CA")
	}
	cert := r.TLS.VerifiedChains[0][0]
	if cert.Subject.CommonName == "" {
		return nil, false, errors.New("client certificate has no common name")
	}
	return &userInfo{Name: cert.Subject.CommonName, Groups: cert.Subject.Organization}, true, nil
}

// authenticate is the whole chain. A bad credential is always an error,
// even when anonymous requests are allowed: a wrong token is not anonymous.
func authenticate(chain requestAuthenticator, anonymous bool, r *http.Request) (*userInfo, error) {
	user, ok, err := chain.authenticateRequest(r)
	switch {
	case err != nil:
		return nil, err
	case ok:
		return authenticated(user), nil
	case anonymous:
		return &userInfo{Name: userAnonymous, Groups: []string{groupUnauthenticated}}, nil
	}
	return nil, errors.New("no credentials")
}

// authenticated returns the user with system:authenticated among its groups.
func authenticated(user *userInfo) *userInfo {
	u := *user
	if !slices.Contains(u.Groups, groupAuthenticated) {
		u.Groups = append(slices.Clone(u.Groups), groupAuthenticated)
	}
	return &u
}

// The authenticated user travels in the request's context.
type userKey struct{}

func withUser(ctx context.Context, u *userInfo) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

func userFrom(ctx context.Context) *userInfo {
	u, _ := ctx.Value(userKey{}).(*userInfo)
	return u
}
