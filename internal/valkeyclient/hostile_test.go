package valkeyclient

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/testutil/hostile"
)

// Every malformed reply, to the handshake and to a command, is a one-line
// protocol error of kind api naming the server, within the timeout, and
// allocates nothing near what it declares. (Before the guard: panic:
// makeslice, or out of memory.)
func TestMalformedRepliesAreProtocolErrors(t *testing.T) {
	for name, bad := range hostile.Malformed {
		for _, target := range []string{"INFO", "GET"} {
			t.Run(name+"/"+target, func(t *testing.T) {
				s := hostile.Start(t, func(args []string) string {
					if args[0] == target {
						return bad
					}
					return ""
				})
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				start := time.Now()
				ctx := context.Background()
				err := func() error {
					c, err := Connect(ctx, Options{URL: "redis://" + s.Addr, Timeout: 2 * time.Second})
					if err != nil {
						return err
					}
					defer c.Close()
					return Classify(c.Client.Do(ctx, c.Client.B().Get().Key("rl:1").Build()).Error(), c.Target)
				}()
				code, kind := apperr.Classify(err)
				if code != 3 || kind != apperr.KindAPI || !strings.Contains(err.Error(), "breaks the protocol") || !strings.Contains(err.Error(), s.Addr) {
					t.Fatalf("want a protocol error (3, api) naming %s, got %v (%d %s)", s.Addr, err, code, kind)
				}
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("took %s", d)
				}
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				if grew := int64(after.TotalAlloc - before.TotalAlloc); grew > 256<<20 {
					t.Errorf("allocated %d MiB", grew>>20)
				}
			})
		}
	}
}

// A cluster reached through loopback (a tunnel) that announces its nodes at
// other addresses: oxyctl refuses to send the password in plaintext to them,
// before dialing. (Before: AUTH went in plaintext to every announced node.)
func TestPlaintextGuardCoversClusterNodes(t *testing.T) {
	s := hostile.Start(t, func(args []string) string {
		switch {
		case args[0] == "INFO":
			return hostile.Bulk("# Cluster\r\ncluster_enabled:1\r\n")
		case args[0] == "CLUSTER":
			node := hostile.Array(hostile.Bulk("node-a.invalid"), ":7001\r\n", hostile.Bulk("0123456789abcdef0123456789abcdef01234567"))
			return hostile.Array(hostile.Array(":0\r\n", ":16383\r\n", node))
		}
		return ""
	})
	noDNS := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS in tests")
	}}
	ctx := context.Background()
	c, err := Connect(ctx, Options{URL: "redis://:S3cret-pw@" + s.Addr, Timeout: 2 * time.Second, Resolver: noDNS})
	if err == nil {
		defer c.Close()
		err = Classify(c.Client.Do(ctx, c.Client.B().Get().Key("rl:1").Build()).Error(), c.Target)
	}
	if code, kind := apperr.Classify(err); code != 2 || kind != "config" || !strings.Contains(err.Error(), "node-a.invalid:7001") {
		t.Fatalf("want a config error refusing plaintext to node-a.invalid:7001, got %v (%d %s)", err, code, kind)
	}
	if strings.Contains(err.Error(), "S3cret-pw") {
		t.Fatal("the error shows the password")
	}
}
