// compare: two runs' results side by side, phase by phase, with the ratio
// of the second to the first. A ratio above 1 means more of it in B: better
// for throughput, worse for latency, CPU and memory.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// compareFiles is the compare subcommand: loadtest compare A.json B.json.
func compareFiles(out io.Writer, args []string) error {
	if len(args) != 2 {
		return errors.New("usage: loadtest compare A.json B.json")
	}
	var runs [2]*Result
	for i, file := range args {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &runs[i]); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	return compare(out, runs[0], runs[1])
}

// metric is one row of a phase: its name and how to read it from a phase.
type metric struct {
	name string
	of   func(*PhaseResult) (float64, bool) // false: the phase does not have it
}

func always(f func(*PhaseResult) float64) func(*PhaseResult) (float64, bool) {
	return func(p *PhaseResult) (float64, bool) { return f(p), true }
}

func latency(f func(*Latency) float64) func(*PhaseResult) (float64, bool) {
	return func(p *PhaseResult) (float64, bool) {
		if p.Latency == nil {
			return 0, false
		}
		return f(p.Latency), true
	}
}

func usage(f func(*Usage) float64) func(*PhaseResult) (float64, bool) {
	return func(p *PhaseResult) (float64, bool) {
		if p.ServerUsage == nil {
			return 0, false
		}
		return f(p.ServerUsage), true
	}
}

func nonZero(f func(*PhaseResult) int) func(*PhaseResult) (float64, bool) {
	return func(p *PhaseResult) (float64, bool) { return float64(f(p)), f(p) != 0 }
}

// coldStartMetrics and loadMetrics are the rows, in order; a row is shown
// when either run has it.
var coldStartMetrics = []metric{
	{"ready s", always(func(p *PhaseResult) float64 { return p.Seconds })},
	{"server CPU s", usage(func(u *Usage) float64 { return u.CPUSeconds })},
	{"server RSS MiB", usage(func(u *Usage) float64 { return u.RSSEndMiB })},
}

var loadMetrics = []metric{
	{"ops/s", always(func(p *PhaseResult) float64 { return p.Throughput })},
	{"p50 ms", latency(func(l *Latency) float64 { return l.P50 })},
	{"p99 ms", latency(func(l *Latency) float64 { return l.P99 })},
	{"max ms", latency(func(l *Latency) float64 { return l.Max })},
	{"items", nonZero(func(p *PhaseResult) int { return p.Items })},
	{"pages", nonZero(func(p *PhaseResult) int { return p.Pages })},
	{"MiB per list", func(p *PhaseResult) (float64, bool) { return mib(int64(p.Bytes)), p.Bytes != 0 }},
	{"delivered", func(p *PhaseResult) (float64, bool) {
		if p.Watch == nil {
			return 0, false
		}
		return float64(p.Watch.Delivered), true
	}},
	{"conflicts", nonZero(func(p *PhaseResult) int { return p.Conflicts })},
	{"429s", nonZero(func(p *PhaseResult) int { return p.Throttled })},
	{"errors", nonZero(func(p *PhaseResult) int { return p.Errors })},
	{"server CPU cores", usage(func(u *Usage) float64 { return u.CPUCores })},
	{"server RSS peak MiB", usage(func(u *Usage) float64 { return u.RSSPeakMiB })},
	{"client CPU s", always(func(p *PhaseResult) float64 { return p.ClientCPUSeconds })},
}

// compare writes the table.
func compare(out io.Writer, a, b *Result) error {
	for _, r := range []*Result{a, b} {
		fmt.Fprintf(out, "%s: %s %s over %s, started %s, load average %q to %q\n", label(r), r.Server, r.ServerVersion, r.Protocol,
			r.Started.Format("2006-01-02 15:04:05Z"), r.LoadAverage[0], r.LoadAverage[1])
	}
	if pa, pb := a.Params, b.Params; pa.Clients != pb.Clients || pa.Objects != pb.Objects || pa.ObjectBytes != pb.ObjectBytes ||
		pa.Duration != pb.Duration || pa.ListSize != pb.ListSize || pa.PageSize != pb.PageSize || pa.Watchers != pb.Watchers || pa.WatchEvents != pb.WatchEvents {
		fmt.Fprintf(out, "warning: the runs' parameters differ:\n  A %+v\n  B %+v\n", pa, pb)
	}
	fmt.Fprintln(out)
	t := table{{"phase", "metric", "A: " + label(a), "B: " + label(b), "B/A"}}
	if a.IdleServer != nil || b.IdleServer != nil {
		t.add("idle", "server RSS MiB", idleRSS(a), idleRSS(b))
	}
	for _, name := range phaseNames(a, b) {
		pa, pb := phase(a, name), phase(b, name)
		metrics := loadMetrics
		if name == "coldstart" {
			metrics = coldStartMetrics
		}
		first := name
		for _, m := range metrics {
			va, okA := read(pa, m)
			vb, okB := read(pb, m)
			if !okA && !okB {
				continue
			}
			t.add(first, m.name, value{va, okA}, value{vb, okB})
			first = ""
		}
	}
	t.print(out)
	return nil
}

// value is a figure, or none (shown as -).
type value struct {
	v  float64
	ok bool
}

func (v value) String() string {
	if !v.ok {
		return "-"
	}
	return format(v.v)
}

// table is rows of cells: names on the left, figures aligned on the right.
type table [][]string

// add appends a row; the ratio needs both figures, and A's not zero.
func (t *table) add(phase, metric string, a, b value) {
	ratio := "-"
	if a.ok && b.ok && a.v != 0 {
		ratio = strconv.FormatFloat(b.v/a.v, 'f', 2, 64) + "x"
	}
	*t = append(*t, []string{phase, metric, a.String(), b.String(), ratio})
}

func (t table) print(out io.Writer) {
	widths := make([]int, len(t[0]))
	for _, r := range t {
		for i, cell := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, r := range t {
		line := ""
		for i, cell := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i < 2 {
				line += cell + pad + "  "
			} else {
				line += "  " + pad + cell
			}
		}
		fmt.Fprintln(out, strings.TrimRight(line, " "))
	}
}

// format shows a figure with three significant digits or so, enough for
// runs this noisy, and whole numbers whole.
func format(v float64) string {
	switch {
	case v == math.Trunc(v):
		return strconv.FormatInt(int64(v), 10)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

func label(r *Result) string {
	if r.Label != "" {
		return r.Label
	}
	return r.Server
}

func idleRSS(r *Result) value {
	if r.IdleServer == nil {
		return value{}
	}
	return value{r.IdleServer.RSSEndMiB, true}
}

func read(p *PhaseResult, m metric) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return m.of(p)
}

// phaseNames are A's phases, then any only B has.
func phaseNames(a, b *Result) []string {
	var names []string
	for _, r := range []*Result{a, b} {
		for _, p := range r.Phases {
			if !slices.Contains(names, p.Name) {
				names = append(names, p.Name)
			}
		}
	}
	return names
}

func phase(r *Result, name string) *PhaseResult {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}
