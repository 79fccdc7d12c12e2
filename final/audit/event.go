// The audit event and where it goes (--audit-log-path): one audit.k8s.io/v1
// Event per line of JSON, the format kube-apiserver's log backend writes
// and log shippers read (k8s.io/apiserver/pkg/apis/audit/v1/types.go,
// plugin/pkg/audit/log/backend.go).

package audit

import (
	"encoding/json"
	"io"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Event is an audit.k8s.io/v1 Event: one request, at one stage.
type Event struct {
	Kind             string           `json:"kind"`
	APIVersion       string           `json:"apiVersion"`
	Level            Level            `json:"level"`
	AuditID          string           `json:"auditID"`
	Stage            Stage            `json:"stage"`
	RequestURI       string           `json:"requestURI"`
	Verb             string           `json:"verb"`
	User             UserInfo         `json:"user"`
	ImpersonatedUser *UserInfo        `json:"impersonatedUser,omitempty"`
	SourceIPs        []string         `json:"sourceIPs,omitempty"`
	UserAgent        string           `json:"userAgent,omitempty"`
	ObjectRef        *ObjectReference `json:"objectRef,omitempty"`
	ResponseStatus   *ResponseStatus  `json:"responseStatus,omitempty"`
	// The bodies, as the client sent them and as it got them, when the
	// level includes them and they are JSON.
	RequestObject            json.RawMessage `json:"requestObject,omitempty"`
	ResponseObject           json.RawMessage `json:"responseObject,omitempty"`
	RequestReceivedTimestamp MicroTime       `json:"requestReceivedTimestamp"`
	StageTimestamp           MicroTime       `json:"stageTimestamp"`
}

// UserInfo is authentication.k8s.io/v1 UserInfo.
type UserInfo struct {
	Username string              `json:"username,omitempty"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

// ObjectReference names what a resource request is about.
type ObjectReference struct {
	Resource        string `json:"resource,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIGroup        string `json:"apiGroup,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Subresource     string `json:"subresource,omitempty"`
}

// ResponseStatus is the metav1.Status of the response: the code always, and
// for a Status response (a failure) its status, reason and message too.
type ResponseStatus struct {
	Metadata struct{}       `json:"metadata"`
	Status   string         `json:"status,omitempty"`
	Message  string         `json:"message,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
	Code     int            `json:"code,omitempty"`
}

// MicroTime is a timestamp with microseconds (metav1.MicroTime), in UTC.
type MicroTime time.Time

func (t MicroTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
}

func (t *MicroTime) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	parsed, err := time.Parse(time.RFC3339Nano, s)
	*t = MicroTime(parsed)
	return err
}

// Sink takes events. It reports false if it could not keep them: a request
// whose audit event cannot be kept is refused, as kube-apiserver does.
type Sink interface {
	ProcessEvents(events ...*Event) bool
}

// LogBackend writes each event as a line of JSON.
type LogBackend struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
}

// NewLogBackend writes events to w.
func NewLogBackend(w io.Writer) *LogBackend { return &LogBackend{w: w} }

// OpenLogBackend writes events to the file at path, appending, or to
// standard output for "-". (kube-apiserver also rotates the file; here
// that is left to logrotate's copytruncate or a restart.)
func OpenLogBackend(path string) (*LogBackend, error) {
	if path == "-" {
		return NewLogBackend(os.Stdout), nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &LogBackend{w: f, closer: f}, nil
}

// ProcessEvents writes the events, one line each; lines of concurrent
// requests never mix.
func (b *LogBackend) ProcessEvents(events ...*Event) bool {
	ok := true
	for _, ev := range events {
		line, err := json.Marshal(ev)
		if err != nil {
			log.Printf("audit: encoding event %s: %v", ev.AuditID, err)
			ok = false
			continue
		}
		b.mu.Lock()
		_, err = b.w.Write(append(line, '\n'))
		b.mu.Unlock()
		if err != nil {
			log.Printf("audit: writing event %s: %v", ev.AuditID, err)
			ok = false
		}
	}
	return ok
}

// Close closes the file (not standard output).
func (b *LogBackend) Close() error {
	if b.closer == nil {
		return nil
	}
	return b.closer.Close()
}
