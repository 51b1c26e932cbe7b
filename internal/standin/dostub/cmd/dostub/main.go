// Command dostub runs the DigitalOcean API stand-in on a loopback port, for
// trying oxyctl by hand:
//
//	$ go run ./internal/standin/dostub/cmd/dostub -addr 127.0.0.1:14010
//	$ DIGITALOCEAN_ACCESS_TOKEN=<printed token> oxyctl firewall audit --do-api-url http://127.0.0.1:14010
//
// It logs every request and, on exit, every spec violation it saw.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/oxyhq/oxyctl/internal/standin/dostub"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:14010", "listen address (loopback)")
	flag.Parse()
	token := os.Getenv("DOSTUB_TOKEN")

	logger := log.New(os.Stderr, "", log.LstdFlags)
	s, err := dostub.New(dostub.Options{
		Addr: *addr, Token: token,
		Logf:        logger.Printf,
		OnViolation: func(v dostub.Violation) { logger.Printf("VIOLATION %s", v) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("dostub listening on %s\ntoken (set DOSTUB_TOKEN to choose): %s\ncluster %s = %s\n",
		s.URL, s.Token(), dostub.OxyClusterName, dostub.OxyClusterID)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	s.Close()
	v := s.Violations()
	fmt.Printf("%d requests, %d violations\n", len(s.Requests()), len(v))
	if len(v) > 0 {
		os.Exit(1)
	}
}
