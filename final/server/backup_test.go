package server

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// `final backup`, run as a process while writers keep a running server
// busy, is a snapshot at one revision: after `final restore` into a new
// data directory, the database is at the backup's revision, every write
// acknowledged at or below it is there with its resourceVersion (so every
// write acknowledged before the backup started), none above it is, a
// watch from the backup's revision works, and a read from past it gets
// Kubernetes' "Too large resource version".
func TestBackupWhileServingAndRestore(t *testing.T) {
	bin := buildFinal(t)
	ts, _ := startProcess(t, bin, t.TempDir())

	type ack struct {
		name string
		rv   int64
	}
	var mu sync.Mutex
	var acked []ack
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				r, err := ts.try("POST", "/api/v1/namespaces/default/configmaps", `{"metadata":{"name":"`+name+`"},"data":{"k":"v"}}`)
				if err != nil || r.code != 201 {
					t.Errorf("creating %s: %v %d %s", name, err, r.code, r.raw)
					return
				}
				rv, _ := strconv.ParseInt(field(r.obj, "metadata", "resourceVersion").(string), 10, 64)
				mu.Lock()
				acked = append(acked, ack{name, rv})
				mu.Unlock()
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	for count() < 100 && !t.Failed() {
		time.Sleep(5 * time.Millisecond)
	}
	before := count() // acknowledged before the backup started
	backup := filepath.Join(t.TempDir(), "backup.db")
	out, err := exec.Command(bin, "backup", "--data-dir="+ts.dir, "--to="+backup).CombinedOutput()
	for n := count(); count() < n+50 && !t.Failed(); { // and writes go on after it
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("final backup: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`^Backed up .* at revision (\d+) to `).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("final backup said %q", out)
	}
	revision, _ := strconv.ParseInt(m[1], 10, 64)

	// Restore refuses while the server holds the database.
	out, err = exec.Command(bin, "restore", "--data-dir="+ts.dir, "--from="+backup).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "restoring needs the server stopped") {
		t.Errorf("restore beside a running server: %v %s", err, out)
	}

	dir := t.TempDir()
	out, err = exec.Command(bin, "restore", "--data-dir="+dir, "--from="+backup).CombinedOutput()
	if err != nil || string(out) != fmt.Sprintf("Restored %s at revision %d from %s\n", stateDB(dir), revision, backup) {
		t.Fatalf("final restore: %v %q", err, out)
	}
	if got := storedRevision(t, stateDB(dir)); got != revision {
		t.Fatalf("the restored database is at %d, the backup at %d", got, revision)
	}

	restored, _ := startProcess(t, bin, dir)
	found := 0
	for i, a := range acked {
		r := restored.do(t, "GET", "/api/v1/namespaces/default/configmaps/"+a.name, "", "")
		switch {
		case a.rv <= revision && (r.code != 200 || field(r.obj, "metadata", "resourceVersion") != strconv.FormatInt(a.rv, 10)):
			t.Errorf("%s, acknowledged at %d (backup at %d, acknowledged before it started: %v): %d %s", a.name, a.rv, revision, i < before, r.code, r.raw)
		case a.rv > revision && r.code != 404:
			t.Errorf("%s, written at %d after the backup's %d, is there: %s", a.name, a.rv, revision, r.raw)
		case i < before && a.rv > revision:
			t.Errorf("%s was acknowledged before the backup started, at %d, above its revision %d", a.name, a.rv, revision)
		case r.code == 200:
			found++
		}
	}
	t.Logf("backup at revision %d: %d of %d acknowledged writes, %d of them before it started", revision, found, len(acked), before)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := restored.watch(t, ctx, fmt.Sprintf("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=%d", revision))
	expect(t, restored.do(t, "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":{"name":"after-restore"}}`), 201, "")
	// The restored server has a new CA (a new data directory), and put it
	// in every kube-root-ca.crt as it started, before the watch: the watch
	// replays that from history, then sends the new write.
	var seen []string
	for last := revision; ; {
		kind, obj := next(t, events)
		rv := resourceVersionOf(t, obj)
		if rv <= last {
			t.Fatalf("the watch from %d sent %s at %d after %d", revision, kind, rv, last)
		}
		last = rv
		seen = append(seen, kind+" "+fmt.Sprint(field(obj, "metadata", "name")))
		if field(obj, "metadata", "name") == "after-restore" {
			break
		}
	}
	if want := []string{"MODIFIED kube-root-ca.crt", "ADDED after-restore"}; !slices.Equal(seen, want) {
		t.Errorf("the watch from %d: %v, want %v", revision, seen, want)
	}
	tooLarge := restored.do(t, "GET", "/api/v1/namespaces/default/configmaps?resourceVersion=999999999", "", "")
	expect(t, tooLarge, 504, "Timeout")
	if !strings.HasPrefix(fmt.Sprint(tooLarge.obj["message"]), "Too large resource version: 999999999, current: ") {
		t.Errorf("a read past the restored revision: %s", tooLarge.raw)
	}
}

// storedRevision reads the revision in a database that no server has open.
func storedRevision(t *testing.T, file string) int64 {
	t.Helper()
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rev int64
	if err := db.QueryRow(`SELECT COALESCE(MAX(revision), 1) FROM log`).Scan(&rev); err != nil {
		t.Fatal(err)
	}
	return rev
}
