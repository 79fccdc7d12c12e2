// loadtest puts the same load on any Kubernetes API server — final, a
// chapter, or the real kube-apiserver — and reports what its clients saw
// (p50, p99 and max latency, throughput) and what it cost the server (CPU
// and resident memory from /proc, with --pid or --exec).
//
//	go build -o /tmp/final ./final
//	go run ./final/cmd/loadtest --label final --server https://127.0.0.1:17443 \
//	    --exec "/tmp/final --data-dir=/tmp/lt --secure-port=17443" \
//	    --ca /tmp/lt/ca.crt --cert /tmp/lt/admin.crt --key /tmp/lt/admin.key --json final.json
//	go run ./final/cmd/loadtest --label kube-apiserver --server https://127.0.0.1:16443 \
//	    --ca ca.crt --token "$TOKEN" --pid "$KUBE_APISERVER_PID,$ETCD_PID" --json kube-apiserver.json
//	go run ./final/cmd/loadtest compare final.json kube-apiserver.json
//
// The phases, in their default order: coldstart (with --exec: from exec to
// /readyz answering 200), create, get, ceiling (the get load against a
// fixed-JSON Go HTTPS server in this process: the fastest any server here
// can answer), update (each client its own object), update-shared (every
// client on one object, retrying on 409 Conflict), list and list-paged
// (--list-size objects, whole and in pages), watch (fan-out: every write to
// every watcher, and how long it took to get there). Two more run only when
// named: list-page (single pages, to compare a 10,000- and a 100,000-object
// store) and leases (--leases Leases renewed every --lease-period for
// --lease-duration: does latency or the database drift?).
//
// loadtest report and loadtest chart read several runs' JSON and print the
// medians of each server as a Markdown table, or draw them as SVG;
// perf.sh, beside this file, runs the whole comparison in one command.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// run is the whole tool, with its arguments and outputs, for the tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return compareFiles(stdout, args[1:])
		case "report":
			return reportFiles(stdout, args[1:])
		case "chart":
			return chartFiles(stdout, args[1:])
		}
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	lt := &loadTest{cfg: cfg, out: stdout}
	result, err := lt.run(ctx)
	if result == nil || cfg.jsonFile == "" {
		return err
	}
	// The results are written even if cleaning up failed afterwards.
	data, jsonErr := json.MarshalIndent(result, "", "  ")
	if jsonErr == nil {
		jsonErr = os.WriteFile(cfg.jsonFile, append(data, '\n'), 0o644)
	}
	return errors.Join(err, jsonErr)
}

// allPhases are the phases in the order they run by default: each leaves
// what the next may use (the objects create made are what get reads).
var allPhases = []string{"coldstart", "create", "get", "ceiling", "update", "update-shared", "list", "list-paged", "watch"}

// extraPhases run only when --phases names them.
var extraPhases = []string{"list-page", "leases"}

// config is the command line.
type config struct {
	server, label string
	creds         credentials
	namespace     string
	clients       int
	objects       int
	duration      time.Duration
	phases        []string
	watchers      int
	watchEvents   int
	listSize      int
	pageSize      int
	pids          []int
	exec          string
	leases        int
	leasePeriod   time.Duration
	leaseDuration time.Duration
	dataFile      string
	readyURL      string
	execLog       string
	jsonFile      string
}

// pidList is --pid: repeated, or comma-separated.
type pidList struct{ pids *[]int }

func (p pidList) String() string {
	if p.pids == nil {
		return ""
	}
	return fmt.Sprint(*p.pids)
}

func (p pidList) Set(v string) error {
	for _, field := range strings.Split(v, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || pid <= 0 {
			return fmt.Errorf("not a PID: %q", field)
		}
		*p.pids = append(*p.pids, pid)
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var phases string
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadtest --server URL [flags]\n       loadtest compare A.json B.json")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.server, "server", "https://127.0.0.1:6443", "the API server's URL")
	fs.StringVar(&c.creds.ca, "ca", "", "CA certificate that signed the server's certificate (default: the system's roots)")
	fs.StringVar(&c.creds.token, "token", "", "bearer token")
	fs.StringVar(&c.creds.cert, "cert", "", "client certificate (with --key), instead of a token")
	fs.StringVar(&c.creds.key, "key", "", "key of --cert")
	fs.StringVar(&c.label, "label", "", "the run's name in reports (default: the server's version)")
	fs.StringVar(&c.namespace, "namespace", "", "namespace for the objects; created if missing and then deleted at the end (default: loadtest-<unix time>)")
	fs.IntVar(&c.clients, "clients", 16, "clients at once, each with its own connection")
	fs.IntVar(&c.objects, "objects", 10000, "ConfigMaps (1 KiB) the create phase creates")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long each of get, update, update-shared, list and list-paged runs")
	fs.StringVar(&phases, "phases", "", "comma-separated phases to run, in order, of "+strings.Join(append(allPhases, extraPhases...), ",")+
		" (default: all but "+strings.Join(extraPhases, " and ")+"; coldstart only with --exec)")
	fs.IntVar(&c.watchers, "watchers", 1000, "watches the watch phase opens")
	fs.IntVar(&c.watchEvents, "watch-events", 100, "objects the watch phase writes, each to reach every watcher")
	fs.IntVar(&c.listSize, "list-size", 10000, "objects in the namespace when the list phases run (more are created if needed)")
	fs.IntVar(&c.pageSize, "page-size", 500, "limit of each request of the list-paged and list-page phases")
	fs.IntVar(&c.leases, "leases", 1000, "Leases the leases phase renews")
	fs.DurationVar(&c.leasePeriod, "lease-period", 2*time.Second, "how often the leases phase renews each Lease")
	fs.DurationVar(&c.leaseDuration, "lease-duration", 30*time.Second, "how long the leases phase runs (10m shows whether compaction keeps up)")
	fs.StringVar(&c.dataFile, "data-file", "", "the server's SQLite database (final's <data-dir>/state.db): the leases phase reports its size")
	fs.Var(pidList{&c.pids}, "pid", "server process to sample RSS and CPU of, per phase; repeat or separate with commas to sum several (kube-apiserver and etcd)")
	fs.StringVar(&c.exec, "exec", "", "command line that starts the server, for the coldstart phase; it is stopped (SIGTERM) at the end")
	fs.StringVar(&c.readyURL, "ready-url", "", "URL that answers 200 once the --exec server is ready (default: --server's /readyz)")
	fs.StringVar(&c.execLog, "exec-log", "", "file for the --exec server's output (default: discarded)")
	fs.StringVar(&c.jsonFile, "json", "", "write the results to this file as JSON")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if (c.creds.cert == "") != (c.creds.key == "") {
		return c, errors.New("--cert and --key go together")
	}
	if c.clients < 1 || c.objects < 0 || c.watchers < 0 || c.watchEvents < 0 || c.listSize < 0 || c.pageSize < 1 || c.duration <= 0 ||
		c.leases < 1 || c.leasePeriod <= 0 || c.leaseDuration <= 0 {
		return c, errors.New("--clients, --page-size, --leases and the durations must be positive; counts must not be negative")
	}
	c.server = strings.TrimSuffix(c.server, "/")
	if c.readyURL == "" {
		c.readyURL = c.server + "/readyz"
	}
	if c.namespace == "" {
		// A new name each run: a cluster without a namespace controller (the
		// reference kube-apiserver alone) keeps a deleted namespace
		// Terminating, and creating in it is then forbidden.
		c.namespace = fmt.Sprintf("loadtest-%d", time.Now().Unix())
	}
	if phases == "" {
		for _, p := range allPhases {
			if p != "coldstart" || c.exec != "" {
				c.phases = append(c.phases, p)
			}
		}
		return c, nil
	}
	for _, p := range strings.Split(phases, ",") {
		if !slices.Contains(allPhases, p) && !slices.Contains(extraPhases, p) {
			return c, fmt.Errorf("unknown phase %q: the phases are %s", p, strings.Join(append(allPhases, extraPhases...), ","))
		}
		if p == "coldstart" && c.exec == "" {
			return c, errors.New("the coldstart phase needs --exec")
		}
		c.phases = append(c.phases, p)
	}
	return c, nil
}

// loadTest is one run: the clients, and the objects the phases share.
type loadTest struct {
	cfg     config
	out     io.Writer
	pids    []int // --pid, and the --exec server's
	tls     *tls.Config
	clients []*client
	objects []*configMap // cm-000000, cm-000001, …: as last read or written
}

// run runs the phases, then deletes what it created and stops what it
// started, even when a phase fails or the tool is interrupted.
func (lt *loadTest) run(ctx context.Context) (_ *Result, err error) {
	cfg := lt.cfg
	lt.pids = cfg.pids
	result := &Result{Server: cfg.server, Label: cfg.label, Started: time.Now().UTC(), LoadAverage: [2]string{loadAverage()}, Params: Params{
		Clients: cfg.clients, Objects: cfg.objects, ObjectBytes: objectSize, Duration: cfg.duration.String(),
		ListSize: cfg.listSize, PageSize: cfg.pageSize, Watchers: cfg.watchers, WatchEvents: cfg.watchEvents, Phases: cfg.phases}}
	if slices.Contains(cfg.phases, "leases") {
		result.Params.Leases, result.Params.LeasePeriod = cfg.leases, cfg.leasePeriod.String()
	}

	defer func() { result.LoadAverage[1] = loadAverage() }()

	phases := cfg.phases
	if len(phases) > 0 && phases[0] == "coldstart" {
		p, stop, startErr := lt.coldStart(ctx)
		if stop != nil {
			defer func() {
				if stopErr := stop(); stopErr != nil {
					err = errors.Join(err, fmt.Errorf("stopping the server: %w", stopErr))
				}
			}()
		}
		if startErr != nil {
			return nil, startErr
		}
		lt.report(p)
		result.Phases = append(result.Phases, *p)
		phases = phases[1:]
	}
	result.Params.PIDs = lt.pids

	if err := lt.connect(ctx, result); err != nil {
		return nil, err
	}
	fmt.Fprintf(lt.out, "%s: %s over %s, namespace %s, %d clients\n", cfg.server, result.ServerVersion, result.Protocol, cfg.namespace, cfg.clients)
	if len(phases) == 0 { // a cold start alone: nothing to create or clean up
		return result, nil
	}
	created, err := lt.ensureNamespace(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cleanupErr := lt.cleanup(created); cleanupErr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up: %w", cleanupErr))
		}
	}()
	if result.IdleServer, err = startSampling(lt.pids).finish(); err != nil {
		return nil, err
	}

	for _, name := range phases {
		if name == "coldstart" {
			return nil, errors.New("coldstart can only be the first phase")
		}
		p, err := phaseFuncs[name](ctx, lt)
		if err != nil {
			return nil, fmt.Errorf("phase %s: %w", name, err)
		}
		lt.report(&p)
		result.Phases = append(result.Phases, p)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	// What the server holds on to once the load is over.
	if result.AfterRun, err = startSampling(lt.pids).finish(); err != nil {
		return nil, err
	}
	return result, nil
}

// connect makes the clients and opens each one's connection, so that no
// phase pays for TLS handshakes; it learns the server's version and the
// protocol it speaks.
func (lt *loadTest) connect(ctx context.Context, result *Result) error {
	var err error
	if lt.tls, err = lt.cfg.creds.tlsConfig(); err != nil {
		return err
	}
	lt.clients = lt.newClients(lt.cfg.clients)
	for _, c := range lt.clients {
		if result.ServerVersion, result.Protocol, err = c.version(ctx); err != nil {
			return err
		}
	}
	if result.Label == "" {
		result.Label = result.ServerVersion
	}
	return nil
}

// newClients makes n clients, each with a connection of its own.
func (lt *loadTest) newClients(n int) []*client {
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = &client{id: i, server: lt.cfg.server, token: lt.cfg.creds.token,
			http: &http.Client{Transport: newTransport(lt.tls)}, rng: newRand(i)}
	}
	return clients
}

// ensureNamespace creates the namespace unless it exists, and says whether
// it did.
func (lt *loadTest) ensureNamespace(ctx context.Context) (bool, error) {
	c := lt.clients[0]
	_, err := c.do(ctx, http.MethodGet, "/api/v1/namespaces/"+lt.cfg.namespace, nil)
	if !isStatus(err, http.StatusNotFound) {
		return false, err
	}
	body, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": lt.cfg.namespace}})
	_, err = c.do(ctx, http.MethodPost, "/api/v1/namespaces", body)
	return err == nil, err
}

// cleanup deletes the tool's objects, and the namespace if it created it;
// on its own context, since the run's may have been cancelled.
func (lt *loadTest) cleanup(deleteNamespace bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := lt.clients[0]
	_, err := c.do(ctx, http.MethodDelete, configMapsPath(lt.cfg.namespace)+"?labelSelector="+url.QueryEscape(loadLabel), nil)
	if err == nil && deleteNamespace {
		_, err = c.do(ctx, http.MethodDelete, "/api/v1/namespaces/"+lt.cfg.namespace, nil)
	}
	for _, c := range lt.clients {
		c.http.CloseIdleConnections()
	}
	return err
}

// report prints one phase as a line.
func (lt *loadTest) report(p *PhaseResult) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s", p.Name)
	if p.Name == "coldstart" {
		fmt.Fprintf(&b, " ready in %.2fs", p.Seconds)
	} else {
		fmt.Fprintf(&b, " %7d ops %9.1f/s", p.Ops, p.Throughput)
	}
	if l := p.Latency; l != nil {
		fmt.Fprintf(&b, "  p50 %.2fms p99 %.2fms max %.2fms", l.P50, l.P99, l.Max)
	}
	if p.Items > 0 {
		fmt.Fprintf(&b, "  items %d", p.Items)
	}
	if p.Pages > 0 {
		fmt.Fprintf(&b, " pages %d (%.1f MiB)", p.Pages, mib(int64(p.Bytes)))
	}
	if w := p.Watch; w != nil {
		fmt.Fprintf(&b, "  delivered %d/%d", w.Delivered, w.Expected)
	}
	if l := p.Leases; l != nil && len(l.Windows) > 0 {
		first, last := l.Windows[0], l.Windows[len(l.Windows)-1]
		if first.Latency != nil && last.Latency != nil {
			fmt.Fprintf(&b, "  p99 first window %.2fms, last %.2fms", first.Latency.P99, last.Latency.P99)
		}
		if last.DataBytes > 0 {
			fmt.Fprintf(&b, ", database %.1f MiB", mib(last.DataBytes))
		}
	}
	if p.Conflicts > 0 {
		fmt.Fprintf(&b, "  conflicts %d", p.Conflicts)
	}
	if p.Throttled > 0 {
		fmt.Fprintf(&b, "  429s %d", p.Throttled)
	}
	if u := p.ServerUsage; u != nil {
		fmt.Fprintf(&b, "  server %.2f cores, RSS %.0f MiB peak", u.CPUCores, u.RSSPeakMiB)
	}
	if p.Errors > 0 {
		fmt.Fprintf(&b, "  ERRORS %d (first: %s)", p.Errors, p.FirstError)
	}
	fmt.Fprintln(lt.out, b.String())
}
