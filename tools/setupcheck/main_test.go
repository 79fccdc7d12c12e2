package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The tests run the real program: the test binary runs main when this
// variable is set, so that a test can give it another PATH and read its
// exit status.
const runMainEnv = "SETUPCHECK_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

type line struct{ status, detail, fix string }

// setupcheck runs the program with args and extra environment, from this
// package's directory (it finds the repository above it), and returns its
// lines by check name, its whole output and its exit status.
func setupcheck(t *testing.T, env []string, args ...string) (map[string]line, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), runMainEnv+"=1"), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if exitErr, isExit := err.(*exec.ExitError); isExit {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("running setupcheck: %v\n%s", err, out)
	}
	lines := map[string]line{}
	re := regexp.MustCompile(`^(ok|warn|FAIL|skip)\s+(\S+)\s+(.*)$`)
	last := ""
	for _, l := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			lines[m[2]] = line{status: m[1], detail: m[3]}
			last = m[2]
		} else if _, fix, found := strings.Cut(l, "fix: "); found && last != "" {
			r := lines[last]
			r.fix = fix
			lines[last] = r
		}
	}
	return lines, string(out), code
}

func commandOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return strings.TrimSpace(string(out))
}

func onPath(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// On this machine, as it is: each check reports what the test finds here
// by itself, and the exit status is 1 exactly when a required tool is
// missing.
func TestReportsThisMachine(t *testing.T) {
	lines, out, code := setupcheck(t, nil, "-skip-warm", "-ports=")

	wantFail := false
	expect := func(name string, present bool, okStatuses []string, missingStatus, mention string) {
		t.Helper()
		got, found := lines[name]
		if !found {
			t.Errorf("no %s line in:\n%s", name, out)
			return
		}
		if !present {
			if got.status != missingStatus {
				t.Errorf("%s is not on the PATH, so its status should be %s: %+v", name, missingStatus, got)
			}
			if got.fix == "" {
				t.Errorf("%s: a missing tool needs a fix: line: %+v", name, got)
			}
			if missingStatus == "FAIL" {
				wantFail = true
			}
			return
		}
		if !slices.Contains(okStatuses, got.status) {
			t.Errorf("%s is on the PATH: status %s, want one of %v: %+v", name, got.status, okStatuses, got)
		}
		if !strings.Contains(got.detail, mention) {
			t.Errorf("%s: detail %q does not mention %q", name, got.detail, mention)
		}
	}

	expect("go", true, []string{"ok"}, "FAIL", commandOutput(t, "go", "env", "GOVERSION"))

	cc := strings.Fields(commandOutput(t, "go", "env", "CC"))[0]
	cgo := onPath(cc) && commandOutput(t, "go", "env", "CGO_ENABLED") == "1"
	expect("cgo", cgo, []string{"ok"}, "FAIL", cc)

	if onPath("kubectl") {
		v, _, err := kubectlVersion([]byte(commandOutput(t, "kubectl", "version", "--client", "-o", "json")))
		if err != nil {
			t.Fatal(err)
		}
		// ok, or warn on version skew; FAIL only for a kubectl older than the workshop needs.
		expect("kubectl", true, []string{"ok", "warn", "FAIL"}, "FAIL", v)
		wantFail = wantFail || lines["kubectl"].status == "FAIL"
	} else {
		expect("kubectl", false, nil, "FAIL", "")
	}

	if onPath("curl") {
		expect("curl", true, []string{"ok"}, "FAIL", strings.Fields(commandOutput(t, "curl", "--version"))[1])
	} else {
		expect("curl", false, nil, "FAIL", "")
	}
	if onPath("sqlite3") {
		expect("sqlite3", true, []string{"ok"}, "warn", strings.Fields(commandOutput(t, "sqlite3", "--version"))[0])
	} else {
		expect("sqlite3", false, nil, "warn", "")
	}
	for _, tool := range []string{"openssl", "jq"} {
		if onPath(tool) {
			expect(tool, true, []string{"ok"}, "warn", "")
		} else {
			expect(tool, false, nil, "warn", "")
		}
	}

	if got := lines["build"]; got.status != "skip" {
		t.Errorf("with -skip-warm nothing is built, want a skip line for build: %+v", got)
	}
	for _, name := range []string{"exercises", "informer"} {
		if _, found := lines[name]; found {
			t.Errorf("with -skip-warm there is no %s step:\n%s", name, out)
		}
	}
	if got := lines["ports"]; got.status != "skip" {
		t.Errorf("-ports= checks no port: %+v", got)
	}
	if want := map[bool]int{false: 0, true: 1}[wantFail]; code != want {
		t.Errorf("exit status %d, want %d:\n%s", code, want, out)
	}
}

// With nothing on the PATH but the go command, every required tool fails
// with a fix, the optional ones warn, and the exit status is 1.
func TestReportsMissingTools(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the test links the go command into an empty directory")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on the PATH")
	}
	goTool, err = filepath.EvalSymlinks(goTool)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(goTool, filepath.Join(bin, "go")); err != nil {
		t.Fatal(err)
	}
	// The go command finds its GOROOT through the link. CC=gcc overrides a
	// CC set with go env -w to an absolute path.
	lines, out, code := setupcheck(t, []string{"PATH=" + bin, "CC=gcc"}, "-skip-warm", "-ports=")

	if got := lines["go"]; got.status != "ok" {
		t.Errorf("go is on the PATH: %+v\n%s", got, out)
	}
	for _, name := range []string{"cgo", "kubectl", "curl"} {
		got := lines[name]
		if got.status != "FAIL" || got.fix == "" {
			t.Errorf("%s: want FAIL with a fix, got %+v\n%s", name, got, out)
		}
	}
	if !strings.Contains(lines["cgo"].detail, "no C compiler") {
		t.Errorf("cgo: want it to say there is no C compiler: %+v", lines["cgo"])
	}
	for _, name := range []string{"sqlite3", "openssl", "jq"} {
		if got := lines[name]; got.status != "warn" || got.fix == "" {
			t.Errorf("%s is optional: want warn with a fix, got %+v", name, got)
		}
	}
	if code != 1 {
		t.Errorf("exit status %d, want 1:\n%s", code, out)
	}
	if !strings.Contains(out, "3 required check(s) failed") {
		t.Errorf("want the summary to count 3 failures:\n%s", out)
	}
}

// A port something listens on is a warning naming it, with the flags that
// pick a free port; a warning does not fail the check.
func TestWarnsAboutABusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	lines, out, _ := setupcheck(t, nil, "-skip-warm", "-ports="+port)
	got := lines["ports"]
	if got.status != "warn" || !strings.Contains(got.detail, port) || !strings.Contains(got.fix, "--secure-port=0") {
		t.Errorf("port %s is in use: want a warning naming it and --secure-port=0, got %+v\n%s", port, got, out)
	}

	_, out, code := setupcheck(t, nil, "-skip-warm", "-ports=http")
	if code != 1 || !strings.Contains(out, `"http" is not a port`) {
		t.Errorf("-ports=http: want exit status 1 and an error, got %d:\n%s", code, out)
	}
}

func TestKubectlVersion(t *testing.T) {
	for _, tt := range []struct {
		json, gitVersion string
		minor            int
	}{
		{`{"clientVersion":{"major":"1","minor":"37","gitVersion":"v1.37.1"}}`, "v1.37.1", 37},
		{`{"clientVersion":{"major":"1","minor":"32+","gitVersion":"v1.32.4-gke.100"}}`, "v1.32.4-gke.100", 32},
	} {
		v, minor, err := kubectlVersion([]byte(tt.json))
		if err != nil || v != tt.gitVersion || minor != tt.minor {
			t.Errorf("kubectlVersion(%s) = %q, %d, %v; want %q, %d", tt.json, v, minor, err, tt.gitVersion, tt.minor)
		}
	}
	if _, _, err := kubectlVersion([]byte(`{"clientVersion":{"minor":""}}`)); err == nil {
		t.Error("an empty minor version is an error")
	}
}

func TestGoMod(t *testing.T) {
	goMod := []byte("module " + rootModule + "\n\ngo 1.26.0\n\nrequire (\n\tgithub.com/gorilla/mux v1.8.1\n\tk8s.io/api v0.37.1\n)\n")
	if got := modulePath(goMod); got != rootModule {
		t.Errorf("modulePath = %q", got)
	}
	if got := goDirective(goMod); got != "1.26.0" {
		t.Errorf("goDirective = %q, want 1.26.0", got)
	}
	if got := serverMinor(goMod); got != 37 {
		t.Errorf("serverMinor = %d, want 37", got)
	}
	if got := serverMinor([]byte("module x\n\nrequire k8s.io/api v0.36.2\n")); got != 36 {
		t.Errorf("serverMinor of a one-line require = %d, want 36", got)
	}
}
