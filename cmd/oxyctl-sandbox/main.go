// Command oxyctl-sandbox is the quick start: it starts a local Valkey seeded
// the way the Oxy API writes it, Socket.IO adapter traffic, a /health
// endpoint and a DigitalOcean API stand-in, then runs a short tour of
// oxyctl against them. With --serve it stays up and prints the exports that
// point any oxyctl command at it. It is a development tool, not shipped in
// release archives.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/oxyhq/oxyctl/internal/sandbox"
)

func main() {
	serve := flag.Bool("serve", false, "stay up after the tour and print the exports that point oxyctl at the sandbox")
	embedded := flag.Bool("embedded", false, "use the embedded Valkey-compatible server even when valkey-server is installed")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, *serve, *embedded))
}

func run(ctx context.Context, serve, embedded bool) int {
	opts := sandbox.Options{Out: os.Stdout, Err: os.Stderr, Serve: serve, Embedded: embedded}
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "oxyctl-sandbox: %v\n", err)
		return 1
	}
	defer sb.Close()
	fmt.Printf("oxyctl sandbox: %s on loopback, Socket.IO traffic from 2 API instances,\n"+
		"a /health endpoint and a DigitalOcean API stand-in with a drifted firewall.\n"+
		"Config (context \"sandbox\"): %s\n", sb.Valkey, sb.ConfigPath)
	sb.RunTour(ctx, opts)
	if !serve {
		fmt.Println("\nRun `go run ./cmd/oxyctl-sandbox --serve` to keep the sandbox up and try any command.")
		return 0
	}
	fmt.Printf("\nThe sandbox is up. In another shell:\n\n%s\nthen e.g. `oxyctl limits reset 198.51.100.23` (`make install` puts oxyctl in $(go env GOPATH)/bin).\n"+
		"The counters are kept from expiring and the traffic keeps flowing. Ctrl-C stops everything.\n", sb.Exports())
	<-ctx.Done()
	fmt.Println("\nsandbox stopped")
	return 0
}
