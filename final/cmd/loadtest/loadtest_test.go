package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/server"
)

// startFinal starts final in this process on a free port and a new data
// directory, as final/server's tests do, and returns its URL and directory.
func startFinal(t *testing.T) (url, dir string) {
	t.Helper()
	dir = t.TempDir()
	opts, err := server.ParseOptions([]string{"--secure-port=0", "--data-dir=" + dir}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	out, in := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, in); in.Close() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("reading the first line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	m := regexp.MustCompile(`^final serving on (\S+)`).FindStringSubmatch(line)
	if m == nil {
		cancel()
		t.Fatalf("first line %q", line)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the server did not stop within 30 s")
		}
	})
	return m[1], dir
}

// TestSmoke runs every phase, with small numbers, against final: it proves
// the tool works and counts right, never how fast anything is. The
// coldstart phase execs a stand-in (sleep) and takes the in-process
// server's /readyz as its readiness, which exercises start, probe and stop.
func TestSmoke(t *testing.T) {
	url, dir := startFinal(t)
	file := filepath.Join(t.TempDir(), "result.json")
	var stdout bytes.Buffer
	err := run(context.Background(), []string{
		"--server", url, "--ca", filepath.Join(dir, "ca.crt"),
		"--cert", filepath.Join(dir, "admin.crt"), "--key", filepath.Join(dir, "admin.key"),
		"--exec", "sleep 60", "--ready-url", url + "/readyz",
		"--pid", strconv.Itoa(os.Getpid()), "--namespace", "smoke", "--label", "final",
		"--clients", "2", "--objects", "20", "--duration", "300ms", "--watchers", "5", "--watch-events", "10",
		"--list-size", "50", "--page-size", "20", "--json", file,
	}, &stdout, io.Discard)
	t.Log("\n" + stdout.String())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var result Result
	if err := json.Unmarshal(data, &result); err != nil {
		t.Fatalf("the JSON does not parse: %v", err)
	}
	if result.Label != "final" || result.Protocol != "HTTP/2.0" || result.ServerVersion == "" {
		t.Errorf("label %q, protocol %q, version %q", result.Label, result.Protocol, result.ServerVersion)
	}
	var names []string
	for _, p := range result.Phases {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, allPhases) {
		t.Fatalf("phases %v, want %v", names, allPhases)
	}
	for _, p := range result.Phases {
		if p.Errors != 0 {
			t.Errorf("%s: %d errors, the first: %s", p.Name, p.Errors, p.FirstError)
		}
		if p.Ops == 0 || p.ServerUsage == nil || p.ServerUsage.RSSPeakMiB <= 0 {
			t.Errorf("%s: %d ops, server usage %+v", p.Name, p.Ops, p.ServerUsage)
		}
		if p.Name != "coldstart" && (p.Latency == nil || p.Latency.Count != p.Ops || p.Latency.Max < p.Latency.P50) {
			t.Errorf("%s: latency %+v for %d ops", p.Name, p.Latency, p.Ops)
		}
	}
	byName := func(name string) PhaseResult { return result.Phases[slices.Index(names, name)] }
	if p := byName("coldstart"); p.Seconds <= 0 {
		t.Errorf("coldstart: %v s", p.Seconds)
	}
	if p := byName("create"); p.Ops != 20 {
		t.Errorf("create: %d ops, want 20", p.Ops)
	}
	if p := byName("list"); p.Items != 50 || p.Pages != 1 || p.Bytes < 50*objectSize {
		t.Errorf("list: %d items in %d pages, want 50 in 1", p.Items, p.Pages)
	}
	if p := byName("list-paged"); p.Items != 50 || p.Pages != 3 || p.Bytes < 50*objectSize {
		t.Errorf("list-paged: %d items in %d pages, want 50 in 3", p.Items, p.Pages)
	}
	w := byName("watch").Watch
	if w == nil || w.Expected != 5*10 || w.Delivered != w.Expected || w.Duplicates != 0 {
		t.Errorf("watch: %+v, want every one of 10 events at each of 5 watchers, once", w)
	}

	// The tool cleaned up: its namespace is gone, or going (final's
	// namespace controller deletes it in the background).
	c := &client{server: url}
	conf, err := credentials{ca: filepath.Join(dir, "ca.crt"), cert: filepath.Join(dir, "admin.crt"), key: filepath.Join(dir, "admin.key")}.tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	c.http = &http.Client{Transport: newTransport(conf)}
	var ns struct {
		Status struct{ Phase string } `json:"status"`
	}
	if _, err := c.getJSON(context.Background(), "/api/v1/namespaces/smoke", &ns); err == nil && ns.Status.Phase != "Terminating" {
		t.Errorf("namespace smoke is still %q", ns.Status.Phase)
	}

	if result.AfterRun == nil || result.AfterRun.RSSEndMiB <= 0 {
		t.Errorf("no RSS after the run: %+v", result.AfterRun)
	}

	var table bytes.Buffer
	if err := run(context.Background(), []string{"compare", file, file}, &table, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^watch +ops/s +\S+ +\S+ +1\.00x$`).MatchString(table.String()) {
		t.Errorf("comparing a run with itself:\n%s", table.String())
	}

	// The phases that run only when asked for: single pages, and leases
	// renewed while the database file is watched.
	extra := filepath.Join(t.TempDir(), "extra.json")
	stdout.Reset()
	err = run(context.Background(), []string{
		"--server", url, "--ca", filepath.Join(dir, "ca.crt"),
		"--cert", filepath.Join(dir, "admin.crt"), "--key", filepath.Join(dir, "admin.key"),
		"--namespace", "smoke-extra", "--clients", "2", "--duration", "200ms", "--list-size", "30", "--page-size", "20",
		"--phases", "list-page,leases", "--leases", "10", "--lease-period", "100ms", "--lease-duration", "1s",
		"--data-file", filepath.Join(dir, "state.db"), "--json", extra,
	}, &stdout, io.Discard)
	t.Log("\n" + stdout.String())
	if err != nil {
		t.Fatal(err)
	}
	var extraResult Result
	if data, err := os.ReadFile(extra); err != nil || json.Unmarshal(data, &extraResult) != nil || len(extraResult.Phases) != 2 {
		t.Fatalf("%s: %v, %d phases", extra, err, len(extraResult.Phases))
	}
	if p := extraResult.Phases[0]; p.Name != "list-page" || p.Ops == 0 || p.Items != 20 || p.Errors != 0 {
		t.Errorf("list-page: %d ops of %d items, %d errors (%s)", p.Ops, p.Items, p.Errors, p.FirstError)
	}
	l := extraResult.Phases[1]
	if l.Name != "leases" || l.Leases == nil || l.Ops == 0 || l.Errors != 0 || len(l.Leases.Windows) != leaseWindows {
		t.Fatalf("leases: %+v, %d ops, %d errors (%s)", l.Leases, l.Ops, l.Errors, l.FirstError)
	}
	renewals := 0
	for _, w := range l.Leases.Windows {
		renewals += w.Renewals
	}
	if last := l.Leases.Windows[leaseWindows-1]; last.DataBytes <= 0 || renewals != l.Ops {
		t.Errorf("leases: %d renewals in the windows for %d ops, the last window %+v", renewals, l.Ops, last)
	}

	// report and chart: the run set against itself, relabelled as the baseline.
	result.Label = "kube-apiserver"
	baseline := filepath.Join(t.TempDir(), "baseline.json")
	if data, err := json.Marshal(result); err != nil || os.WriteFile(baseline, data, 0o644) != nil {
		t.Fatal(err)
	}
	var report bytes.Buffer
	if err := run(context.Background(), []string{"report", file, baseline}, &report, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\| creates \(/s\) \| \S+ \| \S+ \| 1× \| ≥ 3× \|$`).MatchString(report.String()) {
		t.Errorf("report of a run against itself:\n%s", report.String())
	}
	var chart bytes.Buffer
	if err := run(context.Background(), []string{"chart", file, baseline}, &chart, io.Discard); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&chart)
	bars := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not XML: %v", err)
		}
		if e, ok := tok.(xml.StartElement); ok && e.Name.Local == "rect" {
			bars++
		}
	}
	if bars < 5 { // the background and a bar per metric
		t.Errorf("the chart has %d rectangles", bars)
	}
}

func TestPercentile(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	ten := hundred[:10]
	for _, tc := range []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{hundred[:1], 50, time.Millisecond},
		{hundred[:1], 99, time.Millisecond},
		{hundred[:2], 50, time.Millisecond}, // nearest rank: ceil(0.5*2) = 1st
		{hundred, 50, 50 * time.Millisecond},
		{hundred, 99, 99 * time.Millisecond},
		{hundred, 100, 100 * time.Millisecond},
		{hundred, 0, time.Millisecond},
		{ten, 50, 5 * time.Millisecond},
		{ten, 99, 10 * time.Millisecond}, // with 10 samples p99 is the max
		{hundred, 99.5, 100 * time.Millisecond},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("p%v of %d values: %v, want %v", tc.p, len(tc.sorted), got, tc.want)
		}
	}
}

func TestSummarizeSortsAndConvertsToMilliseconds(t *testing.T) {
	l := summarize([]time.Duration{3 * time.Millisecond, time.Millisecond, 2500 * time.Microsecond, 40 * time.Millisecond})
	want := Latency{Count: 4, P50: 2.5, P99: 40, Max: 40}
	if l == nil || *l != want {
		t.Errorf("got %+v, want %+v", l, want)
	}
	if summarize(nil) != nil {
		t.Error("no latencies should summarize to nil")
	}
}

func TestCompare(t *testing.T) {
	phases := func(create, p99, rss, ready float64, delivered int) []PhaseResult {
		return []PhaseResult{
			{Name: "coldstart", Seconds: ready, Ops: 1},
			{Name: "create", Ops: 100, Throughput: create, Latency: &Latency{Count: 100, P50: 2, P99: p99, Max: 30},
				ServerUsage: &Usage{CPUCores: 1.5, RSSPeakMiB: rss}},
			{Name: "watch", Ops: delivered, Throughput: 1000, Latency: &Latency{Count: delivered, P50: 1, P99: 2, Max: 3},
				Watch: &WatchResult{Watchers: 10, Events: 10, Expected: 100, Delivered: delivered}},
		}
	}
	params := Params{Clients: 16, Objects: 100, ObjectBytes: 1024, Duration: "10s", ListSize: 10000, PageSize: 500, Watchers: 10, WatchEvents: 10}
	a := &Result{Label: "final", Server: "https://a", Params: params, IdleServer: &Usage{RSSEndMiB: 40}, Phases: phases(1000, 10, 50, 0.25, 100)}
	b := &Result{Label: "kube-apiserver", Server: "https://b", Params: params, IdleServer: &Usage{RSSEndMiB: 300}, Phases: phases(1500, 25, 400, 2, 100)}
	b.Phases = b.Phases[1:] // no cold start in B
	var out bytes.Buffer
	if err := compare(&out, a, b); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	t.Log("\n" + text)
	for _, line := range []string{
		`phase +metric +A: final +B: kube-apiserver +B/A`,
		`idle +server RSS MiB +40 +300 +7\.50x`,
		`coldstart +ready s +0\.250 +- +-`,
		`create +ops/s +1000 +1500 +1\.50x`,
		` +p99 ms +10 +25 +2\.50x`,
		` +server RSS peak MiB +50 +400 +8\.00x`,
		` +delivered +100 +100 +1\.00x`,
	} {
		if !regexp.MustCompile(`(?m)^` + line + `$`).MatchString(text) {
			t.Errorf("no line matching %q", line)
		}
	}
	if strings.Contains(text, "warning") {
		t.Error("the same parameters should not warn")
	}
	b.Params.Clients = 4
	out.Reset()
	_ = compare(&out, a, b)
	if !strings.Contains(out.String(), "warning: the runs' parameters differ") {
		t.Errorf("different parameters should warn:\n%s", out.String())
	}
}

func TestFormat(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 3: "3", 1500: "1500", 1499.6: "1500", 12.345: "12.3", 2.345: "2.35", 0.1234: "0.123"} {
		if got := format(v); got != want {
			t.Errorf("format(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"--server", "https://x/", "--pid", "1,2", "--pid", "3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.server != "https://x" || c.readyURL != "https://x/readyz" || !slices.Equal(c.pids, []int{1, 2, 3}) ||
		!slices.Equal(c.phases, allPhases[1:]) || !strings.HasPrefix(c.namespace, "loadtest-") {
		t.Errorf("parsed %+v", c)
	}
	for _, args := range [][]string{
		{"--phases", "coldstart"},   // needs --exec
		{"--phases", "create,nope"}, // no such phase
		{"--cert", "a.crt"},         // without --key
		{"--clients", "0"},
		{"--pid", "x"},
		{"stray"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestProcReadsThisProcess(t *testing.T) {
	rss, err := readRSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Errorf("RSS %d, %v", rss, err)
	}
	if _, err := readCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	if _, err := readRSS(-1); err == nil {
		t.Error("no error for a PID that cannot exist")
	}
}

func TestConfigMapWeighsOneKiB(t *testing.T) {
	data, _ := json.Marshal(newConfigMap("loadtest-1795000000", "cm-000001"))
	if len(data) != objectSize {
		t.Errorf("%d bytes, want %d", len(data), objectSize)
	}
}
