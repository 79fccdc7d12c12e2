// The metrics filter: every request is counted by its RequestInfo and its
// response code, and timed unless it is long-running; watches and other
// long-running requests are a gauge while they are open
// (k8s.io/apiserver/pkg/endpoints/metrics: MonitorRequest, RecordLongRunning).

package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/filters"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

// The request_kind values of apiserver_current_inflight_requests.
const (
	readOnlyKind = "readOnly"
	mutatingKind = "mutating"
)

// WithMetrics records every request in m. It goes inside WithRequestInfo and
// outside the filters that answer for the handler (authentication, the
// in-flight limit, the timeout), so that their 401s, 429s and 504s are
// counted too.
//
// A watch is in apiserver_longrunning_requests{verb="WATCH"} while it is
// open and in apiserver_request_total when it ends; its duration is how long
// the client watched, so it is not a request latency and is not observed.
// (kube-apiserver observes it, and every latency query filters WATCH out.)
func WithMetrics(next http.Handler, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := request.RequestInfoFrom(r.Context())
		if info.Verb == "" { // called before WithRequestInfo
			info = request.Resolve(r)
		}
		l := labelsFor(r, info)
		longRunning := filters.LongRunning(r)
		if longRunning {
			g := m.longRunning.WithLabelValues(l.verb, l.group, l.version, l.resource, l.subresource, l.scope, component)
			g.Inc()
			defer g.Dec()
		} else {
			kind := mutatingKind
			if filters.IsReadOnly(info.Verb) {
				kind = readOnlyKind
			}
			g := m.inflight.WithLabelValues(kind)
			g.Inc()
			defer g.Dec()
		}

		start := time.Now()
		rw := &codeRecorder{ResponseWriter: w}
		completed := false
		defer func() {
			code := rw.code
			if !completed && code == 0 { // a panic on its way to WithPanicRecovery's 500
				code = http.StatusInternalServerError
			}
			if code == 0 { // nothing written: net/http sends 200
				code = http.StatusOK
			}
			if !info.IsResourceRequest && code == http.StatusNotFound {
				l.subresource = "" // keep unknown paths out of the labels
			}
			m.requests.WithLabelValues(l.verb, l.dryRun, l.group, l.version, l.resource, l.subresource, l.scope, component, strconv.Itoa(code)).Inc()
			if !longRunning {
				m.durations.WithLabelValues(l.verb, l.dryRun, l.group, l.version, l.resource, l.subresource, l.scope, component).Observe(time.Since(start).Seconds())
			}
		}()
		next.ServeHTTP(rw, r)
		completed = true
	})
}

// labels are a request's label values, as kube-apiserver reports them.
type labels struct {
	verb, dryRun, group, version, resource, subresource, scope string
}

func labelsFor(r *http.Request, info request.RequestInfo) labels {
	l := labels{verb: reportedVerb(r, info), dryRun: dryRun(r), scope: scope(info)}
	if info.IsResourceRequest {
		l.group, l.version, l.resource, l.subresource = info.APIGroup, info.APIVersion, info.Resource, info.Subresource
	} else {
		l.subresource = info.Path // kube-apiserver's way: /healthz, /metrics, /version
	}
	return l
}

// The reported verb is the HTTP method, made precise: LIST and WATCH apart
// from GET, APPLY apart from PATCH, CONNECT for the subresources that
// upgrade the connection; anything unknown is "other".
var (
	verbs = map[string]string{"get": "GET", "list": "LIST", "watch": "WATCH", "create": "POST", "update": "PUT",
		"patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETECOLLECTION", "proxy": "PROXY"}
	connectSubresources = []string{"log", "exec", "portforward", "attach", "proxy"}
	pathMethods         = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
)

const applyPatchType = "application/apply-patch+yaml"

func reportedVerb(r *http.Request, info request.RequestInfo) string {
	if !info.IsResourceRequest {
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		if slices.Contains(pathMethods, method) {
			return method
		}
		return "other"
	}
	if slices.Contains(connectSubresources, info.Subresource) {
		return "CONNECT"
	}
	if info.Verb == "patch" && strings.HasPrefix(r.Header.Get("Content-Type"), applyPatchType) {
		return "APPLY"
	}
	if v, ok := verbs[info.Verb]; ok {
		return v
	}
	return "other"
}

// scope is kube-apiserver's CleanScope: one object, a namespace, the whole
// cluster, or nothing for a path.
func scope(info request.RequestInfo) string {
	switch {
	case info.Name != "" || info.Verb == "create":
		return "resource"
	case info.Namespace != "":
		return "namespace"
	case info.IsResourceRequest:
		return "cluster"
	}
	return ""
}

// dryRun is the dryRun parameter as a label: "" or "All", and "invalid" for
// anything else, so that clients cannot make up label values.
func dryRun(r *http.Request) string {
	if !strings.Contains(r.URL.RawQuery, "dryRun") {
		return ""
	}
	values := r.URL.Query()["dryRun"]
	for _, v := range values {
		if v != "All" {
			return "invalid"
		}
	}
	if len(values) == 0 {
		return ""
	}
	return "All"
}

// codeRecorder remembers the response code, and passes Flush on, which a
// watch needs to stream.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (c *codeRecorder) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeRecorder) Write(p []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.ResponseWriter.Write(p)
}

func (c *codeRecorder) Flush() {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *codeRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }
