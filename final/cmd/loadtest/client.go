// The load tool's HTTP side: one client per simulated user, each with its
// own TLS connection speaking HTTP/2 (what client-go negotiates), and the
// ~1 KiB ConfigMap every phase writes. The standard library only: no
// client-go, so the tool can measure any server, including a chapter.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// requestTimeout bounds one request that is not a watch: kube-apiserver's
// own --request-timeout is one minute.
const requestTimeout = time.Minute

// maxThrottleRetries is how often a request answered 429 is tried again
// after its Retry-After, as client-go does (it tries up to 10 times).
const maxThrottleRetries = 10

// credentials say how the tool proves who it is: a bearer token, or a
// client certificate and key, and the CA that signed the server's
// certificate.
type credentials struct {
	ca, token, cert, key string
}

// tlsConfig reads the files. It runs after the cold-start phase: a server
// started with --exec on a fresh data directory writes its CA and admin
// certificate there only when it starts.
func (c credentials) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.ca != "" {
		pem, err := os.ReadFile(c.ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca: %s holds no PEM certificate", c.ca)
		}
	}
	if c.cert != "" {
		cert, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// newTransport is one client's connection pool. ForceAttemptHTTP2 is
// needed because a custom TLS config otherwise turns HTTP/2 off; with it,
// requests share one connection until the server's stream limit (100 in
// kube-apiserver, 250 in Go's server), and the transport dials another.
func newTransport(conf *tls.Config) *http.Transport {
	return &http.Transport{
		TLSClientConfig:     conf.Clone(),
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 16,
	}
}

// client is one simulated user: its own connection, and its own tally of
// the current phase (one goroutine uses a client at a time, so the tally
// needs no lock).
type client struct {
	id       int
	server   string
	token    string
	http     *http.Client
	rng      *rand.Rand // which object to get: its own sequence, the same in every run
	received time.Time  // when the last response's last byte arrived
	tally    tally
}

// tally counts what a phase's operations met, besides their latencies.
type tally struct {
	latencies []time.Duration
	errors    int
	firstErr  string
	conflicts int // 409s answered to an update, each followed by a retry
	throttled int // 429s, each followed by a wait and a retry
	items     int // objects a list returned
	pages     int // responses a paged list took
	bytes     int // bytes a list's responses held
	late      int // lease renewals that started a whole period late
}

// fail records an operation's error, keeping the first one for the report.
func (t *tally) fail(err error) {
	t.errors++
	if t.firstErr == "" {
		t.firstErr = err.Error()
	}
}

// statusError is a response other than 2xx: the code and the Status's
// reason and message, as kubectl shows them.
type statusError struct {
	code    int
	reason  string
	message string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.message)
}

// isStatus tells whether err is a response with that HTTP code.
func isStatus(err error, code int) bool {
	var s *statusError
	return errors.As(err, &s) && s.code == code
}

// do sends one request and reads the whole response: the latency a caller
// measures around do is the client's view, up to the last byte of the body,
// but not the decoding. A 429 is waited out and tried again, as client-go
// does, and counted.
func (c *client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		data, retryAfter, err := c.once(ctx, method, path, body)
		if !isStatus(err, http.StatusTooManyRequests) || attempt == maxThrottleRetries {
			return data, err
		}
		c.tally.throttled++
		select {
		case <-time.After(retryAfter):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *client) once(ctx context.Context, method, path string, body []byte) ([]byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, reader)
	if err != nil {
		return nil, 0, err
	}
	c.authorize(req)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	c.received = time.Now()
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode/100 == 2 {
		return data, 0, nil
	}
	retryAfter := time.Second
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return nil, retryAfter, decodeStatus(resp.StatusCode, data)
}

func (c *client) authorize(req *http.Request) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// decodeStatus turns an error response into a statusError, from the
// metav1.Status body every Kubernetes API server sends.
func decodeStatus(code int, body []byte) error {
	var status struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &status) != nil || status.Message == "" {
		status.Message = strings.TrimSpace(string(body))
		if len(status.Message) > 200 {
			status.Message = status.Message[:200] + "…"
		}
	}
	return &statusError{code: code, reason: status.Reason, message: status.Message}
}

// version asks the server's /version, which also opens the client's
// connection, and says which protocol it speaks (HTTP/2.0 expected).
func (c *client) version(ctx context.Context) (version, proto string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.server+"/version", nil)
	if err != nil {
		return "", "", err
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("connecting to %s: %w", c.server, err)
	}
	defer resp.Body.Close()
	var info struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); resp.StatusCode != http.StatusOK || err != nil {
		return "", "", fmt.Errorf("GET %s/version: %s", c.server, resp.Status)
	}
	return info.GitVersion, resp.Proto, nil
}

// getJSON sends a request and decodes the answer into out; it says how
// many bytes the answer had.
func (c *client) getJSON(ctx context.Context, path string, out any) (int, error) {
	data, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return 0, err
	}
	return len(data), json.Unmarshal(data, out)
}

// configMap is the object every phase writes, with just the metadata a
// read-modify-write has to carry back: an update that left out uid or
// creationTimestamp would be refused as changing them.
type configMap struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   objectMeta        `json:"metadata"`
	Data       map[string]string `json:"data"`
}

type objectMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
}

// objectSize is what one ConfigMap weighs as JSON, as the issue asks: 1 KiB.
const objectSize = 1024

// loadLabel marks every object the tool creates, so that cleanup can delete
// them by a label selector even in a namespace it did not create.
const loadLabel = "app.kubernetes.io/created-by=loadtest"

// newConfigMap is a ConfigMap whose JSON is objectSize bytes: a payload
// pads it up from its name, labels and counter.
func newConfigMap(namespace, name string) *configMap {
	key, value, _ := strings.Cut(loadLabel, "=")
	cm := &configMap{APIVersion: "v1", Kind: "ConfigMap",
		Metadata: objectMeta{Name: name, Namespace: namespace, Labels: map[string]string{key: value}},
		Data:     map[string]string{"counter": "0", "payload": ""}}
	bare, _ := json.Marshal(cm)
	if pad := objectSize - len(bare); pad > 0 {
		cm.Data["payload"] = strings.Repeat("x", pad)
	}
	return cm
}

// configMapsPath is the namespace's ConfigMap collection.
func configMapsPath(namespace string) string {
	return "/api/v1/namespaces/" + namespace + "/configmaps"
}

// create creates cm and returns it as stored (with its uid and
// resourceVersion).
func (c *client) create(ctx context.Context, cm *configMap) (*configMap, error) {
	body, _ := json.Marshal(cm)
	data, err := c.do(ctx, http.MethodPost, configMapsPath(cm.Metadata.Namespace), body)
	if err != nil {
		return nil, err
	}
	var created configMap
	return &created, json.Unmarshal(data, &created)
}

// get reads one ConfigMap.
func (c *client) get(ctx context.Context, namespace, name string) (*configMap, error) {
	var cm configMap
	_, err := c.getJSON(ctx, configMapsPath(namespace)+"/"+name, &cm)
	return &cm, err
}

// update replaces cm, conditionally on its resourceVersion: a 409 Conflict
// means someone wrote it since.
func (c *client) update(ctx context.Context, cm *configMap) (*configMap, error) {
	body, _ := json.Marshal(cm)
	data, err := c.do(ctx, http.MethodPut, configMapsPath(cm.Metadata.Namespace)+"/"+cm.Metadata.Name, body)
	if err != nil {
		return nil, err
	}
	var updated configMap
	return &updated, json.Unmarshal(data, &updated)
}

// listMeta is what the tool reads of a list: its resourceVersion, the
// continue token, and how many items it has (not the items themselves).
type listMeta struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
		Continue        string `json:"continue"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}
