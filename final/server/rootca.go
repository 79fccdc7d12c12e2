// The kube-root-ca.crt ConfigMap in every namespace: the CA bundle a pod
// uses to verify this server (the ServiceAccount plugin mounts it into every
// pod), kept as kube-controller-manager's root-ca-cert-publisher keeps it.
package server

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/admission"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/apiserver"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/object"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/registry"
	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/store"
)

// rootCABundle is the CA that verifies the serving certificate: the data
// directory's CA, which issues it unless --tls-cert-file names another, or
// else --client-ca-file (kubeadm's ca.crt signs both). kube-controller-manager
// takes its --root-ca-file, or the CA of its own kubeconfig: the same
// certificate, seen from the controller's side.
func rootCABundle(c *credentials) (string, error) {
	data, err := os.ReadFile(c.servingCert)
	if err != nil {
		return "", err
	}
	var chain []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil && block.Type == "CERTIFICATE" {
			chain = append(chain, cert)
		}
	}
	if len(chain) == 0 {
		return "", fmt.Errorf("%s holds no certificate", c.servingCert)
	}
	intermediates := x509.NewCertPool()
	for _, cert := range chain[1:] {
		intermediates.AddCert(cert)
	}
	var tried []string
	for _, file := range []string{c.caCert, c.clientCA} {
		bundle, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(bundle) {
			continue
		}
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
			return string(bundle), nil
		}
		tried = append(tried, file)
	}
	bundle, err := os.ReadFile(c.caCert)
	log.Printf("kube-root-ca.crt: none of %v verifies the serving certificate %s; publishing %s", tried, c.servingCert, c.caCert)
	return string(bundle), err
}

// publishRootCAs gives every namespace its kube-root-ca.crt, or puts it
// right, at start: namespaces made before, or a CA that changed.
func (s *Server) publishRootCAs(ctx context.Context) error {
	bundle, err := rootCABundle(s.creds)
	if err != nil {
		return fmt.Errorf("kube-root-ca.crt: %w", err)
	}
	s.rootCA = bundle
	namespaces, _, _, err := s.store.List(ctx, s.registry.Lookup("", "namespaces"), "", store.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range namespaces {
		errs = append(errs, admission.PublishRootCA(ctx, s.store, s.registry, ns.MetaString("name"), s.rootCA))
	}
	return errors.Join(errs...)
}

// republishRootCA runs after each write: a namespace created gets its
// kube-root-ca.crt, and one deleted or changed by a client is put back.
func (s *Server) republishRootCA(ctx context.Context, res *registry.Resource, event apiserver.Event, obj object.Object) {
	namespace := ""
	switch {
	case res.Group == "" && res.Name == "namespaces" && event == apiserver.Created:
		namespace = obj.MetaString("name")
	case res.Group == "" && res.Name == "configmaps" && event != apiserver.Created && obj.MetaString("name") == admission.RootCAConfigMapName:
		namespace = obj.MetaString("namespace")
	default:
		return
	}
	if err := admission.PublishRootCA(ctx, s.store, s.registry, namespace, s.rootCA); err != nil {
		log.Printf("publishing %s in %s: %v", admission.RootCAConfigMapName, namespace, err)
	}
}
