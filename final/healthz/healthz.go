// Package healthz answers /healthz, /livez and /readyz: named checks, all of
// which must pass for a 200. Kubelets and load balancers ask /livez (restart
// me if this fails) and /readyz (send me traffic only if this passes); people
// ask with ?verbose to see each check. The words of the answers are
// kube-apiserver's (k8s.io/apiserver/pkg/server/healthz), since scripts and
// probes grep them.
package healthz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Check is one named health check; Fn returns nil when healthy.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Ping always passes: the server answers HTTP, which is what liveness means
// at the least.
var Ping = Check{Name: "ping", Fn: func(context.Context) error { return nil }}

// Shutdown fails once stop is closed: a server that is shutting down is
// alive but no longer ready, so load balancers stop sending it requests
// while it finishes those it has (kube-apiserver's readyz "shutdown" check).
func Shutdown(stop <-chan struct{}) Check {
	return Check{Name: "shutdown", Fn: func(context.Context) error {
		select {
		case <-stop:
			return errors.New("process is shutting down")
		default:
			return nil
		}
	}}
}

// Handler serves path ("/healthz", "/livez" or "/readyz") with the checks
// (Ping alone if none), and path/<name> with one of them. Register it for
// both: mux.Handle("/readyz", h) and mux.Handle("/readyz/", h).
//
// GET path answers "ok" or, with ?verbose, one line per check; a failure is
// a 500 that always lists the checks, without their errors: the endpoint is
// public, the reasons go to the log. ?exclude=name (repeatable) skips a
// check. GET path/<name> runs that one check and does say why it failed.
func Handler(path string, checks ...Check) http.Handler {
	if len(checks) == 0 {
		checks = []Check{Ping}
	}
	name := strings.Trim(path, "/") // "readyz", as the answers name the endpoint
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			serveAll(w, r, name, checks)
			return
		}
		checkName, ok := strings.CutPrefix(r.URL.Path, path+"/")
		i := slices.IndexFunc(checks, func(c Check) bool { return c.Name == checkName })
		if !ok || i < 0 {
			http.NotFound(w, r)
			return
		}
		if err := checks[i].Fn(r.Context()); err != nil {
			http.Error(w, fmt.Sprintf("internal server error: %v", err), http.StatusInternalServerError)
			return
		}
		writeText(w, "ok")
	})
}

// serveAll runs every check not excluded, in order.
func serveAll(w http.ResponseWriter, r *http.Request, name string, checks []Check) {
	excluded := r.URL.Query()["exclude"]
	var out, reasons bytes.Buffer // out is for the client, reasons for the log
	var failed []string
	for _, c := range checks {
		if slices.Contains(excluded, c.Name) {
			fmt.Fprintf(&out, "[+]%s excluded: ok\n", c.Name)
			continue
		}
		if err := c.Fn(r.Context()); err != nil {
			fmt.Fprintf(&out, "[-]%s failed: reason withheld\n", c.Name)
			fmt.Fprintf(&reasons, "[-]%s failed: %v\n", c.Name, err)
			failed = append(failed, c.Name)
			continue
		}
		fmt.Fprintf(&out, "[+]%s ok\n", c.Name)
	}
	var unknown []string
	for _, e := range excluded {
		if !slices.ContainsFunc(checks, func(c Check) bool { return c.Name == e }) {
			unknown = append(unknown, strconv.Quote(e))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		fmt.Fprintf(&out, "warn: some health checks cannot be excluded: no matches for %s\n", strings.Join(slices.Compact(unknown), ","))
	}

	if len(failed) > 0 { // always verbose on failure
		log.Printf("%s check failed: %s\n%s", strings.Join(failed, ","), name, reasons.String())
		http.Error(w, fmt.Sprintf("%s%s check failed", out.String(), name), http.StatusInternalServerError)
		return
	}
	if _, verbose := r.URL.Query()["verbose"]; !verbose {
		writeText(w, "ok")
		return
	}
	writeText(w, fmt.Sprintf("%s%s check passed\n", out.String(), name))
}

func writeText(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	fmt.Fprint(w, text)
}
