package apiserver

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
)

// FuzzContinueToken decodes arbitrary continue parameters. A token is
// user input: one that does not decode is a 400 BadRequest; one that does
// names a revision and a key in the store, and encoding what it names gives a
// token that decodes to the same. Tokens this server makes (encodeContinue)
// decode to what they were made from, and are the same string when made
// again.
func FuzzContinueToken(f *testing.F) {
	f.Add(encodeContinue(7, "/registry/configmaps/default/a"), int64(7), "/registry/configmaps/default/a")
	f.Add(encodeContinue(1, "/registry/secrets/kube-system/x\x00"), int64(-1), "/registry/")
	f.Add("garbage", int64(0), "")
	f.Add("Z2FyYmFnZQ", int64(1), "/registry/../etc")               // base64 of "garbage"
	f.Add("eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MX0", int64(9), "x") // no start key
	f.Add(`{"v":"meta.k8s.io/v1","rv":1,"start":"/registry/a"}`, int64(1<<62), "/registry/\xff")
	f.Fuzz(func(t *testing.T, token string, rev int64, key string) {
		if r, after, err := decodeContinue(token); err != nil {
			var se *apierrors.StatusError
			if !errors.As(err, &se) || se.Code != http.StatusBadRequest || se.Reason != "BadRequest" {
				t.Fatalf("%q: %v is not a 400 BadRequest", token, err)
			}
		} else {
			if r <= 0 || !strings.HasPrefix(after, "/registry/") {
				t.Fatalf("%q decodes to revision %d, key %q", token, r, after)
			}
			r2, after2, err := decodeContinue(encodeContinue(r, after))
			if err != nil || r2 != r || after2 != after {
				t.Fatalf("%q decodes to %d %q; encoded again, to %d %q (%v)", token, r, after, r2, after2, err)
			}
		}

		// Store keys are valid UTF-8 (names are validated), as JSON needs.
		if rev <= 0 || !strings.HasPrefix(key, "/registry/") || !utf8.ValidString(key) {
			return
		}
		made := encodeContinue(rev, key)
		r, after, err := decodeContinue(made)
		if err != nil || r != rev || after != key {
			t.Fatalf("encodeContinue(%d, %q) = %q decodes to %d %q (%v)", rev, key, made, r, after, err)
		}
		if again := encodeContinue(r, after); again != made {
			t.Fatalf("encodeContinue(%d, %q) made %q, then %q", rev, key, made, again)
		}
	})
}
