// Exercise 03: the static token file authenticator.
//
// kube-apiserver --token-auth-file=tokens.csv reads a CSV file of bearer
// tokens and the users they stand for. A request that sends
// "Authorization: Bearer <token>" with one of those tokens is that user.
// This exercise parses the file and authenticates requests against it.
//
// Edit this file. The tests in token_file_test.go are the specification;
// README.md explains the rules.
package tokenfile

import (
	"errors"
	"io"
	"net/http"
)

// User is who a token stands for: a trimmed copy of k8s.io/apiserver's
// user.DefaultInfo.
type User struct {
	Name   string
	UID    string
	Groups []string
}

// Tokens maps each bearer token of the file to its user.
type Tokens map[string]User

// GroupAuthenticated is the group every authenticated user belongs to.
const GroupAuthenticated = "system:authenticated"

// The two ways a bearer token credential can be bad. AuthenticateRequest
// returns one of them (or an error that wraps it) so that callers can tell
// them apart with errors.Is.
var (
	// ErrMalformedHeader: there is an Authorization header, but it is not
	// "Bearer <token>".
	ErrMalformedHeader = errors.New(`malformed Authorization header: want "Bearer <token>"`)
	// ErrInvalidToken: the header is well formed, but no line of the file
	// has this token.
	ErrInvalidToken = errors.New("invalid bearer token")
)

// ParseTokenFile reads a token file: one user per line,
//
//	token,user,uid
//	token,user,uid,"group1,group2"
//
// Blank lines and lines starting with # are skipped. Any other line that is
// not a valid record is an error that names its line number ("line 4: ...").
func ParseTokenFile(r io.Reader) (Tokens, error) {
	// TODO: read the CSV records; allow 3 or 4 fields per record.
	// TODO: check each record, and report problems with their line number in
	//       the file (comments and blank lines count).
	// TODO: split the groups column into groups.
	panic("Please implement ParseTokenFile")
}

// AuthenticateRequest reads the bearer token of a request and looks it up.
//
//   - no Authorization header: nil, false, nil (not this authenticator's
//     kind of request; another one, or anonymous, may take it);
//   - a header that is not "Bearer <token>": an error wrapping ErrMalformedHeader;
//   - a token that is not in the file: an error wrapping ErrInvalidToken;
//   - a known token: its user, with GroupAuthenticated among the groups, true, nil.
//
// The returned user is the caller's to keep: changing it must not change t.
func (t Tokens) AuthenticateRequest(r *http.Request) (*User, bool, error) {
	// TODO: read and check the Authorization header.
	// TODO: find the token's user.
	// TODO: return a copy of the user with GroupAuthenticated added, once.
	panic("Please implement AuthenticateRequest")
}
