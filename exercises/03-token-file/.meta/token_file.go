// Exercise 03, reference solution. Do not read this before you have tried:
// the exercise is the thinking, not the typing.
package tokenfile

import (
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
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
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // 3 or 4, checked below with a better message
	tokens := Tokens{}
	firstSeen := map[string]int{} // token -> line, to name both lines of a duplicate
	for {
		record, err := cr.Read()
		if err == io.EOF {
			return tokens, nil
		}
		if err != nil {
			// A *csv.ParseError already says "parse error on line N".
			return nil, err
		}
		// The reader skips comments and blank lines, so counting records
		// would give the wrong number: ask the reader where this one began.
		line, _ := cr.FieldPos(0)
		token, user, err := parseRecord(record)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if first, ok := firstSeen[token]; ok {
			return nil, fmt.Errorf("line %d: duplicate token (first on line %d)", line, first)
		}
		firstSeen[token] = line
		tokens[token] = user
	}
}

// parseRecord checks one record, token,user,uid[,groups].
func parseRecord(record []string) (string, User, error) {
	if len(record) < 3 || len(record) > 4 {
		return "", User{}, fmt.Errorf(`want token,user,uid[,"group1,group2"], got %d fields (quote a list of groups)`, len(record))
	}
	token, user := record[0], User{Name: record[1], UID: record[2]}
	if token == "" {
		return "", User{}, errors.New("empty token")
	}
	if user.Name == "" {
		return "", User{}, errors.New("empty user name")
	}
	if len(record) == 4 && record[3] != "" {
		for g := range strings.SplitSeq(record[3], ",") {
			g = strings.TrimSpace(g)
			if g == "" {
				return "", User{}, fmt.Errorf("empty group name in %q", record[3])
			}
			user.Groups = append(user.Groups, g)
		}
	}
	return token, user, nil
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
	header := r.Header.Get("Authorization")
	if header == "" {
		return nil, false, nil
	}
	fields := strings.Fields(header)
	if len(fields) != 2 || !strings.EqualFold(fields[0], "Bearer") {
		return nil, false, ErrMalformedHeader
	}
	user, ok := t.lookup(fields[1])
	if !ok {
		return nil, false, ErrInvalidToken
	}
	// user is a copy, but user.Groups still shares its array with the
	// stored user: clone before appending, or the append may write into it.
	user.Groups = slices.Clone(user.Groups)
	if !slices.Contains(user.Groups, GroupAuthenticated) {
		user.Groups = append(user.Groups, GroupAuthenticated)
	}
	return &user, true, nil
}

// lookup compares the token with every known token in constant time, so
// that how long a wrong guess takes says nothing about how close it was.
// (kube-apiserver's tokenfile uses a plain map lookup.)
func (t Tokens) lookup(token string) (User, bool) {
	var found User
	ok := false
	for known, user := range t {
		if subtle.ConstantTimeCompare([]byte(known), []byte(token)) == 1 {
			found, ok = user, true
		}
	}
	return found, ok
}
