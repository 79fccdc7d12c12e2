package apiserver

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// recordingResponse notes each Write and Flush an eventWriter makes.
type recordingResponse struct {
	writes  []string
	flushes int
	fail    error
}

func (r *recordingResponse) Write(p []byte) (int, error) {
	if r.fail != nil {
		return 0, r.fail
	}
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recordingResponse) Flush() { r.flushes++ }

// TestEventWriterWritesABurstAtOnce: events gathered between two flushes
// reach the response in one write, followed by one flush; a client that is
// gone shows at the flush.
func TestEventWriterWritesABurstAtOnce(t *testing.T) {
	resp := &recordingResponse{}
	out := &eventWriter{w: resp, flusher: resp}
	for _, ev := range []string{"one\n", "two\n", "three\n"} {
		if _, err := out.Write([]byte(ev)); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if len(resp.writes) != 0 || out.gathered() != len("one\ntwo\nthree\n") {
		t.Fatalf("before the flush: writes %q, gathered %d", resp.writes, out.gathered())
	}
	if !out.flush() {
		t.Fatal("flush reported a client that is gone")
	}
	if len(resp.writes) != 1 || resp.writes[0] != "one\ntwo\nthree\n" || resp.flushes != 1 {
		t.Fatalf("after the flush: writes %q, flushes %d; want one write of the three, one flush", resp.writes, resp.flushes)
	}
	if out.gathered() != 0 || out.buf != nil {
		t.Fatalf("after the flush %d bytes still gathered", out.gathered())
	}

	// More than a frame's data goes in frames' worths, each one TLS record.
	resp.writes = nil
	_, _ = out.Write([]byte(strings.Repeat("y", 2*frameData+100)))
	if !out.flush() {
		t.Fatal("flush reported a client that is gone")
	}
	var sizes []int
	for _, w := range resp.writes {
		sizes = append(sizes, len(w))
	}
	if !slices.Equal(sizes, []int{frameData, frameData, 100}) || frameData+9 != 16<<10 {
		t.Fatalf("a burst of two frames and 100 bytes was written in pieces of %v", sizes)
	}

	big := strings.Repeat("x", 3*maxEventWrite)
	_, _ = out.Write([]byte(big))
	resp.fail = errors.New("stream closed")
	flushes := resp.flushes
	if out.flush() {
		t.Fatal("flush to a failing response reported success")
	}
	if out.buf != nil || resp.flushes != flushes {
		t.Fatalf("after a failed flush: buffer kept %v, flushes %d", out.buf != nil, resp.flushes)
	}
}
