package valkeytest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"
)

func TestStandaloneKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{}},
		{"password", Options{Password: "s3cret-pw"}},
		{"tls", Options{TLS: true}},
		{"tls+password", Options{TLS: true, Password: "s3cret-pw"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, tc.opts)
			cl := s.Client(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := cl.Do(ctx, cl.B().Set().Key("k").Value("v").Build()).Error(); err != nil {
				t.Fatalf("SET on %s: %v", s, err)
			}
			got, err := cl.Do(ctx, cl.B().Get().Key("k").Build()).ToString()
			if err != nil || got != "v" {
				t.Fatalf("GET = %q, %v", got, err)
			}
			if want := map[bool]string{true: "rediss://", false: "redis://"}[tc.opts.TLS]; !strings.HasPrefix(s.URL, want) {
				t.Fatalf("URL %q does not start with %q", s.URL, want)
			}
			if tc.opts.Password != "" {
				// Without the password the server must refuse.
				bad, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{s.Addr}, TLSConfig: s.TLSConfig(), DisableCache: true, ForceSingleClient: true})
				if err == nil {
					defer bad.Close()
					err = bad.Do(ctx, bad.B().Ping().Build()).Error()
				}
				if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
					t.Fatalf("no-password PING: want NOAUTH, got %v", err)
				}
			}
		})
	}
}

func TestRestartKeepsPort(t *testing.T) {
	s := Start(t, Options{})
	port := s.Port
	s.Stop()
	if s.Running() {
		t.Fatal("still running after Stop")
	}
	s.Restart(t)
	if s.Port != port || !s.Running() {
		t.Fatalf("restart: port %d (was %d), running %v", s.Port, port, s.Running())
	}
	cl := s.Client(t)
	if err := cl.Do(context.Background(), cl.B().Ping().Build()).Error(); err != nil {
		t.Fatalf("PING after restart: %v", err)
	}
}

func TestCluster(t *testing.T) {
	c := StartCluster(t, Options{Password: "pw"})
	if len(c.Nodes) != 3 {
		t.Fatalf("nodes = %d", len(c.Nodes))
	}
	cl := c.Client(t)
	ctx := context.Background()
	seen := map[string]bool{}
	for i := 0; i < 300; i++ {
		k := fmt.Sprintf("key:%d", i)
		if err := cl.Do(ctx, cl.B().Set().Key(k).Value(k).Build()).Error(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	for addr, n := range cl.Nodes() {
		size, err := n.Do(ctx, n.B().Dbsize().Build()).AsInt64()
		if err != nil {
			t.Fatalf("DBSIZE %s: %v", addr, err)
		}
		if size > 0 {
			seen[addr] = true
		}
	}
	if len(seen) != 3 {
		t.Fatalf("keys landed on %d nodes, want 3: %v", len(seen), seen)
	}
}
