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
// directory, and returns its client URL and a function that stops it.
// Without etcd on PATH it returns "" and no error: RequireEtcd then decides.
// Call it from TestMain, once per test binary.
func StartEtcd() (endpoint string, stop func(), err error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return "", func() {}, nil
	}
	dir, err := os.MkdirTemp("", "etcd-test")
	if err != nil {
		return "", nil, err
	}
	client, err := freeAddress()
	peer, err2 := freeAddress()
	if err = errors.Join(err, err2); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	clientURL, peerURL := "http://"+client, "http://"+peer
	var output bytes.Buffer
	cmd := exec.Command(bin,
		"--name=test", "--data-dir="+filepath.Join(dir, "data"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=test="+peerURL, "--log-level=error")
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("starting etcd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() {
		_ = cmd.Process.Kill()
		<-exited
		os.RemoveAll(dir)
	}
	if err := waitHealthy(clientURL, exited); err != nil {
		stop()
		return "", nil, fmt.Errorf("etcd (%s) did not start: %w\n%s", bin, err, output.String())
	}
	return clientURL, stop, nil
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
