// Bearer tokens: reading "Authorization: Bearer <token>", asking the token
// authenticators about the token, and the first of them, the static token
// file of --token-auth-file.
package authn

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// errInvalidToken is the answer for a bearer token no token authenticator
// recognised; the words are k8s.io/apiserver's (request/bearertoken).
var errInvalidToken = errors.New("invalid bearer token")

// BearerToken reads "Authorization: Bearer <token>" and asks Tokens about the
// token. A request without an Authorization header is not its business. An
// Authorization header that is not a bearer token is an error (401):
// Kubernetes passes it over as no credential, which turns a mistyped header
// into a silently anonymous request; we would rather the client heard of it.
type BearerToken struct {
	Tokens TokenAuthenticator
}

// AuthenticateRequest implements Authenticator.
func (b BearerToken) AuthenticateRequest(r *http.Request) (*request.User, bool, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return nil, false, nil
	}
	scheme, token, found := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return nil, false, errors.New(`malformed Authorization header: want "Bearer <token>"`)
	}
	user, ok, err := b.Tokens.AuthenticateToken(r.Context(), token)
	if !ok && err == nil {
		// A token was presented and nobody knew it: that is not anonymous.
		err = errInvalidToken
	}
	return user, ok, err
}

// TokenAuthenticators is a union of token authenticators, k8s.io/apiserver's
// unionAuthTokenHandler (token/union): the first that recognises the token
// wins; when none does, their errors together are the answer. With no error
// at all it has nothing to say, and leaves it to its caller (BearerToken,
// TokenReview) to call the token invalid.
type TokenAuthenticators []TokenAuthenticator

// AuthenticateToken asks each token authenticator, in order.
func (ts TokenAuthenticators) AuthenticateToken(ctx context.Context, token string) (*request.User, bool, error) {
	var errs aggregate
	for _, a := range ts {
		user, ok, err := a.AuthenticateToken(ctx, token)
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

// TokenFile is the static token file of --token-auth-file, by token. It is
// the simplest authenticator there is, and the least safe: the tokens never
// expire, and changing them takes a restart (Kubernetes' token/tokenfile).
type TokenFile map[string]*request.User

// LoadTokenFile reads kube-apiserver's --token-auth-file CSV: one user a
// line, token,user,uid and optionally "group1,group2". Lines starting with #
// are comments. Kubernetes skips an empty token and lets a repeated token
// overwrite the first with a warning; both are mistakes that decide who a
// request is, so here they are errors that name the line.
func LoadTokenFile(path string) (TokenFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading token file: %w", err)
	}
	defer f.Close()
	return parseTokenFile(f, path)
}

// parseTokenFile reads a token file's content; path names it in errors.
func parseTokenFile(content io.Reader, path string) (TokenFile, error) {
	r := csv.NewReader(content)
	r.FieldsPerRecord = -1 // the groups column is optional
	r.Comment = '#'
	tokens := TokenFile{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return tokens, nil
		}
		if err != nil { // a csv.ParseError names its line itself
			return nil, fmt.Errorf("parsing token file %s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) < 3 || rec[0] == "" || rec[1] == "" {
			return nil, fmt.Errorf("token file %s line %d: want token,user,uid[,\"group1,group2\"]", path, line)
		}
		if _, seen := tokens[rec[0]]; seen {
			return nil, fmt.Errorf("token file %s line %d: the token is already another line's", path, line)
		}
		user := &request.User{Name: rec[1], UID: rec[2]}
		if len(rec) > 3 && rec[3] != "" {
			user.Groups = strings.Split(rec[3], ",")
		}
		tokens[rec[0]] = user
	}
}

// AuthenticateToken implements TokenAuthenticator. A token it does not know
// is not its business: a service-account token, say.
func (t TokenFile) AuthenticateToken(_ context.Context, token string) (*request.User, bool, error) {
	for known, user := range t {
		// Compare in constant time, so how long an answer takes says nothing
		// about how much of a token was right.
		if subtle.ConstantTimeCompare([]byte(known), []byte(token)) == 1 {
			u := *user // the caller may change its copy; the file's stays as read
			u.Groups = slices.Clone(user.Groups)
			return &u, true, nil
		}
	}
	return nil, false, nil
}

// EnsureTokenFile writes a token file with three users and random tokens,
// the first time: admin (system:masters), alice (developers) and bob (no
// groups), for a new cluster's kubeconfigs. A file that exists is kept, so a
// restart invalidates no token.
func EnsureTokenFile(path string) error {
	var lines strings.Builder
	for _, u := range []struct{ name, uid, groups string }{
		{"admin", "uid-admin", request.GroupMasters},
		{"alice", "uid-alice", "developers"},
		{"bob", "uid-bob", ""},
	} {
		token := make([]byte, 24)
		if _, err := rand.Read(token); err != nil {
			return err
		}
		fmt.Fprintf(&lines, "%s,%s,%s,%q\n", hex.EncodeToString(token), u.name, u.uid, u.groups)
	}
	// O_EXCL: create only if absent, so two processes never both write it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("writing token file: %w", err)
	}
	_, err = f.WriteString(lines.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // a half-written file would be kept forever
		return fmt.Errorf("writing token file: %w", err)
	}
	return nil
}
