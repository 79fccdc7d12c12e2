package store

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage/sqlite"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/watchcache"
)

// BenchmarkWatchFanOut is one ConfigMap of ~1 KiB created and sent to each
// of 1,000 watchers of its namespace through the watch cache (one op: one
// create, 1,000 deliveries). Shared writes the line every watcher shares
// (Event.Line); PerWatcher splices the object into each watcher's response
// itself, as a watch did before the line was shared.
func BenchmarkWatchFanOut(b *testing.B) {
	b.Run("Shared", func(b *testing.B) {
		benchmarkFanOut(b, func(w io.Writer, ev Event) error {
			line, err := ev.Line()
			if err == nil {
				_, err = w.Write(line)
			}
			return err
		})
	})
	b.Run("PerWatcher", func(b *testing.B) {
		benchmarkFanOut(b, func(w io.Writer, ev Event) error {
			if _, err := io.WriteString(w, `{"type":"`+ev.Type+`","object":`); err != nil {
				return err
			}
			if err := WriteJSON(w, ev.Stored); err != nil {
				return err
			}
			_, err := io.WriteString(w, "}\n")
			return err
		})
	})
}

func benchmarkFanOut(b *testing.B, deliver func(io.Writer, Event) error) {
	const watchers = 1000
	backend, err := sqlite.Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { backend.Close() })
	s := New(backend)
	s.Cache = watchcache.New(b.Context(), s.Backend())
	data := strings.Repeat("v", 1000)
	var delivered sync.WaitGroup
	for range watchers {
		st, err := s.Stream(b.Context(), configmaps, "bench", 0, true, nil)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			defer st.Stop()
			w := bufio.NewWriterSize(io.Discard, 4096) // as a response's buffer
			var events []Event
			for open := true; open; {
				select {
				case <-st.Ready():
				case <-b.Context().Done():
					return
				}
				events, open = st.Next(events[:0])
				for _, ev := range events {
					if err := deliver(w, ev); err != nil || w.Flush() != nil {
						panic(fmt.Sprintf("delivering %s: %v", ev.Stored.Key, err))
					}
					delivered.Done()
				}
			}
		}()
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		delivered.Add(watchers)
		if _, err := s.Create(b.Context(), configmaps, configMap("bench", fmt.Sprintf("cm-%d", i), data)); err != nil {
			b.Fatal(err)
		}
		delivered.Wait()
	}
}
