package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// client-go end to end: final/e2e/clientgo, a nested module so that the root
// module does without client-go, is a scripted session of discovery and a
// RESTMapper, typed and dynamic clients, a CRD, an informer and a resumed
// watch. It prints a line per step and exits non-zero at the first failure.
func TestClientGo(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go tool is required under CI=true: %v", err)
		}
		t.Skip("go not found: cannot build the client-go session")
	}
	// The first build compiles client-go, which takes a while; later ones
	// come from the build cache.
	exe := filepath.Join(t.TempDir(), "clientgo")
	build := exec.Command(goTool, "build", "-o", exe, ".")
	build.Dir = filepath.Join("..", "e2e", "clientgo")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", build.Dir, err, out)
	}

	ts := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe, "--kubeconfig="+filepath.Join(ts.dir, "kubeconfig")).CombinedOutput()
	if err != nil {
		t.Fatalf("the client-go session: %v\n%s", err, out)
	}
	t.Logf("the client-go session:\n%s", out)
}
