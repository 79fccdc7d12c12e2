package store

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/storagetest"
)

// BenchmarkStore is storagetest's Create, Get and List10k on objects instead
// of bytes, on SQLite: the same shapes (16 clients, ConfigMaps of ~1 KiB), so
// that the difference with BenchmarkSQLite is the cost of the object layer
// (JSON both ways, keys, resourceVersions).
func BenchmarkStore(b *testing.B) {
	data := strings.Repeat("v", 1000)
	open := func(b *testing.B) *Store {
		backend, err := sqlite.Open(filepath.Join(b.TempDir(), "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { backend.Close() })
		return New(backend)
	}
	fill := func(b *testing.B, s *Store, n int) {
		storagetest.Fill(b, n, func(i int) error {
			_, err := s.Create(b.Context(), configmaps, configMap("bench", fmt.Sprintf("cm-%05d", i), data))
			return err
		})
	}
	b.Run("Create", func(b *testing.B) {
		s := open(b)
		var n atomic.Int64
		storagetest.Parallel(b, func(int) error {
			_, err := s.Create(b.Context(), configmaps, configMap("bench", fmt.Sprintf("cm-%d", n.Add(1)), data))
			return err
		})
	})
	b.Run("Get", func(b *testing.B) {
		s := open(b)
		fill(b, s, 1000)
		storagetest.Parallel(b, func(int) error {
			_, err := s.Get(b.Context(), configmaps, "bench", fmt.Sprintf("cm-%05d", rand.IntN(1000)))
			return err
		})
	})
	b.Run("List10k", func(b *testing.B) {
		s := open(b)
		fill(b, s, 10000)
		storagetest.Serial(b, func() error {
			items, _, _, err := s.List(b.Context(), configmaps, "bench", ListOptions{})
			if err == nil && len(items) != 10000 {
				err = fmt.Errorf("listed %d objects of 10000", len(items))
			}
			return err
		})
	})
}
