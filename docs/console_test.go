package docs

// TestConsole runs every ```console block of every guide and compares the
// output with what the guide shows. CONTRIBUTING.md, "Docs that run", is
// the contract for guide writers; this file is how it is kept.
//
// Each guide runs in a bash session of its own (a new one at a "new" or
// "chapter=" directive), from a scratch directory whose entries link to
// the repository's, with a fresh TMPDIR. "go run ./<package>" lines start
// a binary built once per test run, in the background. DOCS_SHOW=1 logs
// every command's real output, to paste into a guide.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	stepTimeout   = 150 * time.Second // one command (a cold build of client-go)
	serverTimeout = 60 * time.Second  // a server's first lines
	stopTimeout   = 30 * time.Second  // a server's shutdown after SIGINT
	guidesAtOnce  = 6
)

// The tools the guides' commands use.
var consoleTools = []string{"bash", "kubectl", "curl", "sqlite3", "jq", "python3", "openssl", "etcd"}

func TestConsole(t *testing.T) {
	for _, tool := range consoleTools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the guides' commands need %s: %v", tool, err)
			}
			t.Skipf("the guides' commands need %s: %v", tool, err)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	guides, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	b := &builder{root: root, dir: t.TempDir(), programs: map[string]*program{}}
	// Guides mostly wait (on servers, sleeps, kubectl's start-up), so
	// more of them run at once than -parallel's default of one per CPU.
	sem := make(chan struct{}, guidesAtOnce)
	var wg sync.WaitGroup
	// The longest guides first, so that they do not start last.
	first := map[string]int{"final.md": 2, "07-watch.md": 1, "09-aggregation.md": 1}
	sort.SliceStable(guides, func(i, j int) bool { return first[guides[i]] > first[guides[j]] })
	for _, guide := range guides {
		blocks, err := parseConsoleBlocks(guide, "docs/"+guide)
		if err != nil {
			t.Error(err)
			continue
		}
		// A "new" or "chapter=" directive starts a session that owes
		// nothing to the blocks before it, so each part runs apart.
		for i, part := range sessionParts(blocks) {
			name := strings.TrimSuffix(guide, ".md")
			if i > 0 {
				name += fmt.Sprintf("/line%d", part[0].line)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				t.Run(name, func(t *testing.T) {
					runGuide(t, b, part)
				})
			}()
		}
	}
	wg.Wait()
}

// sessionParts splits a guide's blocks where a directive starts a new
// session.
func sessionParts(blocks []consoleBlock) [][]consoleBlock {
	var parts [][]consoleBlock
	for i, blk := range blocks {
		fresh := i == 0
		for _, d := range blk.directives {
			fresh = fresh || d == "new" || strings.HasPrefix(d, "chapter=")
		}
		if fresh {
			parts = append(parts, nil)
		}
		parts[len(parts)-1] = append(parts[len(parts)-1], blk)
	}
	return parts
}

// chapterOf is the program a guide's "chapter=" directive names.
func chapterOf(name string) string {
	if name == "final" {
		return "./final"
	}
	return "./chapters/" + name
}

func runGuide(t *testing.T, b *builder, blocks []consoleBlock) {
	var s *session
	defer func() {
		if s != nil {
			s.close()
		}
	}()
	for _, blk := range blocks {
		for _, d := range blk.directives {
			switch {
			case d == "new" || strings.HasPrefix(d, "chapter="):
				if s != nil {
					s.close()
				}
				s = newSession(t, b)
				if chapter, ok := strings.CutPrefix(d, "chapter="); ok {
					if err := s.startChapter(chapterOf(chapter)); err != nil {
						t.Fatalf("%s:%d: %v", blk.doc, blk.line, err)
					}
				}
			case d == "stop" || strings.HasPrefix(d, "stop="):
				if s != nil {
					s.stop(strings.TrimPrefix(strings.TrimPrefix(d, "stop"), "="))
				}
			default:
				t.Fatalf("%s:%d: unknown run directive %q", blk.doc, blk.line, d)
			}
		}
		if s == nil {
			s = newSession(t, b)
		}
		if blk.file != "" {
			if err := s.save(blk.file, blk.content); err != nil {
				t.Fatalf("%s:%d: %v", blk.doc, blk.line, err)
			}
			continue
		}
		for _, st := range blk.steps {
			start := time.Now()
			err := s.run(blk.doc, st)
			if d := time.Since(start); os.Getenv("DOCS_TIMING") != "" && d > time.Second {
				t.Logf("%s:%d took %v: $ %.60s", blk.doc, st.line, d.Round(100*time.Millisecond), st.cmd)
			}
			var diff *outputDiff
			switch {
			case errors.As(err, &diff):
				// Output differs: say so and go on, to show every
				// difference of the guide in one run.
				t.Errorf("%s:%d: $ %s\n%v", blk.doc, st.line, st.cmd, err)
			case err != nil:
				t.Fatalf("%s:%d: $ %s\n%v", blk.doc, st.line, st.cmd, err)
			}
		}
	}
}

// A program is a main package a guide runs with go run, built once.
type program struct {
	pkg      string // ./chapters/06
	once     sync.Once
	bin      string
	portFlag string // secure-port or port: the flag the runner sets to 0
	err      error
}

type builder struct {
	root, dir string
	mu        sync.Mutex
	programs  map[string]*program
}

// program builds pkg once. The binary's path ends in exe/<name>, as go
// run's does, so that a guide's pkill -f "exe/06 ..." finds it.
func (b *builder) program(pkg string) (*program, error) {
	b.mu.Lock()
	p := b.programs[pkg]
	if p == nil {
		p = &program{pkg: pkg}
		b.programs[pkg] = p
		p.bin = filepath.Join(b.dir, fmt.Sprintf("b%03d", len(b.programs)), "exe", filepath.Base(pkg))
	}
	b.mu.Unlock()
	p.once.Do(func() {
		cmd := exec.Command("go", "build", "-o", p.bin, pkg)
		cmd.Dir = b.root
		if out, err := cmd.CombinedOutput(); err != nil {
			p.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
			return
		}
		// The port flag, from the usage: --secure-port from chapter 03 on
		// and in final, --port before it and in the webhook.
		usage, _ := exec.Command(p.bin, "-h").CombinedOutput()
		switch {
		case bytes.Contains(usage, []byte("-secure-port")):
			p.portFlag = "secure-port"
		case bytes.Contains(usage, []byte("-port")):
			p.portFlag = "port"
		}
	})
	return p, p.err
}

// A session is one bash shell and the servers started from it.
type session struct {
	t       *testing.T
	b       *builder
	dir     string // scratch files of the runner
	work    string // the shell's starting directory
	tmp     string // the shell's TMPDIR
	bash    *exec.Cmd
	stdin   *os.File
	lines   chan string
	m       *matcher
	servers []*server
	n       int
}

func newSession(t *testing.T, b *builder) *session {
	dir := t.TempDir()
	s := &session{t: t, b: b, dir: dir, work: filepath.Join(dir, "work"), tmp: filepath.Join(dir, "tmp")}
	for _, d := range []string{s.work, s.tmp, filepath.Join(dir, "steps")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The scratch directory links to the repository's entries, so that
	// ./chapters/06 and chapters/testdata/informer are there, and files a
	// guide creates (hello.yaml, data/) are not written into the tree.
	entries, err := os.ReadDir(b.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == ".git" || e.Name() == "data" {
			continue
		}
		if err := os.Symlink(filepath.Join(b.root, e.Name()), filepath.Join(s.work, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	s.m = &matcher{tmpdir: s.tmp, binds: map[string]string{}}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.bash = exec.Command("bash", "--noprofile", "--norc")
	s.bash.Dir = s.work
	s.bash.Env = sessionEnv(s.tmp)
	s.bash.Stdin, s.bash.Stdout, s.bash.Stderr = stdin, w, w
	s.bash.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.bash.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	w.Close()
	s.stdin = stdinW
	s.lines = make(chan string, 1024)
	go func() {
		defer close(s.lines)
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if l != "" {
				s.lines <- strings.TrimSuffix(l, "\n")
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

// sessionEnv is the test's environment without what would point a guide's
// kubectl at another cluster, with TMPDIR set.
func sessionEnv(tmp string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "KUBECONFIG=") || strings.HasPrefix(kv, "TMPDIR=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "TMPDIR="+tmp)
}

func (s *session) close() {
	for _, srv := range s.servers {
		srv.kill()
	}
	s.stdin.Close()
	if s.bash.Process != nil {
		syscall.Kill(-s.bash.Process.Pid, syscall.SIGKILL) // and its background jobs
		s.bash.Wait()
	}
}

// shell runs a command in the session's shell and returns its output.
func (s *session) shell(cmd string) ([]string, error) {
	s.n++
	file := filepath.Join(s.dir, "steps", fmt.Sprintf("%03d.sh", s.n))
	if err := os.WriteFile(file, []byte(cmd+"\n"), 0o644); err != nil {
		return nil, err
	}
	mark := fmt.Sprintf("__docs_step_%d_done__", s.n)
	// Sourced from a file, so that a syntax error ends the command and
	// not the session; stdin is /dev/null, never the runner's pipe.
	if _, err := fmt.Fprintf(s.stdin, ". %s </dev/null 2>&1\nprintf '%%s\\n' %s\n", file, mark); err != nil {
		return nil, fmt.Errorf("the shell is gone: %v", err)
	}
	var out []string
	timer := time.NewTimer(stepTimeout)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return out, errors.New("the shell exited")
			}
			if before, found := strings.CutSuffix(l, mark); found {
				if before != "" {
					out = append(out, before) // output without a final newline
				}
				return out, nil
			}
			out = append(out, l)
		case <-timer.C:
			return out, fmt.Errorf("no end after %v", stepTimeout)
		}
	}
}

var (
	serverLineRE = regexp.MustCompile(`^go run (\./[A-Za-z0-9_./-]+)(\s.*)?$`)
	goBuildRE    = regexp.MustCompile(`go build -o (\S+) (\./[A-Za-z0-9_./-]+)`)
)

// run runs one step: a server line, or a command in the shell.
func (s *session) run(doc string, st step) error {
	cmd := s.m.substitute(st.cmd)
	flat := strings.TrimSpace(strings.ReplaceAll(cmd, "\\\n", " ")) // continuation lines joined
	if m := serverLineRE.FindStringSubmatch(flat); m != nil && !strings.Contains(flat, "\n") {
		return s.startServer(m[1], strings.TrimSuffix(strings.TrimSpace(m[2]), "&"), st.want)
	}
	// go build -o X ./<main package> copies the binary built once for
	// the whole run: linking final again takes longer than all its
	// examples.
	for _, m := range goBuildRE.FindAllStringSubmatch(cmd, -1) {
		p, err := s.b.program(m[2])
		if err != nil {
			return err
		}
		cmd = strings.Replace(cmd, m[0], fmt.Sprintf("cp %s %s", p.bin, m[1]), 1)
	}
	got, err := s.shell(cmd)
	if err != nil {
		return err
	}
	if os.Getenv("DOCS_SHOW") != "" {
		s.t.Logf("%s:%d: $ %s\n%s", doc, st.line, st.cmd, strings.Join(got, "\n"))
	}
	got = trimEmptyTail(got)
	want := st.want
	for len(want) > 0 && strings.TrimSpace(want[len(want)-1].text) == "" {
		want = want[:len(want)-1]
	}
	if ok, mm := s.m.match(want, got, false); !ok {
		s.suggest(doc, st, got)
		return &outputDiff{describe(want, got, mm)}
	}
	return nil
}

// suggest appends, for DOCS_SUGGEST=file, the real output of a step whose
// output differs, with the real values put back to the guide's, as a JSON
// line a maintainer's script can apply.
func (s *session) suggest(doc string, st step, got []string) {
	file := os.Getenv("DOCS_SUGGEST")
	if file == "" {
		return
	}
	var pairs []string
	for k, v := range s.m.binds {
		pairs = append(pairs, v, k)
	}
	sortPairsByKeyLength(pairs)
	back := strings.NewReplacer(pairs...)
	var want, real []string
	for _, w := range st.want {
		want = append(want, w.text)
	}
	for _, g := range got {
		real = append(real, strings.ReplaceAll(back.Replace(g), s.tmp+"/", "/tmp/"))
	}
	line, _ := json.Marshal(map[string]any{"doc": doc, "line": st.line, "cmd": st.cmd, "want": want, "got": real})
	suggestMu.Lock()
	defer suggestMu.Unlock()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Log(err)
		return
	}
	defer f.Close()
	f.Write(append(line, '\n'))
}

var suggestMu sync.Mutex

// outputDiff is output that differs from the guide's.
type outputDiff struct{ text string }

func (d *outputDiff) Error() string { return d.text }

func trimEmptyTail(l []string) []string {
	for len(l) > 0 && strings.TrimSpace(l[len(l)-1]) == "" {
		l = l[:len(l)-1]
	}
	return l
}

// A server is a program a guide started with go run.
type server struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	exit string // "exit status N" once it ended with a non-zero status
}

func (srv *server) Write(p []byte) (int, error) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.out.Write(p)
}

// lines is what it printed so far, and whether it has ended.
func (srv *server) lines() ([]string, bool) {
	srv.mu.Lock()
	text := srv.out.String()
	srv.mu.Unlock()
	ended := false
	select {
	case <-srv.done:
		ended = true
		srv.mu.Lock()
		text = srv.out.String()
		srv.mu.Unlock()
	default:
		// A line still being written is not a line yet.
		if i := strings.LastIndex(text, "\n"); i >= 0 {
			text = text[:i+1]
		} else {
			text = ""
		}
	}
	l := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if text == "" {
		l = nil
	}
	if ended && srv.exit != "" {
		l = append(l, srv.exit)
	}
	return l, ended
}

func (srv *server) kill() {
	if srv.cmd.Process != nil {
		syscall.Kill(-srv.cmd.Process.Pid, syscall.SIGKILL)
		<-srv.done
	}
}

// startServer starts pkg with the arguments of a guide's go run line,
// expanded by the session's shell, and waits for its first lines.
func (s *session) startServer(pkg, args string, want []wantLine) error {
	p, err := s.b.program(pkg)
	if err != nil {
		return err
	}
	argv, env, dir, err := s.expand(args)
	if err != nil {
		return err
	}
	argv = freePort(argv, p.portFlag)
	srv := &server{name: filepath.Base(pkg), done: make(chan struct{})}
	srv.cmd = exec.Command(p.bin, argv...)
	srv.cmd.Dir, srv.cmd.Env = dir, env
	srv.cmd.Stdout, srv.cmd.Stderr = srv, srv
	srv.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.cmd.Start(); err != nil {
		return err
	}
	go func() {
		err := srv.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			srv.exit = fmt.Sprintf("exit status %d", ee.ExitCode())
		}
		close(srv.done)
	}()
	s.servers = append(s.servers, srv)

	want = trimWantTail(want)
	deadline := time.Now().Add(serverTimeout)
	for {
		got, ended := srv.lines()
		if ended {
			got = trimEmptyTail(got)
			if ok, mm := s.m.match(want, got, true); !ok {
				return &outputDiff{describe(want, got, mm)}
			}
			break
		}
		if s.m.prefixMatch(want, got) {
			break
		}
		if !hasEllipsis(want) && len(got) >= len(want) {
			got = got[:len(want)]
		}
		if time.Now().After(deadline) || (!hasEllipsis(want) && len(got) == len(want)) {
			_, mm := s.m.match(want, got, true)
			return &outputDiff{fmt.Sprintf("its first lines did not come in %v; %s", serverTimeout, describe(want, got, mm))}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if os.Getenv("DOCS_SHOW") != "" {
		got, _ := srv.lines()
		s.t.Logf("server %s printed:\n%s", pkg, strings.Join(got, "\n"))
	}
	return s.waitListening(srv)
}

func hasEllipsis(want []wantLine) bool {
	for _, w := range want {
		if strings.TrimSpace(w.text) == "..." {
			return true
		}
	}
	return false
}

func trimWantTail(want []wantLine) []wantLine {
	for len(want) > 0 && strings.TrimSpace(want[len(want)-1].text) == "" {
		want = want[:len(want)-1]
	}
	return want
}

var servingRE = regexp.MustCompile(`serving on https?://((?:127\.0\.0\.1|localhost):[0-9]+)`)

// waitListening waits until the address a server says it serves on takes
// connections, as a reader would by reading the line before typing.
func (s *session) waitListening(srv *server) error {
	got, _ := srv.lines()
	for _, l := range got {
		m := servingRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		for deadline := time.Now().Add(serverTimeout); ; {
			c, err := net.DialTimeout("tcp", m[1], time.Second)
			if err == nil {
				c.Close()
				return nil
			}
			select {
			case <-srv.done:
				return nil
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nothing listens on %s: %v", m[1], err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// expand has the session's shell expand a go run line's arguments, and
// returns them with the shell's environment and working directory.
func (s *session) expand(args string) (argv, env []string, dir string, err error) {
	base := filepath.Join(s.dir, fmt.Sprintf("expand%d", s.n))
	script := fmt.Sprintf("printf '%%s\\0' %s > %s.args\nenv -0 > %s.env\npwd > %s.dir", args, base, base, base)
	out, err := s.shell(script)
	if err != nil {
		return nil, nil, "", err
	}
	if len(out) > 0 {
		return nil, nil, "", fmt.Errorf("expanding the arguments: %s", strings.Join(out, "\n"))
	}
	read := func(ext string) []string {
		data, rerr := os.ReadFile(base + ext)
		if rerr != nil && err == nil {
			err = rerr
		}
		return strings.FieldsFunc(string(data), func(r rune) bool { return r == 0 })
	}
	argv, env = read(".args"), read(".env")
	data, rerr := os.ReadFile(base + ".dir")
	if rerr != nil {
		return nil, nil, "", rerr
	}
	return argv, env, strings.TrimSpace(string(data)), err
}

// freePort makes a server listen on a free port: a fixed --secure-port or
// --port becomes 0, and where none is given, one is added.
func freePort(argv []string, flag string) []string {
	if flag == "" {
		return argv
	}
	long := "--" + flag
	for i, a := range argv {
		switch {
		case a == long || a == "-"+flag:
			if i+1 < len(argv) {
				argv[i+1] = "0"
			}
			return argv
		case strings.HasPrefix(a, long+"=") || strings.HasPrefix(a, "-"+flag+"="):
			argv[i] = long + "=0"
			return argv
		}
	}
	return append(argv, long+"=0")
}

// stop stops the session's servers named name (all when empty) as Ctrl-C
// would, and waits for them.
func (s *session) stop(name string) {
	var kept []*server
	for _, srv := range s.servers {
		if name != "" && srv.name != name {
			kept = append(kept, srv)
			continue
		}
		srv.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-srv.done:
		case <-time.After(stopTimeout):
			s.t.Errorf("%s did not stop in %v after SIGINT", srv.name, stopTimeout)
			srv.kill()
		}
	}
	s.servers = kept
}

// startChapter starts a chapter's (or final's) server on a fresh data
// directory, for a "chapter=" directive: $DIR is its data directory, $URL
// its address, its kubeconfig is exported, and the guide's default port
// stands for its port.
func (s *session) startChapter(pkg string) error {
	p, err := s.b.program(pkg)
	if err != nil {
		return err
	}
	if out, err := s.shell(`DIR=$(mktemp -d) && export KUBECONFIG=$DIR/kubeconfig`); err != nil || len(out) > 0 {
		return fmt.Errorf("preparing a data directory: %v %s", err, strings.Join(out, "\n"))
	}
	if err := s.startServer(pkg, `--data-dir="$DIR"`, []wantLine{{text: "<any>serving on <any>"}, {text: "..."}}); err != nil {
		return err
	}
	srv := s.servers[len(s.servers)-1]
	got, _ := srv.lines()
	defaultPort := "6443"
	if p.portFlag == "port" {
		defaultPort = "8080"
	}
	for _, l := range got {
		if m := servingRE.FindStringSubmatch(l); m != nil {
			real := m[1][strings.LastIndex(m[1], ":")+1:]
			if _, err := strconv.Atoi(real); err == nil {
				s.m.binds["127.0.0.1:"+defaultPort] = "127.0.0.1:" + real
				s.m.binds["localhost:"+defaultPort] = "localhost:" + real
			}
			if out, err := s.shell("URL=" + m[0][strings.Index(m[0], "http"):]); err != nil || len(out) > 0 {
				return fmt.Errorf("setting URL: %v %s", err, strings.Join(out, "\n"))
			}
			return nil
		}
	}
	return fmt.Errorf("%s never said where it serves", pkg)
}

// save writes a file a guide asks the reader to save, in the shell's
// current directory.
func (s *session) save(name, content string) error {
	// The name may use the session's variables ($DIR/widgets.yaml).
	out, err := s.shell(`f=` + name + `; case $f in /*) ;; *) f=$PWD/$f ;; esac; printf '%s\n' "$f"`)
	if err != nil || len(out) != 1 {
		return fmt.Errorf("finding where to save %s: %v %q", name, err, out)
	}
	return os.WriteFile(out[0], []byte(content), 0o644)
}
