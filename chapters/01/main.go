// Chapter 01: an API server in raw net/http. Pods are created, read, listed,
// replaced and deleted over JSON, kept in memory, and every error is a
// metav1.Status. No routing library, no authentication, no storage yet.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	bindAddress := flag.String("bind-address", "127.0.0.1", "IP address to listen on")
	port := flag.Int("port", 8080, "HTTP port to listen on (0 picks a free one)")
	flag.String("data-dir", "data/01", "directory for runtime files (chapter 01 keeps everything in memory and writes none)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected arguments: %v\n", flag.Args())
		os.Exit(2)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(*bindAddress, fmt.Sprint(*port)))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	printWelcome("http://" + ln.Addr().String())
	srv := &http.Server{Handler: &server{store: newStore()}}
	log.Fatal(srv.Serve(ln))
}

// printWelcome prints the address first (tests read it), then lines to try.
func printWelcome(url string) {
	fmt.Printf("chapter 01 (raw HTTP) serving on %s\n\n", url)
	fmt.Println("Try:")
	fmt.Printf("  curl -s -X POST -H 'Content-Type: application/json' %s/api/v1/namespaces/default/pods -d '%s'\n", url,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nginx","labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx"}]}}`)
	fmt.Printf("  curl -s %s/api/v1/namespaces/default/pods/nginx\n", url)
	fmt.Printf("  curl -s %s/api/v1/pods\n", url)
	fmt.Printf("  curl -s -X DELETE %s/api/v1/namespaces/default/pods/nginx\n", url)
}
