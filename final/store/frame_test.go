package store

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/watchcache"
)

// Through the watch cache, the watchers of a change write the same line,
// encoded once: two watchers (of the namespace and of all namespaces) get
// the very same bytes, and they read as json.Encoder writes the event.
func TestWatchersShareOneLine(t *testing.T) {
	s := newStore(t)
	s.Cache = watchcache.New(t.Context(), s.Backend())
	var lines [][]byte
	var watches []<-chan Event
	for _, namespace := range []string{"default", ""} {
		events, err := s.WatchStored(t.Context(), configmaps, namespace, 0)
		if err != nil {
			t.Fatal(err)
		}
		watches = append(watches, events)
	}
	created, err := s.Create(t.Context(), configmaps, configMap("default", "a", "<1>"))
	if err != nil {
		t.Fatal(err)
	}
	for _, events := range watches {
		select {
		case ev := <-events:
			line, err := ev.Line()
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, line)
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
		}
	}
	var want bytes.Buffer
	_ = json.NewEncoder(&want).Encode(struct {
		Type   string        `json:"type"`
		Object object.Object `json:"object"`
	}{"ADDED", created})
	for i, line := range lines {
		if string(line) != want.String() {
			t.Errorf("watcher %d:\n got %s\nwant %s", i, line, want.String())
		}
	}
	if &lines[0][0] != &lines[1][0] {
		t.Error("each watcher encoded the event: the two lines are two copies")
	}
	// A second change gets its own line.
	if _, err := s.Create(t.Context(), configmaps, configMap("default", "b", "2")); err != nil {
		t.Fatal(err)
	}
	ev := <-watches[0]
	line, err := ev.Line()
	if err != nil || bytes.Equal(line, lines[0]) || !bytes.Contains(line, []byte(`"name":"b"`)) {
		t.Errorf("second event: %s, %v", line, err)
	}
}
