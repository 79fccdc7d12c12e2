// report and chart: several runs of each server, summarized. Runs are
// grouped by label; each figure is the median of its runs with their min
// and max, and each server is set against a baseline (kube-apiserver, if
// there is one) as an advantage: how many times faster, or smaller, it is.
// Runs are paired by their order in time (the i-th of each server ran in
// the same round), so a ratio compares runs that met the same machine.
//
//	loadtest report [--baseline LABEL] run-*.json    Markdown table
//	loadtest chart  [--baseline LABEL] run-*.json    SVG, on stdout
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
)

// keyMetric is one row of the report: a figure of a run, whether more of
// it is better, and the advantage over the baseline it should reach
// (0: none set).
type keyMetric struct {
	name   string
	unit   string
	higher bool // more is better (throughput); otherwise less is (time, memory)
	target float64
	of     func(*Result) (float64, bool)
}

// phaseValue reads a figure of one phase of a run.
func phaseValue(name string, f func(*PhaseResult) (float64, bool)) func(*Result) (float64, bool) {
	return func(r *Result) (float64, bool) {
		p := phase(r, name)
		if p == nil {
			return 0, false
		}
		return f(p)
	}
}

var keyMetrics = []keyMetric{
	{"cold start", "s", false, 20, phaseValue("coldstart", always(func(p *PhaseResult) float64 { return p.Seconds }))},
	{"creates", "/s", true, 3, phaseValue("create", always(func(p *PhaseResult) float64 { return p.Throughput }))},
	{"GET p50", "ms", false, 3, phaseValue("get", latency(func(l *Latency) float64 { return l.P50 }))},
	{"GETs", "/s", true, 3, phaseValue("get", always(func(p *PhaseResult) float64 { return p.Throughput }))},
	{"GETs, share of the ceiling", "%", true, 0, getShareOfCeiling},
	{"updates", "/s", true, 3, phaseValue("update", always(func(p *PhaseResult) float64 { return p.Throughput }))},
	{"updates of one object", "/s", true, 0, phaseValue("update-shared", always(func(p *PhaseResult) float64 { return p.Throughput }))},
	{"full list p50", "ms", false, 2, phaseValue("list", latency(func(l *Latency) float64 { return l.P50 }))},
	{"paged list p50", "ms", false, 0, phaseValue("list-paged", latency(func(l *Latency) float64 { return l.P50 }))},
	{"watch delivery p99", "ms", false, 2, phaseValue("watch", latency(func(l *Latency) float64 { return l.P99 }))},
	{"RSS idle", "MiB", false, 0, func(r *Result) (float64, bool) {
		return usageRSS(r.IdleServer)
	}},
	{"RSS after the run", "MiB", false, 4, func(r *Result) (float64, bool) {
		return usageRSS(r.AfterRun)
	}},
}

func usageRSS(u *Usage) (float64, bool) {
	if u == nil {
		return 0, false
	}
	return u.RSSEndMiB, true
}

// getShareOfCeiling is the get phase's throughput as a percentage of the
// ceiling phase's, in the same run.
func getShareOfCeiling(r *Result) (float64, bool) {
	get, ceiling := phase(r, "get"), phase(r, "ceiling")
	if get == nil || ceiling == nil || ceiling.Throughput == 0 {
		return 0, false
	}
	return 100 * get.Throughput / ceiling.Throughput, true
}

// summary is a set of numbers as median, min and max.
type summary struct{ median, min, max float64 }

func summarizeValues(values []float64) (summary, bool) {
	if len(values) == 0 {
		return summary{}, false
	}
	s := slices.Clone(values)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{m, s[0], s[len(s)-1]}, true
}

// runSet is the runs of each label, each label's in time order, and the
// labels in the order they first appear.
type runSet struct {
	labels   []string
	runs     map[string][]*Result
	baseline string
}

func readRuns(args []string) (*runSet, error) {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	baseline := fs.String("baseline", "", "the label the others are set against (default: kube-apiserver, if present, else the last label)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		return nil, errors.New("no result files")
	}
	set := &runSet{runs: map[string][]*Result{}}
	for _, file := range fs.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var r Result
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if _, seen := set.runs[r.Label]; !seen {
			set.labels = append(set.labels, r.Label)
		}
		set.runs[r.Label] = append(set.runs[r.Label], &r)
	}
	for _, runs := range set.runs {
		sort.SliceStable(runs, func(i, j int) bool { return runs[i].Started.Before(runs[j].Started) })
	}
	set.baseline = *baseline
	if set.baseline == "" {
		set.baseline = set.labels[len(set.labels)-1]
		if _, ok := set.runs["kube-apiserver"]; ok {
			set.baseline = "kube-apiserver"
		}
	}
	if _, ok := set.runs[set.baseline]; !ok {
		return nil, fmt.Errorf("no runs labelled %q", set.baseline)
	}
	return set, nil
}

// values is a metric over a label's runs.
func (s *runSet) values(label string, m keyMetric) []float64 {
	var out []float64
	for _, r := range s.runs[label] {
		if v, ok := m.of(r); ok {
			out = append(out, v)
		}
	}
	return out
}

// advantages are label's advantage over the baseline, round by round.
func (s *runSet) advantages(label string, m keyMetric) []float64 {
	var out []float64
	base := s.runs[s.baseline]
	for i, r := range s.runs[label] {
		if i >= len(base) {
			break
		}
		v, ok1 := m.of(r)
		b, ok2 := m.of(base[i])
		if !ok1 || !ok2 || v <= 0 || b <= 0 {
			continue
		}
		if m.higher {
			out = append(out, v/b)
		} else {
			out = append(out, b/v)
		}
	}
	return out
}

// others are the labels set against the baseline.
func (s *runSet) others() []string {
	var out []string
	for _, l := range s.labels {
		if l != s.baseline {
			out = append(out, l)
		}
	}
	return out
}

func reportFiles(out io.Writer, args []string) error {
	set, err := readRuns(args)
	if err != nil {
		return err
	}
	header := []string{"metric"}
	for _, l := range set.labels {
		header = append(header, fmt.Sprintf("%s (%d runs)", l, len(set.runs[l])))
	}
	for _, l := range set.others() {
		header = append(header, l+" advantage")
	}
	header = append(header, "target")
	fmt.Fprintln(out, "| "+strings.Join(header, " | ")+" |")
	fmt.Fprintln(out, "|"+strings.Repeat("---|", len(header)))
	for _, m := range keyMetrics {
		row := []string{m.name + " (" + m.unit + ")"}
		found := false
		for _, l := range set.labels {
			s, ok := summarizeValues(set.values(l, m))
			found = found || ok
			row = append(row, formatSummary(s, ok, ""))
		}
		if !found {
			continue
		}
		for _, l := range set.others() {
			s, ok := summarizeValues(set.advantages(l, m))
			if m.unit == "%" { // a share within each run: no ratio between servers
				ok = false
			}
			row = append(row, formatSummary(s, ok, "×"))
		}
		target := ""
		if m.target > 0 {
			target = fmt.Sprintf("≥ %g×", m.target)
		}
		if m.name == "GETs, share of the ceiling" {
			target = "≥ 50%"
		}
		fmt.Fprintln(out, "| "+strings.Join(append(row, target), " | ")+" |")
	}
	return nil
}

func formatSummary(s summary, ok bool, suffix string) string {
	if !ok {
		return "–"
	}
	if s.min == s.max {
		return format(s.median) + suffix
	}
	return fmt.Sprintf("%s%s (%s–%s)", format(s.median), suffix, format(s.min), format(s.max))
}

// chartFiles draws each label's advantage over the baseline, metric by
// metric, on a logarithmic scale: a bar to the right of 1× is better than
// the baseline; the whisker spans the rounds' min and max, the tick is the
// target.
func chartFiles(out io.Writer, args []string) error {
	set, err := readRuns(args)
	if err != nil {
		return err
	}
	type bar struct {
		metric, label string
		adv           summary
		target        float64
	}
	var bars []bar
	lo, hi := 0.5, 4.0
	for _, m := range keyMetrics {
		for _, l := range set.others() {
			s, ok := summarizeValues(set.advantages(l, m))
			if !ok || m.unit == "%" {
				continue
			}
			bars = append(bars, bar{m.name, l, s, m.target})
			lo, hi = math.Min(lo, s.min), math.Max(hi, math.Max(s.max, m.target))
		}
	}
	if len(bars) == 0 {
		return errors.New("nothing to draw: no metric both in the runs and in the baseline's")
	}
	lo, hi = math.Pow(2, math.Floor(math.Log2(lo))), math.Pow(2, math.Ceil(math.Log2(hi)))
	const left, width, rowH, top = 260.0, 480.0, 22.0, 40.0
	x := func(v float64) float64 {
		return left + width*(math.Log2(v)-math.Log2(lo))/(math.Log2(hi)-math.Log2(lo))
	}
	height := top + rowH*float64(len(bars)) + 40
	colors := []string{"#3b7dd8", "#e39b2d", "#4caf50", "#9c27b0"}
	others := set.others()

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", left+width+40, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="14" font-weight="bold">Times better than %s (right of 1×): median of rounds, whisker min–max, red tick the target</text>`+"\n", escapeXML(set.baseline))
	for v := lo; v <= hi*1.0001; v *= 2 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="%s"/>`+"\n", x(v), top-6, x(v), height-34, map[bool]string{true: "#333", false: "#ddd"}[v == 1])
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s×</text>`+"\n", x(v), height-20, format(v))
	}
	for i, br := range bars {
		y := top + rowH*float64(i)
		color := colors[slices.Index(others, br.label)%len(colors)]
		name := br.metric
		if len(others) > 1 {
			name += " — " + br.label
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-8, y+14, escapeXML(name))
		x0, x1 := x(1), x(br.adv.median)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", math.Min(x0, x1), y+4, math.Abs(x1-x0), rowH-8, color)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x(br.adv.min), y+rowH/2, x(br.adv.max), y+rowH/2)
		if br.target > 0 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c00" stroke-width="2"/>`+"\n", x(br.target), y+1, x(br.target), y+rowH-1)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s×</text>`+"\n", math.Max(x0, x1)+4, y+14, format(br.adv.median))
	}
	b.WriteString("</svg>\n")
	_, err = io.WriteString(out, b.String())
	return err
}

func escapeXML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
