// What a run measured, as it is written to --json and read back by
// compare, and how latencies are summarized: p50, p99 and max of every
// operation, from the client's side.
package main

import (
	"math"
	"slices"
	"time"
)

// Result is one run: where it ran, with what parameters, and each phase.
type Result struct {
	Label         string        `json:"label"`
	Server        string        `json:"server"`
	ServerVersion string        `json:"serverVersion"`
	Protocol      string        `json:"protocol"` // HTTP/2.0, or what the server negotiated
	Started       time.Time     `json:"started"`
	LoadAverage   [2]string     `json:"loadAverage"` // the machine's, at the start and at the end
	Params        Params        `json:"params"`
	IdleServer    *Usage        `json:"idleServer,omitempty"` // RSS before the first load phase
	AfterRun      *Usage        `json:"afterRun,omitempty"`   // RSS after the last phase
	Phases        []PhaseResult `json:"phases"`
}

// Params are the flags that shape the load, so that two runs can be checked
// to be comparable.
type Params struct {
	Clients     int      `json:"clients"`
	Objects     int      `json:"objects"`
	ObjectBytes int      `json:"objectBytes"`
	Duration    string   `json:"duration"`
	ListSize    int      `json:"listSize"`
	PageSize    int      `json:"pageSize"`
	Watchers    int      `json:"watchers"`
	WatchEvents int      `json:"watchEvents"`
	Leases      int      `json:"leases,omitempty"`
	LeasePeriod string   `json:"leasePeriod,omitempty"`
	Phases      []string `json:"phases"`
	PIDs        []int    `json:"pids,omitempty"`
}

// PhaseResult is one phase. Ops are the operations that succeeded, and
// Throughput counts them per second of the phase's wall time; Errors are
// those that failed (Conflicts and Throttled are answers retried, not
// failures).
type PhaseResult struct {
	Name       string   `json:"name"`
	Seconds    float64  `json:"seconds"`
	Ops        int      `json:"ops"`
	Throughput float64  `json:"throughput"`
	Latency    *Latency `json:"latencyMs,omitempty"`
	Errors     int      `json:"errors"`
	FirstError string   `json:"firstError,omitempty"`
	Conflicts  int      `json:"conflicts,omitempty"`
	Throttled  int      `json:"throttled,omitempty"`
	Items      int      `json:"items,omitempty"` // objects one list returned
	Pages      int      `json:"pages,omitempty"` // responses one paged list took
	Bytes      int      `json:"bytes,omitempty"` // what one list's responses weighed

	Watch  *WatchResult `json:"watch,omitempty"`
	Leases *LeaseResult `json:"leases,omitempty"`

	ServerUsage      *Usage  `json:"serverUsage,omitempty"`
	ClientCPUSeconds float64 `json:"clientCpuSeconds"` // the tool's own CPU: it shares the machine
}

// Latency is a summary in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// WatchResult is the watch fan-out: Delivered must equal Expected
// (watchers × events), every watcher receiving every write exactly once.
type WatchResult struct {
	Watchers    int     `json:"watchers"`
	Events      int     `json:"events"`
	Expected    int     `json:"expected"`
	Delivered   int     `json:"delivered"`
	Duplicates  int     `json:"duplicates"`
	Bookmarks   int     `json:"bookmarks"`
	OpenSeconds float64 `json:"openSeconds"` // until every watch had its response headers
}

// Usage is the server's resources during a phase, summed over its PIDs.
type Usage struct {
	CPUSeconds float64 `json:"cpuSeconds"`
	CPUCores   float64 `json:"cpuCores"` // CPU seconds per second of wall time
	RSSPeakMiB float64 `json:"rssPeakMiB"`
	RSSEndMiB  float64 `json:"rssEndMiB"`
}

// percentile is the nearest-rank percentile of sorted durations: the
// smallest value with at least p% of the values at or below it. With few
// samples p99 is the max, which is the honest answer.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// summarize sorts the latencies (in place) and summarizes them; nil for none.
func summarize(latencies []time.Duration) *Latency {
	if len(latencies) == 0 {
		return nil
	}
	slices.Sort(latencies)
	return &Latency{
		Count: len(latencies),
		P50:   ms(percentile(latencies, 50)),
		P99:   ms(percentile(latencies, 99)),
		Max:   ms(latencies[len(latencies)-1]),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// perSecond is a rate that is 0, not +Inf, for a phase that took no time.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// merge adds the clients' tallies to a phase result.
func (p *PhaseResult) merge(tallies ...*tally) {
	var all []time.Duration
	for _, t := range tallies {
		all = append(all, t.latencies...)
		p.Ops += len(t.latencies)
		p.Errors += t.errors
		p.Conflicts += t.conflicts
		p.Throttled += t.throttled
		p.Items = max(p.Items, t.items)
		p.Pages = max(p.Pages, t.pages)
		p.Bytes = max(p.Bytes, t.bytes)
		if p.FirstError == "" {
			p.FirstError = t.firstErr
		}
	}
	p.Latency = summarize(all)
}
