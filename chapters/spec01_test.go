// Chapter 01's checks: pods over HTTP, metadata the server owns, Status errors,
// and bad input that changes nothing.
package chapters_test

import (
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func chapter01Checks() []check {
	return []check{
		{1, "printed commands work as printed", checkWelcomeCommands},
		{1, "create fills in server-owned metadata", checkCreateMetadata},
		{1, "get and list return what was created", checkGetAndList},
		{1, "replace keeps uid and bumps resourceVersion", checkReplace},
		{1, "delete removes, then get is 404 Status", checkDelete},
		{1, "generateName picks a name", checkGenerateName},
		{1, "concurrent creates all land", checkConcurrentCreates},
		{1, "bad input gets a Status and changes nothing", checkBadInput},
	}
}

const podsPath = "/api/v1/namespaces/default/pods"

func pod(name string, labels map[string]string) map[string]any {
	meta := map[string]any{"name": name}
	if labels != nil {
		meta["labels"] = labels
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta,
		"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": "nginx"}}}}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func rvOf(t *testing.T, obj any) int64 {
	t.Helper()
	rv, err := strconv.ParseInt(str(obj, "metadata", "resourceVersion"), 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion is not a number: %v", err)
	}
	return rv
}

// checkWelcomeCommands runs, in order, the command lines the server printed
// after "Try:", as a reader would paste them.
func checkWelcomeCommands(t *testing.T, s *server) {
	_, after, found := strings.Cut(s.welcome, "Try:\n")
	if !found {
		t.Fatalf("start-up text has no Try: section:\n%s", s.welcome)
	}
	script := []string{"set -e"}
	for _, line := range strings.Split(after, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "kubectl") {
			needKubectl(t)
		}
		// Every command must print something that is not an error Status.
		script = append(script, line, `echo "---"`)
	}
	cmd := exec.Command("bash", "-c", strings.Join(script, "\n"))
	cmd.Env = append(cmd.Environ(), "HOME="+s.dataDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("printed commands failed: %v\n%s", err, out)
	}
	for i, part := range strings.Split(string(out), "---\n") {
		if strings.Contains(part, `"kind":"Status"`) && strings.Contains(part, `"status":"Failure"`) {
			t.Fatalf("printed command %d answered with an error Status:\n%s", i+1, part)
		}
	}
}

func checkCreateMetadata(t *testing.T, s *server) {
	// kind and apiVersion may be left out: the URL says what the object is.
	r := s.post(t, podsPath, map[string]any{"metadata": map[string]any{"name": "meta-check"}, "spec": pod("", nil)["spec"]})
	expect(t, r, http.StatusCreated, "")
	if r.obj["kind"] != "Pod" || r.obj["apiVersion"] != "v1" {
		t.Errorf("kind/apiVersion not filled in: %s", r.raw)
	}
	if uid := str(r.obj, "metadata", "uid"); !uuidPattern.MatchString(uid) {
		t.Errorf("metadata.uid %q is not a UUID", uid)
	}
	if _, err := time.Parse(time.RFC3339, str(r.obj, "metadata", "creationTimestamp")); err != nil {
		t.Errorf("metadata.creationTimestamp: %v", err)
	}
	if str(r.obj, "metadata", "namespace") != "default" {
		t.Errorf("metadata.namespace = %q, want default", str(r.obj, "metadata", "namespace"))
	}
	rvOf(t, r.obj)
	expect(t, s.post(t, podsPath, pod("meta-check", nil)), http.StatusConflict, "AlreadyExists")
}

func checkGetAndList(t *testing.T, s *server) {
	created := s.post(t, podsPath, pod("list-a", map[string]string{"app": "web"}))
	expect(t, created, http.StatusCreated, "")
	other := s.post(t, "/api/v1/namespaces/kube-system/pods", pod("list-b", nil))
	expect(t, other, http.StatusCreated, "")

	got := s.get(t, podsPath+"/list-a")
	expect(t, got, http.StatusOK, "")
	if str(got.obj, "metadata", "uid") != str(created.obj, "metadata", "uid") || str(got.obj, "metadata", "labels", "app") != "web" {
		t.Errorf("get returned another object: %s", got.raw)
	}

	list := s.get(t, podsPath)
	expect(t, list, http.StatusOK, "")
	if list.obj["kind"] != "PodList" || list.obj["apiVersion"] != "v1" {
		t.Errorf("list kind/apiVersion: %s", list.raw)
	}
	if rv := rvOf(t, list.obj); rv < rvOf(t, other.obj) {
		t.Errorf("list resourceVersion %d is older than the last write %d", rv, rvOf(t, other.obj))
	}
	inDefault := strings.Join(names(t, list), ",")
	if !strings.Contains(inDefault, "list-a") || strings.Contains(inDefault, "list-b") {
		t.Errorf("namespace list = %s, want list-a and not list-b", inDefault)
	}
	all := strings.Join(names(t, s.get(t, "/api/v1/pods")), ",")
	if !strings.Contains(all, "list-a") || !strings.Contains(all, "list-b") {
		t.Errorf("all-namespaces list = %s, want both", all)
	}
}

func checkReplace(t *testing.T, s *server) {
	created := s.post(t, podsPath, pod("replace-me", map[string]string{"v": "1"}))
	expect(t, created, http.StatusCreated, "")
	updated := s.do(t, http.MethodPut, podsPath+"/replace-me", "application/json", pod("replace-me", map[string]string{"v": "2"}))
	expect(t, updated, http.StatusOK, "")
	if str(updated.obj, "metadata", "labels", "v") != "2" {
		t.Errorf("label not replaced: %s", updated.raw)
	}
	for _, f := range []string{"uid", "creationTimestamp"} {
		if str(updated.obj, "metadata", f) != str(created.obj, "metadata", f) {
			t.Errorf("metadata.%s changed on update", f)
		}
	}
	if rvOf(t, updated.obj) <= rvOf(t, created.obj) {
		t.Errorf("resourceVersion did not increase: %d -> %d", rvOf(t, created.obj), rvOf(t, updated.obj))
	}
	expect(t, s.do(t, http.MethodPut, podsPath+"/never-created", "application/json", pod("never-created", nil)), http.StatusNotFound, "NotFound")
}

func checkDelete(t *testing.T, s *server) {
	expect(t, s.post(t, podsPath, pod("delete-me", nil)), http.StatusCreated, "")
	expect(t, s.do(t, http.MethodDelete, podsPath+"/delete-me", "", nil), http.StatusOK, "")
	r := s.get(t, podsPath+"/delete-me")
	expect(t, r, http.StatusNotFound, "NotFound")
	if str(r.obj, "details", "name") != "delete-me" || !strings.Contains(str(r.obj, "message"), `"delete-me" not found`) {
		t.Errorf("NotFound Status does not name the pod: %s", r.raw)
	}
	expect(t, s.do(t, http.MethodDelete, podsPath+"/delete-me", "", nil), http.StatusNotFound, "NotFound")
}

func checkGenerateName(t *testing.T, s *server) {
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		r := s.post(t, podsPath, map[string]any{"metadata": map[string]any{"generateName": "gen-"}, "spec": pod("", nil)["spec"]})
		expect(t, r, http.StatusCreated, "")
		name := str(r.obj, "metadata", "name")
		if !regexp.MustCompile(`^gen-[a-z0-9]{5}$`).MatchString(name) || seen[name] {
			t.Fatalf("generated name %q: want gen- and five new characters", name)
		}
		seen[name] = true
	}
}

func checkConcurrentCreates(t *testing.T, s *server) {
	const n = 40
	var wg sync.WaitGroup
	rvs := make([]int64, n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.post(t, podsPath, pod(fmt.Sprintf("concurrent-%d", i), nil))
			if r.code != http.StatusCreated {
				errs <- fmt.Errorf("create %d: HTTP %d %s", i, r.code, r.raw)
				return
			}
			rv, err := strconv.ParseInt(str(r.obj, "metadata", "resourceVersion"), 10, 64)
			if err != nil {
				errs <- err
			}
			rvs[i] = rv
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[int64]bool{}
	for _, rv := range rvs {
		if seen[rv] {
			t.Errorf("resourceVersion %d given to two writes", rv)
		}
		seen[rv] = true
	}
	count := 0
	for _, name := range names(t, s.get(t, podsPath)) {
		if strings.HasPrefix(name, "concurrent-") {
			count++
		}
	}
	if count != n {
		t.Errorf("listed %d concurrent pods, want %d", count, n)
	}
}

func checkBadInput(t *testing.T, s *server) {
	expect(t, s.post(t, podsPath, pod("existing", nil)), http.StatusCreated, "")
	huge := `{"metadata":{"name":"huge"},"data":"` + strings.Repeat("x", 3<<20) + `"}`
	cases := []struct {
		name, method, path, contentType, body string
		code                                  int
		reason                                string
	}{
		{"malformed JSON", "POST", podsPath, "application/json", `{"metadata": {"name": "bad"`, 400, "BadRequest"},
		{"not an object", "POST", podsPath, "application/json", `["a"]`, 400, "BadRequest"},
		{"kind does not match the URL", "POST", podsPath, "application/json", `{"kind":"Service","metadata":{"name":"svc"}}`, 400, "BadRequest"},
		{"apiVersion does not match the URL", "POST", podsPath, "application/json", `{"apiVersion":"v2","kind":"Pod","metadata":{"name":"v2"}}`, 400, "BadRequest"},
		{"namespace does not match the URL", "POST", podsPath, "application/json", `{"metadata":{"name":"ns","namespace":"kube-system"}}`, 400, "BadRequest"},
		{"name does not match the URL", "PUT", podsPath + "/existing", "application/json", `{"metadata":{"name":"other"}}`, 400, "BadRequest"},
		{"uppercase name", "POST", podsPath, "application/json", `{"metadata":{"name":"Bad_Name"}}`, 422, "Invalid"},
		{"name too long", "POST", podsPath, "application/json", `{"metadata":{"name":"` + strings.Repeat("a", 254) + `"}}`, 422, "Invalid"},
		{"no name", "POST", podsPath, "application/json", `{"metadata":{}}`, 422, "Invalid"},
		{"body over 3 MiB", "POST", podsPath, "application/json", huge, 413, "RequestEntityTooLarge"},
		{"unknown content type", "POST", podsPath, "text/plain", `{"metadata":{"name":"text"}}`, 415, "UnsupportedMediaType"},
		{"unsupported method", "POST", podsPath + "/existing", "application/json", `{}`, 405, "MethodNotAllowed"},
		{"unknown resource", "GET", "/api/v1/namespaces/default/widgets", "", "", 404, "NotFound"},
		{"unknown path", "GET", "/nothing/here", "", "", 404, "NotFound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := s.get(t, podsPath)
			r := s.do(t, c.method, c.path, c.contentType, c.body)
			expect(t, r, c.code, c.reason)
			after := s.get(t, podsPath)
			if rvOf(t, before.obj) != rvOf(t, after.obj) || len(names(t, before)) != len(names(t, after)) {
				t.Errorf("the store changed: resourceVersion %d -> %d", rvOf(t, before.obj), rvOf(t, after.obj))
			}
		})
	}
	r := s.post(t, podsPath, `{"metadata":{"name":"Bad_Name"}}`)
	causes, _ := field(r.obj, "details", "causes").([]any)
	if len(causes) == 0 || str(causes[0], "field") != "metadata.name" || str(causes[0], "reason") != "FieldValueInvalid" {
		t.Errorf("Invalid Status should carry a metadata.name cause: %s", r.raw)
	}
	expect(t, s.get(t, podsPath+"/existing"), http.StatusOK, "") // still serving
}
