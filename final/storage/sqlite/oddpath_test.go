package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// A file name is a URI path to SQLite: "?", "#" and "%" in it must not be
// read as options, a fragment or an escape.
func TestOpenOddPath(t *testing.T) {
	base := filepath.Join(t.TempDir(), "a?b#c d%20")
	s, err := Open(base + ".db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Create(context.Background(), "/k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if found, _ := filepath.Glob(filepath.Join(filepath.Dir(base), "a[?]b#c d%20.db")); len(found) != 1 {
		t.Fatalf("the database is not at the path given: %v", found)
	}
}
