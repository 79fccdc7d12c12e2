package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// testDir holds the databases of newStore; TestMain removes it at the end.
var (
	testDir    string
	testStores atomic.Int64
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chapter06-test")
	if err != nil {
		log.Fatal(err)
	}
	testDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newStore opens a fresh, empty store for a test.
func newStore() *store {
	st, err := openStore(filepath.Join(testDir, fmt.Sprintf("state-%d.db", testStores.Add(1))))
	if err != nil {
		log.Fatalf("opening a test store: %v", err)
	}
	return st
}
