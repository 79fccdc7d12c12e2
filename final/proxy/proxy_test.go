package proxy

import (
	"net/http"
	"testing"
)

func TestSplitSchemeNamePort(t *testing.T) {
	for id, want := range map[string][3]string{
		"ui":           {"http", "ui", ""},
		"ui:80":        {"http", "ui", "80"},
		"ui:http":      {"http", "ui", "http"},
		"https:ui:443": {"https", "ui", "443"},
		"http:ui:":     {"http", "ui", ""},
	} {
		scheme, name, port, ok := splitSchemeNamePort(id)
		if !ok || [3]string{scheme, name, port} != want {
			t.Errorf("%q: %q %q %q %v, want %q", id, scheme, name, port, ok, want)
		}
	}
	for _, id := range []string{"", ":80", "ftp:ui:21", "a:b:c:d", "https::443"} {
		if _, _, _, ok := splitSchemeNamePort(id); ok {
			t.Errorf("%q was accepted", id)
		}
	}
}

func TestRewriteLocation(t *testing.T) {
	const prefix = "/api/v1/namespaces/default/services/ui:http/proxy"
	for location, want := range map[string]string{
		"/login":                            prefix + "/login",
		"/login/?next=%2Fa#top":             prefix + "/login/?next=%2Fa#top",
		"http://10.0.0.7:8080/login":        prefix + "/login",
		"page.html":                         "page.html", // relative to the proxied path already
		"https://example.com/elsewhere":     "https://example.com/elsewhere",
		prefix + "/already":                 prefix + "/already",
		"http://10.0.0.8:8080/another-host": "http://10.0.0.8:8080/another-host",
	} {
		if got := rewriteLocation(location, "10.0.0.7:8080", prefix); got != want {
			t.Errorf("%q: %q, want %q", location, got, want)
		}
	}
}

func TestStripIdentity(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer x"}, "Proxy-Authorization": {"Basic y"}, "X-Remote-User": {"admin"},
		"x-remote-group": {"system:masters"}, "Impersonate-User": {"admin"}, "Accept": {"text/html"}, "Cookie": {"session=1"}}
	StripIdentity(h)
	if len(h) != 2 || h.Get("Accept") != "text/html" || h.Get("Cookie") != "session=1" {
		t.Errorf("left %v", h)
	}
}
