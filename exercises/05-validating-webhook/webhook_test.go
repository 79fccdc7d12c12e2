package validatingwebhook

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

const digest = "sha256:0e1e8f1e5e6b7c3f2a1d4c5b6a7988776655443322110ffeeddccbbaa9988776"

func TestParseImage(t *testing.T) {
	tests := []struct {
		image                             string
		registry, repository, tag, digest string
	}{
		{"nginx", "docker.io", "library/nginx", "", ""},
		{"nginx:1.27", "docker.io", "library/nginx", "1.27", ""},
		{"nginx:latest", "docker.io", "library/nginx", "latest", ""},
		{"bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", ""},
		{"docker.io/nginx", "docker.io", "library/nginx", "", ""},
		{"docker.io/library/nginx:1.27", "docker.io", "library/nginx", "1.27", ""},
		{"index.docker.io/library/nginx:1.27", "docker.io", "library/nginx", "1.27", ""},
		{"registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", ""},
		{"ghcr.io/org/team/app:v1.2.3-rc.1", "ghcr.io", "org/team/app", "v1.2.3-rc.1", ""},
		{"localhost/app:1", "localhost", "app", "1", ""},
		{"localhost:5000/app", "localhost:5000", "app", "", ""},
		{"quay.io:443/org/app:v1", "quay.io:443", "org/app", "v1", ""},
		{"Registry/app:1", "Registry", "app", "1", ""},
		{"myhost/app", "docker.io", "myhost/app", "", ""},
		{"nginx@" + digest, "docker.io", "library/nginx", "", digest},
		{"nginx:1.27@" + digest, "docker.io", "library/nginx", "1.27", digest},
		{"localhost:5000/app:2@" + digest, "localhost:5000", "app", "2", digest},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			registry, repository, tag, dig := ParseImage(tt.image)
			if registry != tt.registry || repository != tt.repository || tag != tt.tag || dig != tt.digest {
				t.Errorf("ParseImage(%q) = %q, %q, %q, %q; want %q, %q, %q, %q",
					tt.image, registry, repository, tag, dig, tt.registry, tt.repository, tt.tag, tt.digest)
			}
		})
	}
}

var allowed = []string{"registry.k8s.io", "docker.io", "localhost:5000"}

func containers(nameImage ...string) []Container {
	var cs []Container
	for i := 0; i < len(nameImage); i += 2 {
		cs = append(cs, Container{Name: nameImage[i], Image: nameImage[i+1]})
	}
	return cs
}

func podOf(init, regular, ephemeral []Container) *Pod {
	var p Pod
	p.Metadata.Name, p.Metadata.Namespace = "web", "default"
	p.Spec.InitContainers, p.Spec.Containers, p.Spec.EphemeralContainers = init, regular, ephemeral
	return &p
}

func TestProblems(t *testing.T) {
	w := &Webhook{AllowedRegistries: allowed}
	tests := []struct {
		name string
		pod  *Pod
		want []string
	}{
		{"nothing wrong", podOf(containers("setup", "busybox:1.36"), containers("web", "nginx:1.27"), nil), nil},
		{"a pod without containers", podOf(nil, nil, nil), nil},
		{"one line per problem, in order", podOf(
			containers("setup", "busybox"),
			containers("web", "nginx:1.27", "sidecar", "quay.io/org/proxy:latest"),
			containers("debugger", "busybox:latest")),
			[]string{
				`init container "setup": image "busybox" has no tag, which means "latest"`,
				`container "sidecar": image "quay.io/org/proxy:latest" is from registry "quay.io", which is not allowed`,
				`container "sidecar": image "quay.io/org/proxy:latest" has the tag "latest"`,
				`ephemeral container "debugger": image "busybox:latest" has the tag "latest"`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := w.Problems(tt.pod); !slices.Equal(got, tt.want) {
				t.Errorf("Problems =\n\t%q\nwant\n\t%q", got, tt.want)
			}
		})
	}
}

var (
	pods        = GroupVersionResource{Group: "", Version: "v1", Resource: "pods"}
	configmaps  = GroupVersionResource{Group: "", Version: "v1", Resource: "configmaps"}
	widgetPods  = GroupVersionResource{Group: "example.com", Version: "v1", Resource: "pods"}
	podKind     = GroupVersionKind{Group: "", Version: "v1", Kind: "Pod"}
	uidSequence int
)

// request is an AdmissionRequest for the resource, with JSON objects.
func request(op string, gvr GroupVersionResource, sub string, object, oldObject any) *AdmissionRequest {
	uidSequence++
	r := &AdmissionRequest{
		UID:         fmt.Sprintf("705ab4f5-6393-11e8-b7cc-42010a8000%02d", uidSequence),
		Kind:        podKind,
		Resource:    gvr,
		SubResource: sub,
		Name:        "web",
		Namespace:   "default",
		Operation:   op,
	}
	for _, o := range []struct {
		v   any
		dst *json.RawMessage
	}{{object, &r.Object}, {oldObject, &r.OldObject}} {
		if o.v == nil {
			continue
		}
		if raw, ok := o.v.(string); ok {
			*o.dst = json.RawMessage(raw)
			continue
		}
		data, err := json.Marshal(o.v)
		if err != nil {
			panic(err)
		}
		*o.dst = data
	}
	return r
}

func body(req *AdmissionRequest) string {
	data, err := json.Marshal(AdmissionReview{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", Request: req})
	if err != nil {
		panic(err)
	}
	return string(data)
}

// post sends body to the webhook the way the API server does.
func post(t *testing.T, url, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

func TestReview(t *testing.T) {
	good := podOf(nil, containers("web", "registry.k8s.io/pause:3.9"), nil)
	refused := func(message string) *Status { return &Status{Code: 403, Reason: "Forbidden", Message: message} }
	tests := []struct {
		name    string
		allowed []string // the webhook's AllowedRegistries; nil means the default list
		none    bool     // a webhook with no allowed registries at all
		req     *AdmissionRequest
		want    *Status // nil: allowed
		prefix  bool    // want.Message is the start of the message
	}{
		{name: "an allowed registry and a version", req: request("CREATE", pods, "", good, nil)},
		{name: "Docker Hub's short names are docker.io", req: request("CREATE", pods, "", podOf(nil, containers("web", "nginx:1.27"), nil), nil)},
		{name: "index.docker.io is docker.io too", allowed: []string{"docker.io"},
			req: request("CREATE", pods, "", podOf(nil, containers("web", "index.docker.io/library/nginx:1.27"), nil), nil)},
		{name: "a registry that is not allowed", req: request("CREATE", pods, "", podOf(nil, containers("exporter", "quay.io/prometheus/node-exporter:v1.8.0"), nil), nil),
			want: refused(`container "exporter": image "quay.io/prometheus/node-exporter:v1.8.0" is from registry "quay.io", which is not allowed`)},
		{name: "a port makes another registry", allowed: []string{"quay.io"},
			req:  request("CREATE", pods, "", podOf(nil, containers("app", "quay.io:443/org/app:v1"), nil), nil),
			want: refused(`container "app": image "quay.io:443/org/app:v1" is from registry "quay.io:443", which is not allowed`)},
		{name: "no allowed registries refuse every image", none: true, req: request("CREATE", pods, "", podOf(nil, containers("web", "nginx:1.27"), nil), nil),
			want: refused(`container "web": image "nginx:1.27" is from registry "docker.io", which is not allowed`)},
		{name: "the latest tag", req: request("CREATE", pods, "", podOf(nil, containers("web", "nginx:latest"), nil), nil),
			want: refused(`container "web": image "nginx:latest" has the tag "latest"`)},
		{name: "no tag means latest", req: request("CREATE", pods, "", podOf(nil, containers("web", "nginx"), nil), nil),
			want: refused(`container "web": image "nginx" has no tag, which means "latest"`)},
		{name: "a registry's port is not a tag", req: request("CREATE", pods, "", podOf(nil, containers("app", "localhost:5000/app"), nil), nil),
			want: refused(`container "app": image "localhost:5000/app" has no tag, which means "latest"`)},
		{name: "a digest pins the image", req: request("CREATE", pods, "", podOf(nil, containers("web", "nginx@"+digest), nil), nil)},
		{name: "a digest pins it whatever the tag says", req: request("CREATE", pods, "", podOf(nil, containers("web", "nginx:latest@"+digest), nil), nil)},
		{name: "two problems of one container: registry first", req: request("CREATE", pods, "", podOf(nil, containers("app", "ghcr.io/org/app:latest"), nil), nil),
			want: refused(`container "app": image "ghcr.io/org/app:latest" is from registry "ghcr.io", which is not allowed; container "app": image "ghcr.io/org/app:latest" has the tag "latest"`)},
		{name: "init containers, containers, ephemeral containers", req: request("CREATE", pods, "", podOf(
			containers("setup", "busybox"),
			containers("web", "nginx:1.27", "sidecar", "quay.io/org/proxy:2.0"),
			containers("debugger", "busybox:latest")), nil),
			want: refused(`init container "setup": image "busybox" has no tag, which means "latest"; ` +
				`container "sidecar": image "quay.io/org/proxy:2.0" is from registry "quay.io", which is not allowed; ` +
				`ephemeral container "debugger": image "busybox:latest" has the tag "latest"`)},
		{name: "an UPDATE is judged by the new object", req: request("UPDATE", pods, "", good, podOf(nil, containers("web", "nginx"), nil))},
		{name: "an UPDATE to a bad image", req: request("UPDATE", pods, "", podOf(nil, containers("web", "nginx"), nil), good),
			want: refused(`container "web": image "nginx" has no tag, which means "latest"`)},
		{name: "kubectl debug: ephemeral containers come through a subresource",
			req:  request("UPDATE", pods, "ephemeralcontainers", podOf(nil, containers("web", "nginx:1.27"), containers("debugger", "busybox")), good),
			want: refused(`ephemeral container "debugger": image "busybox" has no tag, which means "latest"`)},
		{name: "a DELETE has nothing to judge", req: request("DELETE", pods, "", "null", podOf(nil, containers("web", "nginx"), nil))},
		{name: "a status update changes no image", req: request("UPDATE", pods, "status", podOf(nil, containers("web", "nginx"), nil), nil)},
		{name: "exec is a CONNECT", req: request("CONNECT", pods, "exec", map[string]any{"kind": "PodExecOptions", "command": []string{"sh"}}, nil)},
		{name: "configmaps are not this webhook's", req: request("CREATE", configmaps, "", map[string]any{"kind": "ConfigMap", "data": map[string]string{"image": "nginx"}}, nil)},
		{name: "nor are pods of another group", req: request("CREATE", widgetPods, "", podOf(nil, containers("web", "nginx"), nil), nil)},
		{name: "a CREATE without an object", req: request("CREATE", pods, "", nil, nil),
			want: &Status{Code: 400, Reason: "BadRequest", Message: "request.object is missing"}},
		{name: "an object that is not a Pod", req: request("CREATE", pods, "", `{"spec":{"containers":"nginx"}}`, nil),
			want: &Status{Code: 400, Reason: "BadRequest", Message: "request.object is not a Pod: "}, prefix: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &Webhook{AllowedRegistries: allowed}
			if tt.allowed != nil {
				w.AllowedRegistries = tt.allowed
			}
			if tt.none {
				w.AllowedRegistries = nil
			}
			srv := httptest.NewServer(w)
			defer srv.Close()

			resp, data := post(t, srv.URL+"/validate", "application/json", body(tt.req))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d %s; a verdict is always 200, whatever it says", resp.StatusCode, data)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var got AdmissionReview
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("the answer is not JSON: %v\n%s", err, data)
			}
			var raw map[string]map[string]any
			_ = json.Unmarshal(data, &raw)
			if got.APIVersion != "admission.k8s.io/v1" || got.Kind != "AdmissionReview" {
				t.Errorf("the answer is a %s %s, want an admission.k8s.io/v1 AdmissionReview", got.APIVersion, got.Kind)
			}
			if got.Request != nil || raw["request"] != nil {
				t.Errorf("the answer echoes the request; send only the response")
			}
			if got.Response == nil {
				t.Fatalf("the answer has no response: %s", data)
			}
			if got.Response.UID != tt.req.UID {
				t.Errorf("response.uid = %q, want the request's %q", got.Response.UID, tt.req.UID)
			}
			switch {
			case tt.want == nil:
				if !got.Response.Allowed || got.Response.Status != nil || raw["response"]["status"] != nil {
					t.Errorf("response = %s; want allowed, without a status", data)
				}
			case got.Response.Allowed:
				t.Errorf("the request was allowed, want %+v", *tt.want)
			case got.Response.Status == nil:
				t.Errorf("refused without a status, want %+v", *tt.want)
			case tt.prefix:
				s := *got.Response.Status
				if s.Code != tt.want.Code || s.Reason != tt.want.Reason || !strings.HasPrefix(s.Message, tt.want.Message) {
					t.Errorf("status = %+v, want code %d, reason %s, a message starting %q", s, tt.want.Code, tt.want.Reason, tt.want.Message)
				}
			case *got.Response.Status != *tt.want:
				t.Errorf("status =\n\t%+v\nwant\n\t%+v", *got.Response.Status, *tt.want)
			}
		})
	}
}

func TestNotAReview(t *testing.T) {
	w := &Webhook{AllowedRegistries: allowed}
	srv := httptest.NewServer(w)
	defer srv.Close()
	good := body(request("CREATE", pods, "", podOf(nil, containers("web", "nginx:1.27"), nil), nil))
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		want        int
	}{
		{"a review with a charset", http.MethodPost, "application/json; charset=utf-8", good, http.StatusOK},
		{"GET", http.MethodGet, "application/json", "", http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, "application/json", good, http.StatusMethodNotAllowed},
		{"YAML", http.MethodPost, "application/yaml", "apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\n", http.StatusUnsupportedMediaType},
		{"no Content-Type", http.MethodPost, "", good, http.StatusUnsupportedMediaType},
		{"not JSON", http.MethodPost, "application/json", "{not json", http.StatusBadRequest},
		{"a JSON array", http.MethodPost, "application/json", "[]", http.StatusBadRequest},
		{"a Pod, not a review", http.MethodPost, "application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"}}`, http.StatusBadRequest},
		{"an older review version", http.MethodPost, "application/json", strings.Replace(good, "admission.k8s.io/v1", "admission.k8s.io/v1beta1", 1), http.StatusBadRequest},
		{"another kind", http.MethodPost, "application/json", strings.Replace(good, `"kind":"AdmissionReview"`, `"kind":"AdmissionRequest"`, 1), http.StatusBadRequest},
		{"a review without a request", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, http.StatusBadRequest},
		{"a request without a uid", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+"/validate", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("HTTP %d (%s), want %d", resp.StatusCode, strings.TrimSpace(string(data)), tt.want)
			}
			if tt.want == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow: %q, want %q", resp.Header.Get("Allow"), http.MethodPost)
			}
			if tt.want != http.StatusOK && strings.Contains(string(data), `"response"`) {
				t.Errorf("an HTTP error carries a review response: %s", data)
			}
		})
	}
}
