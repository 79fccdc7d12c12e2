// final: the complete API server, assembled from the packages below this
// directory (see docs/final.md for the map). `go run ./final` starts it on
// https://127.0.0.1:6443 with an embedded SQLite store in data/final;
// --etcd-servers puts the state in an etcd cluster instead. `go run ./final
// backup --to FILE` and `restore --from FILE` back up and restore the store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/final/server"
)

func main() {
	if len(os.Args) > 1 {
		if command := server.Subcommands[os.Args[1]]; command != nil { // final backup, final restore
			if err := command(context.Background(), os.Args[2:], os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			return
		}
	}
	opts, err := server.ParseOptions(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// SIGTERM (and Ctrl-C) end the context: the server drains and closes the store.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s, err := server.New(ctx, opts)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}
