// The server as a process: started by --exec for the cold-start phase and
// stopped at the end, and sampled during every phase for its resident memory
// and CPU time from /proc (Linux), summed over its PIDs: kube-apiserver's
// figures only mean something with etcd's beside them.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go runs on; reading it properly
// takes sysconf(_SC_CLK_TCK), which the standard library does not offer.
const clockTicks = 100

// sampleEvery is how often RSS is read during a phase, for its peak.
const sampleEvery = 100 * time.Millisecond

// readRSS is a process's resident set size in bytes (VmRSS).
func readRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}

// readCPU is the CPU time a process has used, user and system. The fields
// are counted after the command name, which is in parentheses and may hold
// spaces: utime and stime are the 14th and 15th fields of the line.
func readCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(data[i+1:])) // fields[0] is the 3rd field, the state
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// sumOver adds up read over the PIDs.
func sumOver[T int64 | time.Duration](pids []int, read func(int) (T, error)) (T, error) {
	var total T
	for _, pid := range pids {
		v, err := read(pid)
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}

// sampler follows the server's processes through one phase.
type sampler struct {
	pids     []int
	start    time.Time
	cpuStart time.Duration
	mu       sync.Mutex
	peakRSS  int64
	err      error
	stop     chan struct{}
	done     chan struct{}
}

// startSampling begins a phase's sampling; nil without PIDs.
func startSampling(pids []int) *sampler {
	if len(pids) == 0 {
		return nil
	}
	s := &sampler{pids: pids, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	s.cpuStart, s.err = sumOver(pids, readCPU)
	s.sample()
	go func() {
		defer close(s.done)
		ticker := time.NewTicker(sampleEvery)
		defer ticker.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-ticker.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	rss, err := sumOver(s.pids, readRSS)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.peakRSS = max(s.peakRSS, rss)
}

// finish ends the sampling and sums up: nil for a nil sampler.
func (s *sampler) finish() (*Usage, error) {
	if s == nil {
		return nil, nil
	}
	close(s.stop)
	<-s.done
	elapsed := time.Since(s.start)
	cpu, err := sumOver(s.pids, readCPU)
	rss, rssErr := sumOver(s.pids, readRSS)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := errors.Join(s.err, err, rssErr); err != nil {
		return nil, fmt.Errorf("sampling PIDs %v: %w", s.pids, err)
	}
	u := &Usage{CPUSeconds: (cpu - s.cpuStart).Seconds(), RSSPeakMiB: mib(max(s.peakRSS, rss)), RSSEndMiB: mib(rss)}
	u.CPUCores = u.CPUSeconds / elapsed.Seconds()
	return u, nil
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// loadAverage is the machine's load over the last 1, 5 and 15 minutes, as
// /proc/loadavg has it: on a shared machine, what else ran says how far
// to trust a run.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	fields := strings.Fields(string(data))
	if err != nil || len(fields) < 3 {
		return ""
	}
	return strings.Join(fields[:3], " ")
}

// selfCPU is the tool's own CPU time: on a machine it shares with the
// server, what the client burns is CPU the server did not get.
func selfCPU() time.Duration {
	d, _ := readCPU(os.Getpid())
	return d
}

// serverProcess is the server --exec started.
type serverProcess struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when it has exited, with err set
	err    error
}

// startServer starts --exec's command line with sh, which execs it: the PID
// is then the server's own. It runs in a process group of its own, so that
// a Ctrl-C to the tool does not reach it before the tool's cleanup is done
// with it; stop ends it.
func startServer(cmdline string, output *os.File) (*serverProcess, error) {
	cmd := exec.Command("/bin/sh", "-c", "exec "+cmdline)
	if output != nil {
		cmd.Stdout, cmd.Stderr = output, output
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProcess{cmd: cmd, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// stop sends SIGTERM, the graceful shutdown every API server implements,
// and SIGKILL if that takes more than 30 s.
func (p *serverProcess) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New("the server did not stop within 30 s of SIGTERM: killed")
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) && !exit.Exited() { // ended by the signal itself
		return nil
	}
	return p.err
}

// waitReady polls url until it answers 200, as a load balancer's readiness
// probe does, every 10 ms. It does not verify the server's certificate:
// a server started on a fresh data directory creates its CA only now, and
// /readyz is public in both kube-apiserver and this project. It fails
// early if the process exits.
func waitReady(ctx context.Context, url string, exited <-chan struct{}) error {
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	defer probe.CloseIdleConnections()
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := probe.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200: %w", url, ctx.Err())
		case <-exited:
			return errors.New("the server exited before it was ready")
		case <-ticker.C:
		}
	}
}
