package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// The files in testdata are watch streams as the servers sent them (a
// ConfigMap created and deleted while watching): final's from a fresh
// data directory, kube-apiserver's from v1.37.1.
func TestEventHeadOnRealStreams(t *testing.T) {
	for file, want := range map[string][]string{
		"testdata/watch-final.jsonl":          {"ADDED kube-root-ca.crt", "BOOKMARK ", "ADDED watch-000007", "DELETED watch-000007"},
		"testdata/watch-kube-apiserver.jsonl": {"ADDED watch-000007", "DELETED watch-000007"},
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReaderSize(bytes.NewReader(data), 16) // smaller than every line
		var lines, got []string
		var buf []byte
		for {
			line, err := readLine(r, &buf)
			if err != nil {
				break
			}
			typ, name, ok := eventHead(line)
			if !ok {
				t.Errorf("%s: eventHead refused %s", file, line)
			}
			fullTyp, fullName, err := decodeEvent(line)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if typ != fullTyp || name != fullName {
				t.Errorf("%s: eventHead = %q %q, encoding/json %q %q", file, typ, name, fullTyp, fullName)
			}
			got = append(got, typ+" "+name)
			lines = append(lines, string(line))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: events %q, want %q", file, got, want)
		}
		if strings.Join(lines, "\n")+"\n" != string(data) {
			t.Errorf("%s: readLine did not return the lines as they were", file)
		}
	}
}

func TestReadEventFallsBack(t *testing.T) {
	for _, tc := range []struct {
		line          string
		headOK        bool
		want          watchEvent
		wantDecodeErr bool
	}{
		{line: `{"type":"ADDED","object":{"metadata":{"name":"a","labels":{"x":"}{,"}},"data":{"k":"\"v\""}}}`,
			headOK: true, want: watchEvent{typ: "ADDED", name: "a"}},
		{line: ` { "object" : { "metadata" : { "name" : "b" } , "n" : [1, 2.5e3, true, null] } , "type" : "MODIFIED" } `,
			headOK: true, want: watchEvent{typ: "MODIFIED", name: "b"}},
		// An escaped name: encoding/json unquotes it.
		{line: `{"type":"ADDED","object":{"metadata":{"name":"w\u0061tch-000001"}}}`,
			want: watchEvent{typ: "ADDED", name: "watch-000001"}},
		// ERROR events are decoded in full for their message.
		{line: `{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}`,
			headOK: true, want: watchEvent{typ: "ERROR", message: "too old resource version: 1 (5)"}},
		{line: `{"type":"ADDED","object":{"metadata":{"name":"a"}}} {"type":"ADDED"}`, wantDecodeErr: true},
		{line: `{"type":"ADDED","object":{"metadata":{"name":"a"}`, wantDecodeErr: true},
		{line: `{"type":"ADDED","object":{"metadata":{"name":"a","x":}}}`, wantDecodeErr: true},
		{line: `["ADDED"]`, want: watchEvent{}, wantDecodeErr: true},
	} {
		if _, _, ok := eventHead([]byte(tc.line)); ok != tc.headOK {
			t.Errorf("eventHead(%s): ok = %v", tc.line, ok)
		}
		ev, err := readEvent([]byte(tc.line))
		if (err != nil) != tc.wantDecodeErr || ev != tc.want {
			t.Errorf("readEvent(%s) = %+v, %v", tc.line, ev, err)
		}
	}
}

// The watch phase's cost per event at the client: eventHead against a full
// decode, on kube-apiserver's ADDED event.
func BenchmarkEventHead(b *testing.B) {
	line := firstLine(b, "testdata/watch-kube-apiserver.jsonl")
	for b.Loop() {
		if _, _, ok := eventHead(line); !ok {
			b.Fatal("refused")
		}
	}
}

func BenchmarkEventDecode(b *testing.B) {
	line := firstLine(b, "testdata/watch-kube-apiserver.jsonl")
	for b.Loop() {
		if _, _, err := decodeEvent(line); err != nil {
			b.Fatal(err)
		}
	}
}

// decodeEvent is what eventHead spares: decoding the whole event.
func decodeEvent(line []byte) (typ, name string, err error) {
	var ev struct {
		Type   string `json:"type"`
		Object struct {
			Metadata objectMeta `json:"metadata"`
		} `json:"object"`
	}
	err = json.Unmarshal(line, &ev)
	return ev.Type, ev.Object.Metadata.Name, err
}

func firstLine(b *testing.B, file string) []byte {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	return line
}
