// The exercises' own proof, run by the root module's `go test ./...`.
//
// exercises/ is a module of its own, so the root module's test command does
// not see its packages. This test grades every exercise the way CI must: with
// the reference solution in .meta/ swapped in by `go test -overlay` the
// grading tests pass, and with the untouched starter they fail in the tests
// (not in the build). Without both halves an exercise can rot silently: a
// solution that no longer passes, or a starter that already does.
package apiserverfromscratch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestExercises(t *testing.T) {
	root, err := filepath.Abs("exercises")
	if err != nil {
		t.Fatal(err)
	}
	goTool := findGo(t)
	readEverything(t, root)

	dirs, err := filepath.Glob(filepath.Join(root, "[0-9][0-9]-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatalf("no exercises found in %s", root)
	}
	for _, dir := range dirs {
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			continue
		}
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			replace := solutionOverlay(t, dir)

			t.Run("starter is not the solution", func(t *testing.T) {
				for starter, solution := range replace {
					s, err := os.ReadFile(starter)
					if err != nil {
						t.Fatalf("starter %s: %v (every file in .meta/ replaces a starter file of the same name)", rel(root, starter), err)
					}
					m, err := os.ReadFile(solution)
					if err != nil {
						t.Fatal(err)
					}
					if bytes.Equal(s, m) {
						t.Errorf("%s is identical to its solution %s", rel(root, starter), rel(root, solution))
					}
					if !bytes.Contains(s, []byte("Please implement")) {
						t.Errorf("%s has no `panic(\"Please implement ...\")`: a starter's unimplemented functions must fail loudly", rel(root, starter))
					}
				}
			})

			t.Run("solution passes", func(t *testing.T) {
				t.Parallel()
				overlay := filepath.Join(t.TempDir(), "overlay.json")
				data, err := json.Marshal(map[string]any{"Replace": replace})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(overlay, data, 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := goTest(t, goTool, root, "-overlay", overlay, "./"+name)
				if err != nil {
					t.Errorf("the grading tests fail against the reference solution in %s/.meta:\n%s", name, out)
				}
			})

			t.Run("starter fails", func(t *testing.T) {
				t.Parallel()
				out, err := goTest(t, goTool, root, "./"+name)
				switch {
				case err == nil:
					t.Errorf("the grading tests pass against the untouched starter: they do not test anything the learner has to write\n%s", out)
				case strings.Contains(out, "build failed") || strings.Contains(out, "setup failed"):
					t.Errorf("the starter does not build; a learner must start from code that compiles:\n%s", out)
				case !strings.Contains(out, "--- FAIL") && !strings.Contains(out, "panic: Please implement"):
					t.Errorf("the starter fails, but not in the grading tests:\n%s", out)
				}
			})
		})
	}
}

// solutionOverlay maps each starter file of an exercise to its reference
// solution: every file in .meta/ replaces the file of the same name.
func solutionOverlay(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, ".meta"))
	if err != nil {
		t.Fatalf("exercise has no reference solution: %v", err)
	}
	replace := map[string]string{}
	for _, e := range entries {
		if e.Type().IsRegular() {
			replace[filepath.Join(dir, e.Name())] = filepath.Join(dir, ".meta", e.Name())
		}
	}
	if len(replace) == 0 {
		t.Fatalf("%s/.meta holds no files", dir)
	}
	return replace
}

// goTest runs `go test -count=1 args...` inside the exercises module and
// returns its combined output.
func goTest(t *testing.T, goTool, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, append([]string{"test", "-count=1"}, args...)...)
	cmd.Dir = dir
	// A go.work above the repository must not pull the exercises into
	// another workspace.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func findGo(t *testing.T) string {
	if path, err := exec.LookPath("go"); err == nil {
		return path
	}
	path := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("cannot find the go command: not in PATH, and %v", err)
	}
	return path
}

// readEverything reads every file under exercises/. The go command caches a
// test's result keyed on the files the test itself opened; the files the
// child `go test` reads do not count. Reading them here makes an edit to any
// exercise, solution or grading test re-run this test instead of replaying
// an old PASS.
func readEverything(t *testing.T, root string) {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		_, err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}
