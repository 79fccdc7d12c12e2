// Serving objects as stored. For most resources what a client reads is
// what the store holds, plus the resourceVersion: then get, list and watch
// send the stored bytes (store.AppendJSON) instead of decoding every object
// into maps and encoding it again. A list of 10,000 ConfigMaps is written
// item by item into the response, never built as one value; a watch event
// is encoded once and its bytes written by every watcher, not decoded and
// encoded by each.
// Tables, selectors (on watches) and resources whose objects are converted
// on the way out (a version other than the storage version) take the general path.
package apiserver

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/storage"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// servedAsStored tells whether a client reads res's objects as they are
// stored: present (convert.go) leaves them alone. The two must agree.
func servedAsStored(res *registry.Resource) bool {
	return res.Converter == nil
}

// sendsStored tells whether a read of res can send the stored bytes: the
// objects are served as stored, and the client wants them, not a Table.
func sendsStored(res *registry.Resource, r *http.Request) bool {
	return servedAsStored(res) && !wantsTable(r)
}

// storedAnswer is a verb's answer from an object's stored bytes, with its
// resourceVersion: what a get, a create or an update sends when sendsStored.
func storedAnswer(kv storage.KeyValue, code int) (any, int, error) {
	data, err := store.AppendJSON(nil, kv)
	return json.RawMessage(data), code, err
}

// noSelectors tells whether a request has no label or field selector.
func noSelectors(r *http.Request) bool {
	q := r.URL.Query()
	return q.Get("labelSelector") == "" && q.Get("fieldSelector") == ""
}

// storedList is a list response written from its items' stored bytes. Its
// fields come in the order encoding/json gives a map's keys, so it reads
// the same as the list encoded from decoded objects.
type storedList struct {
	apiVersion, kind string
	metadata         map[string]any
	items            []storage.KeyValue
}

func (l storedList) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 32<<10)
	head, err := json.Marshal(map[string]string{"apiVersion": l.apiVersion})
	if err != nil {
		return 0, err
	}
	bw.Write(head[:len(head)-1]) // {"apiVersion":"v1"
	bw.WriteString(`,"items":[`)
	for i, kv := range l.items {
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := store.WriteJSON(bw, kv); err != nil {
			return cw.n, err // the status is sent already: the client sees a list cut short
		}
	}
	tail, err := json.Marshal(map[string]any{"kind": l.kind, "metadata": l.metadata})
	if err != nil {
		return cw.n, err
	}
	bw.WriteString("],")
	bw.Write(tail[1:]) // "kind":"ConfigMapList","metadata":{…}}
	bw.WriteByte('\n')
	err = bw.Flush()
	return cw.n, err
}

// countingWriter counts what it writes, for io.WriterTo.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeStored writes a watch event whose object is as stored, as
// json.Encoder writes the others; false if the client is gone. The line is
// the one all the watchers of the change share (store.Event.Line).
func writeStored(w io.Writer, ev store.Event) bool {
	line, err := ev.Line()
	if err != nil {
		return false // a value that does not decode: the client lists again
	}
	_, err = w.Write(line)
	return err == nil
}
