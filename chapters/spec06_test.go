// Chapter 06's checks: storage with etcd's semantics. State and revisions
// survive a crash, updates are compare-and-swap, lists are consistent at one
// revision across pages, history can be read exactly and is compacted, and
// bad resourceVersions and continue tokens are refused.
package chapters_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func chapter06Checks() []check {
	return []check{
		{6, "objects and revisions survive a SIGKILL", checkSurvivesCrash},
		{6, "stale updates and failed preconditions are 409", checkOptimisticConcurrency},
		{6, "pages stay at the first page's revision", checkConsistentPagination},
		{6, "resourceVersion and resourceVersionMatch on get and list", checkResourceVersionSemantics},
		{6, "compaction makes old revisions 410", checkCompaction},
		{6, "bad resourceVersions and continue tokens are 400", checkBadReadParameters},
		{6, "SQL-ish values are stored byte for byte", checkSQLishValues},
		{6, "the database is plain SQLite", checkDatabaseWithSQLite3},
		{6, "requests cancelled mid-write leave the store consistent", checkCancelledWrites},
	}
}

const cms = "/api/v1/namespaces/default/configmaps"

func checkSurvivesCrash(t *testing.T, s *server) {
	dataDir := t.TempDir()
	first := start(t, s.exe, s.chapter, "--data-dir="+dataDir)
	created := first.post(t, cms, `{"metadata":{"name":"durable"},"data":{"k":"v"}}`)
	expect(t, created, http.StatusCreated, "")
	updated := first.do(t, http.MethodPatch, cms+"/durable", "application/merge-patch+json", `{"data":{"k":"v2"}}`)
	expect(t, updated, http.StatusOK, "")
	first.kill(t) // acknowledged writes must already be on disk

	again := start(t, s.exe, s.chapter, "--data-dir="+dataDir)
	got := again.get(t, cms+"/durable")
	expect(t, got, http.StatusOK, "")
	if str(got.obj, "data", "k") != "v2" || rvOf(t, got.obj) != rvOf(t, updated.obj) || str(got.obj, "metadata", "uid") != str(created.obj, "metadata", "uid") {
		t.Errorf("after the restart: %s, want data v2 at resourceVersion %d", got.raw, rvOf(t, updated.obj))
	}
	next := again.post(t, cms, `{"metadata":{"name":"after-restart"}}`)
	expect(t, next, http.StatusCreated, "")
	if rvOf(t, next.obj) <= rvOf(t, updated.obj) {
		t.Errorf("the revision went back after the restart: %d after %d", rvOf(t, next.obj), rvOf(t, updated.obj))
	}
}

func checkOptimisticConcurrency(t *testing.T, s *server) {
	created := s.post(t, cms, `{"metadata":{"name":"cas"},"data":{"n":"1"}}`)
	expect(t, created, http.StatusCreated, "")
	rv := str(created.obj, "metadata", "resourceVersion")
	// Two clients read the same version; the first write wins, the second is told.
	put := func(n string) response {
		return s.do(t, http.MethodPut, cms+"/cas", "application/json",
			fmt.Sprintf(`{"metadata":{"name":"cas","resourceVersion":%q},"data":{"n":%q}}`, rv, n))
	}
	expect(t, put("2"), http.StatusOK, "")
	stale := put("3")
	expect(t, stale, http.StatusConflict, "Conflict")
	if !strings.Contains(str(stale.obj, "message"), `Operation cannot be fulfilled on configmaps "cas": the object has been modified`) {
		t.Errorf("Conflict message: %s", stale.raw)
	}
	if got := s.get(t, cms+"/cas"); str(got.obj, "data", "n") != "2" {
		t.Errorf("the stale write landed: %s", got.raw)
	}
	// Without a resourceVersion, an update is unconditional.
	expect(t, s.do(t, http.MethodPut, cms+"/cas", "application/json", `{"metadata":{"name":"cas"},"data":{"n":"4"}}`), http.StatusOK, "")
	// Delete preconditions.
	current := s.get(t, cms+"/cas")
	expect(t, s.do(t, http.MethodDelete, cms+"/cas", "application/json", `{"preconditions":{"uid":"not-the-uid"}}`), http.StatusConflict, "Conflict")
	expect(t, s.do(t, http.MethodDelete, cms+"/cas", "application/json", `{"preconditions":{"resourceVersion":"`+rv+`"}}`), http.StatusConflict, "Conflict")
	expect(t, s.do(t, http.MethodDelete, cms+"/cas", "application/json",
		`{"preconditions":{"uid":"`+str(current.obj, "metadata", "uid")+`","resourceVersion":"`+str(current.obj, "metadata", "resourceVersion")+`"}}`), http.StatusOK, "")
}

func checkConsistentPagination(t *testing.T, s *server) {
	const ns = "/api/v1/namespaces/paging/configmaps"
	expect(t, s.post(t, "/api/v1/namespaces", `{"metadata":{"name":"paging"}}`), http.StatusCreated, "")
	for i := 1; i <= 5; i++ {
		expect(t, s.post(t, ns, fmt.Sprintf(`{"metadata":{"name":"p%d"}}`, i)), http.StatusCreated, "")
	}
	first := s.get(t, ns+"?limit=2")
	expect(t, first, http.StatusOK, "")
	token := str(first.obj, "metadata", "continue")
	if got := names(t, first); !slices.Equal(got, []string{"p1", "p2"}) || token == "" {
		t.Fatalf("first page: %v, continue %q", got, token)
	}
	// Meanwhile: p3 is deleted, p6 created, p4 changed.
	expect(t, s.do(t, http.MethodDelete, ns+"/p3", "", nil), http.StatusOK, "")
	expect(t, s.post(t, ns, `{"metadata":{"name":"p6"}}`), http.StatusCreated, "")
	expect(t, s.do(t, http.MethodPatch, ns+"/p4", "application/merge-patch+json", `{"data":{"changed":"yes"}}`), http.StatusOK, "")

	var rest []string
	for token != "" {
		page := s.get(t, ns+"?limit=2&continue="+url.QueryEscape(token))
		expect(t, page, http.StatusOK, "")
		if str(page.obj, "metadata", "resourceVersion") != str(first.obj, "metadata", "resourceVersion") {
			t.Errorf("page at resourceVersion %s, first page at %s", str(page.obj, "metadata", "resourceVersion"), str(first.obj, "metadata", "resourceVersion"))
		}
		for _, it := range page.obj["items"].([]any) {
			rest = append(rest, str(it, "metadata", "name"))
			if str(it, "metadata", "name") == "p4" && field(it, "data", "changed") != nil {
				t.Errorf("p4 shows a change made after the first page")
			}
		}
		token = str(page.obj, "metadata", "continue")
	}
	if !slices.Equal(rest, []string{"p3", "p4", "p5"}) {
		t.Errorf("later pages: %v, want p3 p4 p5 as of the first page", rest)
	}
	// A fresh list sees the present.
	if got := names(t, s.get(t, ns)); !slices.Equal(got, []string{"p1", "p2", "p4", "p5", "p6"}) {
		t.Errorf("a new list: %v", got)
	}
}

func checkResourceVersionSemantics(t *testing.T, s *server) {
	const ns = "/api/v1/namespaces/default/configmaps"
	created := s.post(t, ns, `{"metadata":{"name":"history"},"data":{"v":"1"}}`)
	expect(t, created, http.StatusCreated, "")
	before := str(created.obj, "metadata", "resourceVersion")
	expect(t, s.do(t, http.MethodPatch, ns+"/history", "application/merge-patch+json", `{"data":{"v":"2"}}`), http.StatusOK, "")

	exact := s.get(t, ns+"?resourceVersion="+before+"&resourceVersionMatch=Exact&fieldSelector=metadata.name%3Dhistory")
	expect(t, exact, http.StatusOK, "")
	items := exact.obj["items"].([]any)
	if str(exact.obj, "metadata", "resourceVersion") != before || len(items) != 1 || str(items[0], "data", "v") != "1" {
		t.Errorf("an Exact list at %s: %s", before, exact.raw)
	}
	for _, q := range []string{"", "?resourceVersion=0", "?resourceVersion=" + before, "?resourceVersion=" + before + "&resourceVersionMatch=NotOlderThan"} {
		latest := s.get(t, ns+"/history"+strings.Replace(q, "&resourceVersionMatch=NotOlderThan", "", 1))
		if str(latest.obj, "data", "v") != "2" {
			t.Errorf("get %q should give the latest: %s", q, latest.raw)
		}
	}
	expect(t, s.get(t, ns+"/history?resourceVersion=999999999"), http.StatusGatewayTimeout, "Timeout")
	expect(t, s.get(t, ns+"?resourceVersion=999999999&resourceVersionMatch=NotOlderThan"), http.StatusGatewayTimeout, "Timeout")
	if rv := rvOf(t, s.get(t, ns).obj); rv < rvOf(t, created.obj)+1 {
		t.Errorf("a list's resourceVersion %d is older than the last write", rv)
	}
}

func checkCompaction(t *testing.T, s *server) {
	const ns = "/api/v1/namespaces/default/configmaps"
	old := s.post(t, ns, `{"metadata":{"name":"compact-me"}}`)
	expect(t, old, http.StatusCreated, "")
	for i := 0; i < 3; i++ {
		expect(t, s.post(t, ns, fmt.Sprintf(`{"metadata":{"name":"filler-%d"}}`, i)), http.StatusCreated, "")
	}
	page := s.get(t, ns+"?limit=1")
	token := str(page.obj, "metadata", "continue")
	expect(t, s.do(t, http.MethodPatch, ns+"/compact-me", "application/merge-patch+json", `{"data":{"x":"y"}}`), http.StatusOK, "")
	expect(t, s.post(t, "/storage/compact", nil), http.StatusOK, "")

	expect(t, s.get(t, ns+"?limit=1&continue="+url.QueryEscape(token)), http.StatusGone, "Expired")
	expect(t, s.get(t, ns+"?resourceVersion="+str(old.obj, "metadata", "resourceVersion")+"&resourceVersionMatch=Exact"), http.StatusGone, "Expired")
	// The present is untouched.
	if got := s.get(t, ns+"/compact-me"); str(got.obj, "data", "x") != "y" {
		t.Errorf("after compaction: %s", got.raw)
	}
	// Only admins may compact.
	alice := s.as(s.clientFor(t, filepath.Join(s.dataDir, "kubeconfig-alice")))
	expect(t, alice.post(t, "/storage/compact", nil), http.StatusForbidden, "Forbidden")
}

func checkBadReadParameters(t *testing.T, s *server) {
	for name, query := range map[string]string{
		"resourceVersion not a number":    "?resourceVersion=abc",
		"negative resourceVersion":        "?resourceVersion=-5",
		"match without resourceVersion":   "?resourceVersionMatch=Exact",
		"Exact at 0":                      "?resourceVersion=0&resourceVersionMatch=Exact",
		"unknown match":                   "?resourceVersion=1&resourceVersionMatch=Newest",
		"tampered continue":               "?continue=bm90LWEtdG9rZW4",
		"continue with a resourceVersion": "?continue=x&resourceVersion=1",
		"bad limit":                       "?limit=-1",
	} {
		t.Run(name, func(t *testing.T) {
			expect(t, s.get(t, cms+query), http.StatusBadRequest, "BadRequest")
		})
	}
	expect(t, s.get(t, cms+"/anything?resourceVersion=x1"), http.StatusBadRequest, "BadRequest")
}

func checkSQLishValues(t *testing.T, s *server) {
	nasty := `it's "quoted" -- 100% _wild_ ; DROP TABLE log; /* \ */`
	body := fmt.Sprintf(`{"metadata":{"name":"o-reilly--x","labels":{"v":"a_b.c-d"},"annotations":{"a":%q}},"data":{"%%_key":%q}}`, nasty, nasty)
	expect(t, s.post(t, cms, body), http.StatusCreated, "")
	got := s.get(t, cms+"/o-reilly--x")
	if str(got.obj, "metadata", "annotations", "a") != nasty || str(got.obj, "data", "%_key") != nasty {
		t.Errorf("values changed on the way: %s", got.raw)
	}
	// A prefix list does not treat % or _ as patterns.
	list := s.get(t, "/api/v1/namespaces/default/configmaps?labelSelector=v%3Da_b.c-d")
	if names := names(t, list); !slices.Equal(names, []string{"o-reilly--x"}) {
		t.Errorf("label selector: %v", names)
	}
	if r := s.get(t, "/api/v1/namespaces/defaul_/configmaps"); len(names(t, r)) != 0 {
		t.Errorf("a namespace name with _ matched others: %s", r.raw)
	}
}

func checkDatabaseWithSQLite3(t *testing.T, s *server) {
	sqlite3, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatalf("sqlite3 is needed to check the database (.ci/run installs it): %v", err)
	}
	expect(t, s.post(t, cms, `{"metadata":{"name":"seen-in-sqlite"}}`), http.StatusCreated, "")
	db := filepath.Join(s.dataDir, "state.db")
	out, err := exec.Command(sqlite3, db,
		"SELECT c.mod_revision = (SELECT value FROM meta WHERE name = 'revision'), l.deleted FROM current c JOIN log l ON l.revision = c.mod_revision WHERE c.key = '/registry/configmaps/default/seen-in-sqlite'").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1|0" {
		t.Errorf("sqlite3: %v %q", err, out)
	}
	out, err = exec.Command(sqlite3, db, "PRAGMA integrity_check; PRAGMA journal_mode;").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok\nwal" {
		t.Errorf("integrity and journal mode: %v %q", err, out)
	}
}

// checkCancelledWrites sends creates whose clients give up at random moments,
// then checks the database's invariants: every live key's current row is its
// last log row, the revision counter is the last log revision, and a create
// either happened whole or not at all.
func checkCancelledWrites(t *testing.T, s *server) {
	expect(t, s.post(t, "/api/v1/namespaces", `{"metadata":{"name":"cancelled"}}`), http.StatusCreated, "")
	var wg sync.WaitGroup
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%12)*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/api/v1/namespaces/cancelled/configmaps",
				strings.NewReader(fmt.Sprintf(`{"metadata":{"name":"c%d"},"data":{"i":"%d"}}`, i, i)))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := s.client.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond) // writes the clients abandoned finish on the server
	listed := names(t, s.get(t, "/api/v1/namespaces/cancelled/configmaps"))
	for _, n := range listed {
		got := s.get(t, "/api/v1/namespaces/cancelled/configmaps/"+n)
		if str(got.obj, "data", "i") != strings.TrimPrefix(n, "c") {
			t.Errorf("%s is half written: %s", n, got.raw)
		}
	}
	sqlite3, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatalf("sqlite3 is needed (.ci/run installs it): %v", err)
	}
	out, err := exec.Command(sqlite3, filepath.Join(s.dataDir, "state.db"), `
		SELECT (SELECT value FROM meta WHERE name = 'revision') = (SELECT MAX(revision) FROM log),
		       (SELECT COUNT(*) FROM current c WHERE c.mod_revision != (SELECT MAX(revision) FROM log l WHERE l.key = c.key)),
		       (SELECT COUNT(*) FROM current WHERE key LIKE '/registry/configmaps/cancelled/%');
		PRAGMA integrity_check;`).CombinedOutput()
	want := fmt.Sprintf("1|0|%d\nok", len(listed))
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("database invariants after cancelled writes: %v %q, want %q", err, out, want)
	}
}
