package authn

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/authn/authntest"
)

// tokenReviewer answers as a token webhook: "good" is jane, "broken" is a
// 500, "explained" is refused with an error, anything else is refused.
func tokenReviewer(review map[string]any) (int, any) {
	status := map[string]any{"authenticated": false}
	switch field(review, "spec", "token") {
	case "good":
		status = map[string]any{"authenticated": true, "user": map[string]any{"username": "jane", "uid": "42",
			"groups": []string{"dev"}, "extra": map[string][]string{"scopes": {"read"}}}}
	case "elsewhere":
		status = map[string]any{"authenticated": true, "audiences": []string{"https://other.example"}, "user": map[string]any{"username": "jane"}}
	case "broken":
		return http.StatusInternalServerError, map[string]any{"kind": "Status", "message": "down"}
	case "explained":
		status["error"] = "token revoked"
	}
	return http.StatusOK, map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status}
}

func TestWebhookTokens(t *testing.T) {
	hook := authntest.NewWebhook(t, tokenReviewer)
	client, err := LoadWebhookClient(hook.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{time.Now()}
	w := &WebhookTokens{Client: client, Audiences: []string{"https://kubernetes.default.svc"}, CacheTTL: 2 * time.Minute, Now: clock.now}
	ctx := context.Background()
	ask := func(token string) (string, bool, error) {
		user, ok, err := w.AuthenticateToken(ctx, token)
		if user != nil {
			user.Groups = append(user.Groups, "system:authenticated") // callers do; the cache must not see it
			return user.Name + " " + user.UID + " " + strings.Join(user.Groups, ",") + " " + strings.Join(user.Extra["scopes"], ","), ok, err
		}
		return "", ok, err
	}

	// Positive answers are cached: three requests, one call.
	for range 3 {
		if got, ok, err := ask("good"); !ok || err != nil || got != "jane 42 dev,system:authenticated read" {
			t.Fatalf("good: %q %v %v", got, ok, err)
		}
	}
	if n := hook.Calls(); n != 1 {
		t.Errorf("%d calls for one token asked three times, want 1", n)
	}
	// Negative answers too, as in Kubernetes.
	for range 3 {
		if _, ok, err := ask("bad"); ok || err != nil {
			t.Fatalf("bad: %v %v", ok, err)
		}
	}
	if n := hook.Calls(); n != 2 {
		t.Errorf("%d calls after a refused token asked three times, want 2", n)
	}
	// Failures are not: a 500 and an explained refusal are asked each time.
	for _, token := range []string{"broken", "broken", "explained", "explained"} {
		_, ok, err := ask(token)
		if ok || err == nil {
			t.Fatalf("%s: %v %v, want an error", token, ok, err)
		}
		if token == "explained" && err.Error() != "token revoked" {
			t.Errorf("explained: %v", err)
		}
	}
	if n := hook.Calls(); n != 6 {
		t.Errorf("%d calls after four failures, want 6", n)
	}
	// A token for another audience does not authenticate here.
	if _, ok, err := ask("elsewhere"); ok || err != nil {
		t.Errorf("another audience: %v %v", ok, err)
	}
	// After the TTL, the webhook is asked again.
	clock.t = clock.t.Add(2*time.Minute + time.Second)
	if _, ok, _ := ask("good"); !ok {
		t.Error("good after the TTL")
	}
	if n := hook.Calls(); n != 8 {
		t.Errorf("%d calls after the TTL, want 8", n)
	}
}

func TestLoadWebhookClient(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		path := filepath.Join(dir, "config")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	c, err := LoadWebhookClient(write("clusters:\n- name: only\n  cluster:\n    server: https://127.0.0.1:1/authn\n"))
	if err != nil || c.URL != "https://127.0.0.1:1/authn" || c.Token != "" {
		t.Errorf("one cluster, no context: %+v %v", c, err)
	}
	for name, content := range map[string]string{
		"missing context":  "current-context: nope\nclusters:\n- name: a\n  cluster:\n    server: https://x\n",
		"no server":        "clusters:\n- name: a\n  cluster: {}\n",
		"two clusters":     "clusters:\n- name: a\n  cluster:\n    server: https://x\n- name: b\n  cluster:\n    server: https://y\n",
		"missing CA file":  "clusters:\n- name: a\n  cluster:\n    server: https://x\n    certificate-authority: nope.crt\n",
		"not YAML at all":  "clusters: [",
		"key without cert": "clusters:\n- name: a\n  cluster:\n    server: https://x\nusers:\n- name: u\n  user:\n    client-key-data: Zm9v\n",
	} {
		if _, err := LoadWebhookClient(write(content)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadWebhookClient(filepath.Join(dir, "absent")); err == nil {
		t.Error("a missing file: accepted")
	}
}
