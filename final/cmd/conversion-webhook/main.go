// conversion-webhook serves the sample CRD conversion webhook of
// docs/final.md (package webhook) over HTTPS, at /convert: Backend objects
// of example.com between v1 (spec.size, a string) and v2 (spec.replicas,
// an integer).
//
//	go run ./final/cmd/conversion-webhook --cert-dir=/tmp/hook --secure-port=9443
//
// With --cert-dir it makes (or reuses) a CA and a serving certificate for
// 127.0.0.1 and the Service names --service-names gives; a CRD names the
// webhook in spec.conversion.webhook.clientConfig, by url
// (https://127.0.0.1:9443/convert) or by Service, with that CA (ca.crt,
// base64) as caBundle. --tls-cert-file and --tls-private-key-file serve a
// certificate of your own instead.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/cmd/conversion-webhook/webhook"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/pki"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "conversion-webhook:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("conversion-webhook", flag.ContinueOnError)
	certDir := flags.String("cert-dir", "", "where to make (or find) ca.crt and the serving certificate")
	serviceNames := flags.String("service-names", "", "comma-separated DNS names the certificate also covers (name.namespace.svc)")
	cert := flags.String("tls-cert-file", "", "a serving certificate of your own (PEM), instead of --cert-dir")
	key := flags.String("tls-private-key-file", "", "its private key (PEM)")
	address := flags.String("bind-address", "127.0.0.1", "the address to listen on")
	port := flags.Int("secure-port", 9443, "the HTTPS port (0: any free port)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *cert == "" {
		if *certDir == "" {
			return errors.New("--cert-dir or --tls-cert-file is required: the API server calls webhooks over HTTPS only")
		}
		var err error
		if *cert, *key, err = makeCert(*certDir, *address, *serviceNames); err != nil {
			return err
		}
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(*address, strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/convert", webhook.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("conversion webhook serving on https://%s/convert\n", listener.Addr())
	if *certDir != "" {
		fmt.Printf("CA bundle: %s\n", filepath.Join(*certDir, "ca.crt"))
	}
	if err := srv.ServeTLS(listener, *cert, *key); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// makeCert makes a CA in dir and a serving certificate it signs, or reuses them.
func makeCert(dir, address, serviceNames string) (certFile, keyFile string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	ca, err := pki.LoadOrCreateCA(dir, "ca")
	if err != nil {
		return "", "", err
	}
	template := pki.ServingCertTemplate(address)
	template.Subject.CommonName = "conversion-webhook"
	if serviceNames != "" {
		template.DNSNames = append(template.DNSNames, strings.Split(serviceNames, ",")...)
	}
	return ca.EnsureCert(dir, "webhook", template)
}
