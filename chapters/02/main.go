// Chapter 02: routing. A resource registry drives gorilla/mux routes, one
// generic handler serves every resource, and discovery tells clients what is
// served, which is all kubectl needs to work against this server.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

func main() {
	bindAddress := flag.String("bind-address", "127.0.0.1", "IP address to listen on")
	port := flag.Int("port", 8080, "HTTP port to listen on (0 picks a free one)")
	dataDir := flag.String("data-dir", "data/02", "directory for runtime files (the admin kubeconfig)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected arguments: %v\n", flag.Args())
		os.Exit(2)
	}

	reg := newRegistry(builtinResources())
	s := &server{registry: reg, store: newStore(), namespaces: reg.lookup("", "namespaces")}
	s.createBootstrapNamespaces()

	ln, err := net.Listen("tcp", net.JoinHostPort(*bindAddress, fmt.Sprint(*port)))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	url := "http://" + ln.Addr().String()
	kubeconfig, err := writeKubeconfig(*dataDir, url)
	if err != nil {
		log.Fatalf("writing kubeconfig: %v", err)
	}
	printWelcome(url, kubeconfig)
	srv := &http.Server{Handler: s.routes()}
	log.Fatal(srv.Serve(ln))
}

// createBootstrapNamespaces creates the namespaces every cluster starts with.
func (s *server) createBootstrapNamespaces() {
	for _, name := range protectedNamespaces {
		ns := object{"apiVersion": "v1", "kind": "Namespace",
			"metadata": map[string]any{"name": name, "uid": newUID(), "creationTimestamp": now()},
			"status":   map[string]any{"phase": "Active"}}
		if _, err := s.store.create(s.namespaces, ns); err != nil {
			log.Fatalf("creating namespace %s: %v", name, err)
		}
	}
}

// writeKubeconfig writes an admin kubeconfig for kubectl and client-go.
func writeKubeconfig(dataDir, url string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("creating data directory: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dataDir, "kubeconfig"))
	if err != nil {
		return "", err
	}
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: scratch
  cluster:
    server: %s
users:
- name: admin
  user: {}
contexts:
- name: scratch
  context:
    cluster: scratch
    user: admin
    namespace: default
current-context: scratch
`, url)
	return path, os.WriteFile(path, []byte(config), 0o600)
}

// printWelcome prints the address first (tests read it), then lines to try.
func printWelcome(url, kubeconfig string) {
	fmt.Printf("chapter 02 (routing and discovery) serving on %s\n\n", url)
	fmt.Println("Try:")
	fmt.Printf("  export KUBECONFIG=%s\n", kubeconfig)
	fmt.Println("  kubectl api-resources")
	fmt.Println("  kubectl create configmap demo --from-literal=greeting=hello")
	fmt.Println("  kubectl get configmaps -o yaml")
	fmt.Printf("  curl -s %s/apis/batch/v1\n", url)
	fmt.Printf("  curl -s '%s/api/v1/namespaces/default/configmaps?labelSelector=app%%20in%%20(web,db)'\n", url)
}
