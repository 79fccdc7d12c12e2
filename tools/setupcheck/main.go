// setupcheck checks a machine for the workshop (docs/workshop.md) and warms
// its build cache, so that nobody compiles SQLite during the session.
//
//	go run ./tools/setupcheck              # the tools, then the builds: minutes the first time
//	go run ./tools/setupcheck -skip-warm   # the tools only: seconds
//
// Required: the Go toolchain go.mod asks for, a C compiler cgo can use (SQLite
// is C, compiled through cgo), kubectl and curl. Optional: sqlite3, jq and
// openssl, which a few hands-on steps use. Each check prints one line, ok,
// warn or FAIL, and a FAIL says how to fix it; the exit status is 1 when a
// required check failed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/version"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// rootModule is the module path of the repository's go.mod; setupcheck looks
// for it upwards from the working directory.
const rootModule = "github.com/apiserver-from-scratch/apiserver-from-scratch"

// minKubectlMinor is the oldest kubectl the workshop's commands work with:
// `kubectl auth whoami` (chapter 03) asks for SelfSubjectReview v1, GA in 1.28.
const minKubectlMinor = 28

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole tool: it parses args, runs the checks, writes the report
// to stdout and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("setupcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	skipWarm := fs.Bool("skip-warm", false, "check the tools only; do not build the chapters, final and the exercises")
	ports := fs.String("ports", "6443,8080,8443", "comma-separated local ports the chapters use by default, to warn about when something already listens there (empty: do not check)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "setupcheck: unexpected arguments: %v\n", fs.Args())
		return 2
	}

	c := &checker{out: stdout}
	root, err := findRoot()
	if err != nil {
		c.report(result{fail, "repo", err.Error(), "run it from the root of a clone of the repository: go run ./tools/setupcheck"})
		return c.exitStatus()
	}
	c.root = root
	fmt.Fprintf(stdout, "Workshop set-up check in %s\n\n", root)

	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		c.report(result{fail, "repo", err.Error(), ""})
		return c.exitStatus()
	}
	c.checkGo(goDirective(goMod))
	c.checkCgo()
	c.checkKubectl(serverMinor(goMod))
	c.checkCurl()
	c.checkOptional("sqlite3", []string{"--version"}, 1, "chapter 06 opens its database with it",
		"install the sqlite3 shell (Debian/Ubuntu: sudo apt-get install sqlite3; macOS: brew install sqlite), or skip chapter 06's sqlite3 lines")
	c.checkOptional("openssl", []string{"version"}, 2, "chapter 03 looks inside a certificate with it",
		"install openssl (Debian/Ubuntu: sudo apt-get install openssl; macOS has it), or skip that line")
	c.checkOptional("jq", []string{"--version"}, 1, "the chapter guides' longer hands-on sections pick fields out of JSON with it",
		"install jq (Debian/Ubuntu: sudo apt-get install jq; macOS: brew install jq), or read those answers whole")
	c.checkPorts(*ports)
	if *skipWarm {
		c.report(result{skip, "build", "-skip-warm: the chapters, final and the exercises were not built", ""})
	} else {
		c.warm()
	}

	fmt.Fprintln(stdout)
	if c.failed > 0 {
		fmt.Fprintf(stdout, "%d required check(s) failed: fix them (see fix: above) and run this again.\n", c.failed)
	} else if *skipWarm {
		fmt.Fprintln(stdout, "The tools are ready. Run it once more without -skip-warm before the workshop, to build everything.")
	} else {
		fmt.Fprintln(stdout, "Ready: everything is built; `go run ./chapters/01` now starts in a second or two.")
	}
	return c.exitStatus()
}

type status string

const (
	ok   status = "ok"
	warn status = "warn"
	fail status = "FAIL"
	skip status = "skip"
)

type result struct {
	status status
	name   string // one word: go, cgo, kubectl, curl, ...
	detail string
	fix    string // printed under a warn or FAIL
}

type checker struct {
	root   string
	out    io.Writer
	failed int
}

func (c *checker) report(r result) {
	fmt.Fprintf(c.out, "%-4s  %-9s %s\n", r.status, r.name, r.detail)
	if r.fix != "" && (r.status == fail || r.status == warn) {
		fmt.Fprintf(c.out, "%-4s  %-9s fix: %s\n", "", "", r.fix)
	}
	if r.status == fail {
		c.failed++
	}
}

func (c *checker) exitStatus() int {
	if c.failed > 0 {
		return 1
	}
	return 0
}

// checkGo compares the toolchain the go command uses in the repository with
// go.mod's go line. With GOTOOLCHAIN=auto (the default) an older go on the
// PATH downloads the right one; the report says so.
func (c *checker) checkGo(want string) {
	if _, err := exec.LookPath("go"); err != nil {
		c.report(result{fail, "go", "the go command is not on the PATH", "install Go " + want + " or newer: https://go.dev/dl/"})
		return
	}
	used, err := output(c.root, nil, "go", "env", "GOVERSION")
	if err != nil {
		c.report(result{fail, "go", "go env GOVERSION: " + err.Error(), "install Go " + want + " or newer: https://go.dev/dl/"})
		return
	}
	used = strings.TrimSpace(used)
	if want == "" {
		c.report(result{warn, "go", used + " (go.mod has no go line to compare with)", ""})
		return
	}
	if version.Compare(used, "go"+want) < 0 {
		c.report(result{fail, "go", fmt.Sprintf("%s is older than the go %s that go.mod asks for", used, want), "install Go " + want + " or newer: https://go.dev/dl/"})
		return
	}
	detail := fmt.Sprintf("%s (go.mod asks for %s or newer)", used, want)
	// Outside any module, with GOTOOLCHAIN=local, the go command on the
	// PATH reports itself rather than a toolchain it switches to.
	onPath, err := output(os.TempDir(), []string{"GOTOOLCHAIN=local"}, "go", "env", "GOVERSION")
	if onPath = strings.TrimSpace(onPath); err == nil && onPath != used {
		detail += fmt.Sprintf("; the go on the PATH is %s and downloaded %s for this repository", onPath, used)
	}
	c.report(result{ok, "go", detail, ""})
}

// checkCgo builds and runs a program that calls C, the way go-sqlite3
// (chapters 06-09 and final) needs cgo to work.
func (c *checker) checkCgo() {
	const name = "cgo"
	fix := "install a C compiler: " + compilerHint()
	env, err := output(c.root, nil, "go", "env", "CC", "CGO_ENABLED")
	if err != nil {
		c.report(result{fail, name, "go env CC CGO_ENABLED: " + err.Error(), ""})
		return
	}
	lines := strings.Split(strings.TrimSpace(env), "\n")
	if len(lines) != 2 {
		c.report(result{fail, name, fmt.Sprintf("go env CC CGO_ENABLED printed %q", env), ""})
		return
	}
	cc, enabled := strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1])
	ccCommand := cc
	if f := strings.Fields(cc); len(f) > 0 {
		ccCommand = f[0]
	}
	if _, err := exec.LookPath(ccCommand); err != nil {
		c.report(result{fail, name, fmt.Sprintf("no C compiler: %q (go env CC) is not on the PATH, so cgo is off and SQLite cannot be built", ccCommand), fix})
		return
	}
	if enabled != "1" {
		c.report(result{fail, name, "cgo is off (CGO_ENABLED=" + enabled + "), so SQLite cannot be built", "unset CGO_ENABLED in your environment, or go env -w CGO_ENABLED=1"})
		return
	}
	dir, err := os.MkdirTemp("", "setupcheck-cgo-")
	if err != nil {
		c.report(result{fail, name, err.Error(), ""})
		return
	}
	defer os.RemoveAll(dir)
	files := map[string]string{
		"go.mod": "module cgocheck\n\ngo 1.21\n",
		"main.go": `package main

// static int answer(int a, int b) { return a + b; }
import "C"

import "fmt"

func main() { fmt.Println(C.answer(40, 2)) }
`,
	}
	for file, text := range files {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
			c.report(result{fail, name, err.Error(), ""})
			return
		}
	}
	out, err := output(dir, []string{"GOWORK=off"}, "go", "run", ".")
	if err != nil || strings.TrimSpace(out) != "42" {
		c.report(result{fail, name, "a program that calls C does not build or run with " + ccCommand + ":\n" + indent(tail(out+errString(err), 12)), fix})
		return
	}
	ccVersion, _ := output(dir, nil, ccCommand, "--version")
	c.report(result{ok, name, fmt.Sprintf("a program that calls C builds and runs (%s: %s)", ccCommand, firstLine(ccVersion)), ""})
}

func compilerHint() string {
	switch runtime.GOOS {
	case "darwin":
		return "xcode-select --install"
	case "windows":
		return "a MinGW-w64 gcc (for example from https://www.msys2.org), on the PATH; or use WSL"
	default:
		return "sudo apt-get install gcc (Debian, Ubuntu), sudo dnf install gcc (Fedora)"
	}
}

// checkKubectl reports kubectl's client version, fails below what the
// workshop needs and warns when it is more than one minor version away from
// the Kubernetes version the chapters report (kubectl's supported skew).
func (c *checker) checkKubectl(server int) {
	const name = "kubectl"
	install := fmt.Sprintf("install kubectl 1.%d or newer: https://kubernetes.io/docs/tasks/tools/", minKubectlMinor)
	if server > 0 {
		install = fmt.Sprintf("install kubectl (1.%d to 1.%d match the chapters best; 1.%d or newer works): https://kubernetes.io/docs/tasks/tools/", server-1, server+1, minKubectlMinor)
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		c.report(result{fail, name, "kubectl is not on the PATH", install})
		return
	}
	out, err := output(c.root, nil, "kubectl", "version", "--client", "-o", "json")
	if err != nil {
		c.report(result{fail, name, "kubectl version --client: " + err.Error(), install})
		return
	}
	gitVersion, minor, err := kubectlVersion([]byte(out))
	if err != nil {
		c.report(result{fail, name, err.Error(), install})
		return
	}
	switch {
	case minor < minKubectlMinor:
		c.report(result{fail, name, fmt.Sprintf("%s is too old: the workshop needs 1.%d or newer (kubectl auth whoami)", gitVersion, minKubectlMinor), install})
	case server > 0 && (minor < server-1 || minor > server+1):
		c.report(result{warn, name, fmt.Sprintf("%s: the chapters say they are v1.%d and kubectl supports one minor version of skew; the workshop's commands should work, but some output may differ from the docs", gitVersion, server),
			fmt.Sprintf("optional: kubectl 1.%d to 1.%d matches best: https://kubernetes.io/docs/tasks/tools/", server-1, server+1)})
	default:
		c.report(result{ok, name, gitVersion, ""})
	}
}

// kubectlVersion reads `kubectl version --client -o json`: the client's
// gitVersion and minor version ("32+" on some builds is 32).
func kubectlVersion(data []byte) (string, int, error) {
	var v struct {
		ClientVersion struct {
			Minor      string `json:"minor"`
			GitVersion string `json:"gitVersion"`
		} `json:"clientVersion"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return "", 0, fmt.Errorf("kubectl version --client -o json: %v", err)
	}
	minor, err := strconv.Atoi(strings.TrimRight(v.ClientVersion.Minor, "+"))
	if err != nil {
		return "", 0, fmt.Errorf("kubectl version --client -o json: minor version %q", v.ClientVersion.Minor)
	}
	return v.ClientVersion.GitVersion, minor, nil
}

func (c *checker) checkCurl() {
	if _, err := exec.LookPath("curl"); err != nil {
		c.report(result{fail, "curl", "curl is not on the PATH", "install curl (Debian/Ubuntu: sudo apt-get install curl; macOS and Windows 10+ have it)"})
		return
	}
	out, err := output(c.root, nil, "curl", "--version")
	if err != nil {
		c.report(result{fail, "curl", "curl --version: " + err.Error(), ""})
		return
	}
	if !hasProtocol(out, "https") {
		c.report(result{fail, "curl", firstWords(out, 2) + ": built without https", "install a curl with TLS (Debian/Ubuntu: sudo apt-get install curl)"})
		return
	}
	c.report(result{ok, "curl", firstWords(out, 2), ""})
}

func hasProtocol(curlVersion, protocol string) bool {
	for _, line := range strings.Split(curlVersion, "\n") {
		if rest, found := strings.CutPrefix(line, "Protocols:"); found {
			for _, p := range strings.Fields(rest) {
				if p == protocol {
					return true
				}
			}
		}
	}
	return false
}

// checkOptional reports an optional tool: ok with its version, or a warning
// saying which steps need it.
func (c *checker) checkOptional(tool string, versionArgs []string, words int, usedFor, fix string) {
	if _, err := exec.LookPath(tool); err != nil {
		c.report(result{warn, tool, "not on the PATH (optional: " + usedFor + ")", fix})
		return
	}
	out, err := output(c.root, nil, tool, versionArgs...)
	if err != nil {
		c.report(result{warn, tool, tool + " " + strings.Join(versionArgs, " ") + ": " + err.Error(), fix})
		return
	}
	c.report(result{ok, tool, firstWords(out, words), ""})
}

// checkPorts warns about the chapters' default ports that something on this
// machine already listens on (a kind or minikube cluster often has 6443). It
// only connects; it never listens.
func (c *checker) checkPorts(list string) {
	var ports []int
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			c.report(result{fail, "ports", fmt.Sprintf("-ports: %q is not a port", p), ""})
			return
		}
		ports = append(ports, n)
	}
	if len(ports) == 0 {
		c.report(result{skip, "ports", "not checked (-ports is empty)", ""})
		return
	}
	var busy, free []string
	for _, p := range ports {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), time.Second)
		if err == nil {
			conn.Close()
			busy = append(busy, strconv.Itoa(p))
		} else {
			free = append(free, strconv.Itoa(p))
		}
	}
	if len(busy) == 0 {
		c.report(result{ok, "ports", "nothing listens on 127.0.0.1 port " + strings.Join(free, ", "), ""})
		return
	}
	c.report(result{warn, "ports", "something already listens on 127.0.0.1 port " + strings.Join(busy, ", "),
		"start the chapters on free ports: --port=0 (01-02, and the chapter 05 webhook) or --secure-port=0 (03-09, and the chapter 09 extension), then use the URL they print"})
}

// warm builds everything the workshop runs, so that `go run` during the
// session only links: the chapters and final (go-sqlite3's C takes minutes
// the first time), the exercises' tests, and the client-go informer that
// chapter 07 runs.
func (c *checker) warm() {
	steps := []struct {
		name, dir string
		args      []string
		required  bool
		note      string
	}{
		{"build", ".", []string{"build", "./chapters/...", "./final/..."}, true, "the first build compiles SQLite's C: a few minutes"},
		{"exercises", "exercises", []string{"test", "-run", "XXX", "./..."}, true, ""},
		{"informer", filepath.Join("chapters", "testdata", "informer"), []string{"build", "-o", os.DevNull, "."}, false, "client-go, for chapter 07's informer"},
	}
	for _, s := range steps {
		command := "go " + strings.Join(s.args, " ")
		if s.dir != "." {
			command = "(cd " + filepath.ToSlash(s.dir) + " && " + command + ")"
		}
		note := ""
		if s.note != "" {
			note = " (" + s.note + ")"
		}
		fmt.Fprintf(c.out, "%-4s  %-9s %s%s ...\n", "", s.name, command, note)
		start := time.Now()
		out, err := output(filepath.Join(c.root, s.dir), []string{"GOWORK=off"}, "go", s.args...)
		took := time.Since(start).Round(100 * time.Millisecond)
		if err != nil {
			st, fix := fail, "fix what the output says; if modules could not be downloaded, check the network (or GOPROXY) and run this again"
			if !s.required {
				st = warn
				fix = "chapter 07's informer step will compile this at the time, or fail the same way; " + fix
			}
			c.report(result{st, s.name, command + " failed after " + took.String() + ":\n" + indent(tail(out+errString(err), 15)), fix})
			continue
		}
		c.report(result{ok, s.name, command + " (" + took.String() + ")", ""})
	}
}

// findRoot walks up from the working directory to the repository's go.mod.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(data) == rootModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s in the working directory or above it", rootModule)
		}
		dir = parent
	}
}

func modulePath(goMod []byte) string {
	return directive(goMod, "module")
}

// goDirective is go.mod's go line, such as "1.26.0".
func goDirective(goMod []byte) string {
	return directive(goMod, "go")
}

// serverMinor is the Kubernetes minor version the chapters report, the one
// of the k8s.io/api they are built with (v0.37.1 is Kubernetes 1.37), or 0.
func serverMinor(goMod []byte) int {
	s := bufio.NewScanner(bytes.NewReader(goMod))
	for s.Scan() {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(s.Text()), "require "))
		if len(f) >= 2 && f[0] == "k8s.io/api" {
			parts := strings.Split(strings.TrimPrefix(f[1], "v"), ".")
			if len(parts) >= 2 && parts[0] == "0" {
				if n, err := strconv.Atoi(parts[1]); err == nil {
					return n
				}
			}
		}
	}
	return 0
}

func directive(goMod []byte, name string) string {
	s := bufio.NewScanner(bytes.NewReader(goMod))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) == 2 && f[0] == name {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// output runs a command in dir with extra environment variables and returns
// its combined output. Nothing here should take long but the builds; ten
// minutes is the limit for them on a slow laptop.
func output(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

// firstWords is the start of a --version answer: "curl 7.88.1", "3.40.1".
func firstWords(s string, n int) string {
	f := strings.Fields(firstLine(s))
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string {
	return "          | " + strings.ReplaceAll(s, "\n", "\n          | ")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return "\n" + err.Error()
}
