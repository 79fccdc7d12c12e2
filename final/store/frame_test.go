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
	var watches []*Stream
	for _, namespace := range []string{"default", ""} {
		st, err := s.Stream(t.Context(), configmaps, namespace, 0, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Stop()
		watches = append(watches, st)
	}
	created, err := s.Create(t.Context(), configmaps, configMap("default", "a", "<1>"))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range watches {
		line, err := nextEvent(t, st).Line()
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
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
	line, err := nextEvent(t, watches[0]).Line()
	if err != nil || bytes.Equal(line, lines[0]) || !bytes.Contains(line, []byte(`"name":"b"`)) {
		t.Errorf("second event: %s, %v", line, err)
	}
}

// nextEvent waits for a stream's next event, the only one waiting.
func nextEvent(t *testing.T, st *Stream) Event {
	t.Helper()
	select {
	case <-st.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	events, open := st.Next(nil)
	if len(events) != 1 || !open {
		t.Fatalf("%d events waiting (open %t), want one", len(events), open)
	}
	return events[0]
}
