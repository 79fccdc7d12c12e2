package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StartEtcd starts a real etcd (Debian's etcd-server package puts it on
// PATH) on loopback ports of its own, with its data in a temporary
// directory, and returns its client URL and a function that stops it and
// removes its data. Without etcd on PATH it returns "" and no error:
// RequireEtcd then decides. Call it from TestMain, once per test binary.
func StartEtcd() (endpoint string, stop func(), err error) {
	e, err := NewEtcd()
	if e == nil || err != nil {
		return "", func() {}, err
	}
	return e.URL, e.Remove, nil
}

// Etcd is a test etcd that can be stopped and started again, on the same
// ports and data, to see what a server does while its store is away.
type Etcd struct {
	URL                    string
	bin, dir, client, peer string
	cmd                    *exec.Cmd
	exited                 chan struct{}
	output                 bytes.Buffer
}

// NewEtcd starts an etcd, or returns nil without etcd on PATH.
func NewEtcd() (*Etcd, error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "etcd-test")
	if err != nil {
		return nil, err
	}
	client, err := freeAddress()
	peer, err2 := freeAddress()
	if err = errors.Join(err, err2); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	e := &Etcd{URL: "http://" + client, bin: bin, dir: dir, client: client, peer: peer}
	if err := e.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return e, nil
}

// Start starts the etcd (again) and waits until it is healthy.
func (e *Etcd) Start() error {
	peerURL := "http://" + e.peer
	e.cmd = exec.Command(e.bin,
		"--name=test", "--data-dir="+filepath.Join(e.dir, "data"),
		"--listen-client-urls="+e.URL, "--advertise-client-urls="+e.URL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=test="+peerURL, "--log-level=error")
	e.cmd.Stdout, e.cmd.Stderr = &e.output, &e.output
	if err := e.cmd.Start(); err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	e.exited = make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(e.exited) }()
	if err := waitHealthy(e.URL, e.exited); err != nil {
		e.Stop()
		return fmt.Errorf("etcd (%s) did not start: %w\n%s", e.bin, err, e.output.String())
	}
	return nil
}

// Stop kills the etcd; its data stays for Start.
func (e *Etcd) Stop() {
	_ = e.cmd.Process.Kill()
	<-e.exited
}

// Remove stops the etcd and deletes its data.
func (e *Etcd) Remove() {
	e.Stop()
	os.RemoveAll(e.dir)
}

// RequireEtcd skips a test (or a benchmark) when there is no etcd, except in
// CI, where skipping would hide that the etcd backend went untested.
func RequireEtcd(t testing.TB, endpoint string) {
	t.Helper()
	if endpoint != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("etcd is not on PATH: these tests need a real etcd (Debian: apt-get install etcd-server)")
	}
	t.Skip("etcd is not on PATH (Debian: apt-get install etcd-server)")
}

// freeAddress is a loopback address with a port nobody listens on now.
func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitHealthy polls etcd's /health until it says so.
func waitHealthy(clientURL string, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("etcd exited")
		default:
		}
		resp, err := http.Get(clientURL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("not healthy after 30s")
}
