package valkeytest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"
)

// Cluster is a running Valkey Cluster of 3 primaries (no replicas).
type Cluster struct {
	Nodes []*Server
	URL   string // points at Nodes[0]
}

// StartCluster starts 3 cluster-enabled servers, splits the 16384 slots
// between them, joins them and waits until every node reports cluster_state:ok.
func StartCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	bin, version := Binary(t)
	files := opts.TLSFiles
	if files == nil && opts.TLS {
		files = NewTLSFiles(t, "127.0.0.1", "localhost")
	}
	c := &Cluster{}
	for i := 0; i < 3; i++ {
		var s *Server
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			dirArgs := []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no"}
			if files != nil {
				dirArgs = append(dirArgs, "--tls-cluster", "yes", "--tls-replication", "yes")
			}
			s = newServer(t, bin, version, opts, files, FreePort(t), dirArgs)
			if err = s.start(); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("valkeytest: cluster node %d: %v", i, err)
		}
		t.Cleanup(s.Stop)
		c.Nodes = append(c.Nodes, s)
	}
	c.URL = c.Nodes[0].URL

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]valkey.Client, len(c.Nodes))
	for i, n := range c.Nodes {
		cl, err := n.SingleClient()
		if err != nil {
			t.Fatalf("valkeytest: cluster node %s: %v", n.Addr, err)
		}
		defer cl.Close()
		clients[i] = cl
	}
	per := 16384 / len(c.Nodes)
	for i, cl := range clients {
		lo, hi := i*per, (i+1)*per-1
		if i == len(clients)-1 {
			hi = 16383
		}
		if err := cl.Do(ctx, cl.B().ClusterAddslotsrange().StartSlotEndSlot().StartSlotEndSlot(int64(lo), int64(hi)).Build()).Error(); err != nil {
			t.Fatalf("valkeytest: ADDSLOTSRANGE on %s: %v", c.Nodes[i].Addr, err)
		}
	}
	for i := 1; i < len(clients); i++ {
		if err := clients[0].Do(ctx, clients[0].B().ClusterMeet().Ip("127.0.0.1").Port(int64(c.Nodes[i].Port)).Build()).Error(); err != nil {
			t.Fatalf("valkeytest: CLUSTER MEET: %v", err)
		}
	}
	for {
		okAll := true
		for _, cl := range clients {
			info, err := cl.Do(ctx, cl.B().ClusterInfo().Build()).ToString()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(clients))) {
				okAll = false
				break
			}
			// Every bus link up, so a PUBLISH reaches every node.
			nodes, err := cl.Do(ctx, cl.B().ClusterNodes().Build()).ToString()
			if err != nil || strings.Count(nodes, " connected") != len(clients) {
				okAll = false
				break
			}
		}
		if okAll {
			return c
		}
		select {
		case <-ctx.Done():
			t.Fatalf("valkeytest: cluster did not reach cluster_state:ok in 30s")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TLSConfig returns a client TLS configuration that trusts the test CA.
func (s *Server) TLSConfig() *tls.Config {
	if s.tls == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.tls.CAPEM)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// SingleClient returns a plain (non-cluster) valkey-go client for this node,
// for test setup and assertions. The caller closes it.
func (s *Server) SingleClient() (valkey.Client, error) {
	return valkey.NewClient(valkey.ClientOption{
		InitAddress:       []string{s.Addr},
		Password:          s.Password,
		TLSConfig:         s.TLSConfig(),
		DisableCache:      true,
		ForceSingleClient: true,
		Dialer:            dialer(),
	})
}

// Client returns a valkey-go client for this server (cluster-aware when the
// server is a cluster node), closed in t.Cleanup.
func (s *Server) Client(t testing.TB) valkey.Client {
	t.Helper()
	cl, err := valkey.NewClient(valkey.ClientOption{
		InitAddress:  []string{s.Addr},
		Password:     s.Password,
		TLSConfig:    s.TLSConfig(),
		DisableCache: true,
	})
	if err != nil {
		t.Fatalf("valkeytest: client for %s: %v", s.Addr, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Client returns a cluster-aware client for the whole cluster, closed in t.Cleanup.
func (c *Cluster) Client(t testing.TB) valkey.Client {
	t.Helper()
	return c.Nodes[0].Client(t)
}

// String describes the server for test logs.
func (s *Server) String() string {
	return fmt.Sprintf("%s %s on %s", s.Binary, s.Version, s.Addr)
}
