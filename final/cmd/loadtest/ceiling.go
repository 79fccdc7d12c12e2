// The ceiling: the get phase's load against the simplest HTTPS server Go
// can run, one that answers every request with the same 1 KiB of JSON. No
// API server on this machine can serve reads faster than that server, with
// this client, on these cores: a get throughput is best read as a fraction
// of it. It runs in the tool's process, measured in the same run as the
// server under test, so that both met the same machine.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

// ceilingPhase serves fixed JSON on a loopback port and gets it with as
// many clients, for as long, as the get phase does.
func ceilingPhase(ctx context.Context, lt *loadTest) (PhaseResult, error) {
	cert, pool, err := selfSigned()
	if err != nil {
		return PhaseResult{}, err
	}
	body, _ := json.Marshal(newConfigMap("default", objectName(0)))
	body = append(body, '\n')
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return PhaseResult{}, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	defer func() {
		_ = srv.Close()
		<-served
	}()

	clients := make([]*client, len(lt.clients))
	for i := range clients {
		clients[i] = &client{id: i, server: "https://" + ln.Addr().String(),
			http: &http.Client{Transport: newTransport(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})}}
		if _, err := clients[i].do(ctx, http.MethodGet, "/", nil); err != nil { // opens its connection
			return PhaseResult{}, fmt.Errorf("the ceiling server: %w", err)
		}
		defer clients[i].http.CloseIdleConnections()
	}
	// The server under test is idle meanwhile. The usage sampled is this
	// process's: the ceiling server and its clients together.
	ceiling := &loadTest{cfg: lt.cfg, out: lt.out, clients: clients, pids: []int{os.Getpid()}}
	p, err := ceiling.drive(ctx, "ceiling", timed, func(ctx context.Context, c *client, _ int) error {
		_, err := c.do(ctx, http.MethodGet, "/api/v1/namespaces/default/configmaps/"+objectName(0), nil)
		return err
	})
	return p, errors.Join(err, ctx.Err())
}

// selfSigned makes a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	template := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ceiling"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: parsed}, pool, nil
}
