// Package audit is the server's record of who did what: for each request the
// policy selects, an audit.k8s.io/v1 Event when the request arrives and
// another when its response is complete, with the user, the object, the
// response code, and the bodies at the levels that ask for them.
//
// Kubernetes keeps the filter in k8s.io/apiserver/pkg/endpoints/filters
// (audit.go), the policy in pkg/audit/policy, the types in pkg/apis/audit/v1
// and the log backend in plugin/pkg/audit/log.
package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apierrors"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/request"
)

const (
	// maxBodyBytes bounds what an event keeps of a body: kube-apiserver's
	// limit on request bodies. A larger body is left out, never cut short.
	maxBodyBytes = object.MaxBodyBytes
	// maxStatusBytes bounds what is kept of a failure's response at the
	// levels below RequestResponse: room for any Status.
	maxStatusBytes = 64 << 10
	// maxUserAgentLength is where kube-apiserver cuts a long User-Agent.
	maxUserAgentLength = 1024
)

// auditing is one audited request on its way through the server.
type auditing struct {
	event *Event
	user  *request.User // the authenticated user, before any impersonation
	omit  []Stage
	sink  Sink
}

type auditingKey struct{}

// WithAudit audits the requests policy selects into sink (neither nil, or
// it does nothing). It runs after authentication, which gives it the user,
// and before impersonation: the event names who authenticated, and
// WithImpersonatedUser adds who they acted as.
//
// The request body is copied as the handler reads it, and the response as
// the handler writes it, each only when the level needs it and up to 3 MiB;
// nothing is read ahead or held back. A response that is flushed is a
// stream (a watch): its events go to the client as they come and none of
// them is kept, and the request is logged once, when it ends.
//
// Every request it sees gets an Audit-ID response header, the same as its
// events' auditID: the client's own Audit-ID if it sent one, so that it can
// find its requests in the log.
func WithAudit(next http.Handler, policy *Policy, sink Sink) http.Handler {
	if policy == nil || sink == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received := time.Now()
		auditID := r.Header.Get("Audit-ID")
		if auditID == "" {
			auditID = object.NewUID()
		}
		w.Header().Set("Audit-ID", auditID)

		user := request.UserFrom(r.Context())
		info := request.RequestInfoFrom(r.Context())
		if info.Verb == "" { // called before WithRequestInfo
			info = request.Resolve(r)
		}
		config := policy.EvaluatePolicyRule(user, info)
		if config.Level == LevelNone {
			next.ServeHTTP(w, r)
			return
		}
		a := &auditing{event: newEvent(r, auditID, config.Level, user, info, received), user: user, omit: config.OmitStages, sink: sink}
		if !a.process(StageRequestReceived) {
			apierrors.WriteError(w, apierrors.NewInternalError(errors.New("failed to store audit event")))
			return
		}

		r = r.WithContext(context.WithValue(r.Context(), auditingKey{}, a))
		var body *bodyRecorder
		if info.IsResourceRequest && r.Body != nil && r.Body != http.NoBody {
			body = &bodyRecorder{ReadCloser: r.Body}
			r.Body = body
		}
		rw := &responseRecorder{ResponseWriter: w, keepAll: config.Level == LevelRequestResponse && info.IsResourceRequest}

		defer func() {
			if p := recover(); p != nil {
				a.event.ResponseStatus = &ResponseStatus{Code: http.StatusInternalServerError, Status: "Failure",
					Reason: "InternalError", Message: fmt.Sprintf("APIServer panic'd: %v", p)}
				a.process(StagePanic)
				panic(p) // on to WithPanicRecovery
			}
			a.logRequest(body)
			a.logResponse(rw)
			a.process(StageResponseComplete)
		}()
		next.ServeHTTP(rw, r)
	})
}

// WithImpersonatedUser records in the event the user a request acts as, when
// impersonation changed it. It goes right after (inside) the impersonation
// filter; kube-apiserver's impersonation filter does this itself
// (audit.LogImpersonatedUser).
func WithImpersonatedUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := r.Context().Value(auditingKey{}).(*auditing)
		if u := request.UserFrom(r.Context()); a != nil && u != nil && u != a.user {
			a.event.ImpersonatedUser = userInfo(u)
		}
		next.ServeHTTP(w, r)
	})
}

// newEvent fills in what is known when a request arrives
// (kube-apiserver's audit.LogRequestMetadata).
func newEvent(r *http.Request, auditID string, level Level, u *request.User, info request.RequestInfo, received time.Time) *Event {
	ev := &Event{
		Kind: "Event", APIVersion: "audit.k8s.io/v1",
		Level: level, AuditID: auditID,
		RequestURI: r.URL.RequestURI(), Verb: info.Verb,
		SourceIPs: sourceIPs(r), UserAgent: r.UserAgent(),
		RequestReceivedTimestamp: MicroTime(received),
	}
	if len(ev.UserAgent) > maxUserAgentLength {
		ev.UserAgent = ev.UserAgent[:maxUserAgentLength] + "...TRUNCATED"
	}
	if u != nil {
		ev.User = *userInfo(u)
	}
	if info.IsResourceRequest {
		ev.ObjectRef = &ObjectReference{Resource: info.Resource, Namespace: info.Namespace, Name: info.Name,
			APIGroup: info.APIGroup, APIVersion: info.APIVersion, Subresource: info.Subresource}
	}
	return ev
}

func userInfo(u *request.User) *UserInfo {
	return &UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups, Extra: u.Extra}
}

// sourceIPs are the client's addresses, as kube-apiserver lists them: those
// of X-Forwarded-For, then X-Real-Ip, then the connection's own (which,
// unlike the headers, a client cannot make up).
func sourceIPs(r *http.Request) []string {
	var ips []string
	add := func(s string) {
		if ip := net.ParseIP(strings.TrimSpace(s)); ip != nil && !slices.Contains(ips, ip.String()) {
			ips = append(ips, ip.String())
		}
	}
	if fwd := r.Header.Get("X-Forwarded-For"); fwd != "" {
		for _, part := range strings.Split(fwd, ",") {
			add(part)
		}
	}
	if real := r.Header.Get("X-Real-Ip"); real != "" {
		add(real)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && (len(ips) == 0 || ips[len(ips)-1] != ip.String()) {
		ips = append(ips, ip.String())
	}
	return ips
}

// process sends the event as it is at stage, unless the policy omits that
// stage.
func (a *auditing) process(stage Stage) bool {
	if slices.Contains(a.omit, stage) {
		return true
	}
	ev := *a.event
	ev.Stage = stage
	ev.StageTimestamp = MicroTime(time.Now())
	if stage == StageRequestReceived {
		ev.StageTimestamp = ev.RequestReceivedTimestamp
	}
	return a.sink.ProcessEvents(&ev)
}

// logRequest takes what the event needs of the request body: the object's
// name and uid for objectRef (a create names its object only in the body),
// and at Request level and above the body itself
// (kube-apiserver's audit.LogRequestObject).
func (a *auditing) logRequest(body *bodyRecorder) {
	if body == nil || body.overflow || !json.Valid(body.buf.Bytes()) {
		return // no body, too large, partly read, or not JSON (protobuf, YAML)
	}
	var obj struct {
		Metadata struct{ Name, Namespace, UID, ResourceVersion string }
	}
	if json.Unmarshal(body.buf.Bytes(), &obj) == nil {
		ref, m := a.event.ObjectRef, obj.Metadata
		setIfEmpty(&ref.Name, m.Name)
		setIfEmpty(&ref.Namespace, m.Namespace)
		setIfEmpty(&ref.UID, m.UID)
		setIfEmpty(&ref.ResourceVersion, m.ResourceVersion)
	}
	if a.event.Level.atLeast(LevelRequest) {
		a.event.RequestObject = body.buf.Bytes()
	}
}

func setIfEmpty(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

// logResponse sets the response's status: its code, and for a Status (a
// failure) its status, reason and message; at RequestResponse level, the
// response body too (kube-apiserver's audit.LogResponseObject).
func (a *auditing) logResponse(rw *responseRecorder) {
	if rw.code == 0 { // the handler wrote nothing
		a.event.ResponseStatus = &ResponseStatus{Code: http.StatusOK, Status: "Success", Message: "Connection closed early"}
		return
	}
	a.event.ResponseStatus = &ResponseStatus{Code: rw.code}
	if rw.streamed || rw.overflow || !json.Valid(rw.buf.Bytes()) {
		return
	}
	var status struct {
		Kind, Status, Message, Reason string
		Details                       map[string]any
	}
	if json.Unmarshal(rw.buf.Bytes(), &status) == nil && status.Kind == "Status" {
		rs := a.event.ResponseStatus
		rs.Status, rs.Message, rs.Reason, rs.Details = status.Status, status.Message, status.Reason, status.Details
	}
	if rw.keepAll {
		a.event.ResponseObject = rw.buf.Bytes()
	}
}

// bodyRecorder keeps a copy of what the handler reads of the request body,
// up to maxBodyBytes.
type bodyRecorder struct {
	io.ReadCloser
	buf      bytes.Buffer
	overflow bool
}

func (b *bodyRecorder) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.keep(p[:n])
	return n, err
}

func (b *bodyRecorder) keep(p []byte) {
	if b.overflow {
		return
	}
	if b.buf.Len()+len(p) > maxBodyBytes {
		b.overflow = true
		b.buf = bytes.Buffer{}
		return
	}
	b.buf.Write(p)
}

// responseRecorder notes the response code and keeps a copy of the body:
// all of it (up to maxBodyBytes) when keepAll, else only a failure's Status.
// Flush passes on, and stops the copying: a flushed response is a stream.
type responseRecorder struct {
	http.ResponseWriter
	keepAll  bool
	code     int
	limit    int
	buf      bytes.Buffer
	overflow bool
	streamed bool
}

func (rw *responseRecorder) WriteHeader(code int) {
	if rw.code == 0 {
		rw.code = code
		switch {
		case rw.keepAll:
			rw.limit = maxBodyBytes
		case code >= 400:
			rw.limit = maxStatusBytes
		}
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *responseRecorder) Write(p []byte) (int, error) {
	if rw.code == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	if !rw.streamed && !rw.overflow && rw.limit > 0 {
		if rw.buf.Len()+len(p) > rw.limit {
			rw.overflow = true
			rw.buf = bytes.Buffer{}
		} else {
			rw.buf.Write(p)
		}
	}
	return rw.ResponseWriter.Write(p)
}

func (rw *responseRecorder) Flush() {
	if rw.code == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	rw.streamed = true
	rw.buf = bytes.Buffer{}
	if f, ok := rw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (rw *responseRecorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
