package clientlist

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/hostile"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// read connects as oxyctl does (client name oxyctl) and reads the clients.
func read(t *testing.T, url string) *Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := valkeyclient.Connect(ctx, valkeyclient.Options{URL: url, Timeout: 5 * time.Second, ClientName: "oxyctl"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	snap, err := Read(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestReadCluster: every node is read, each with the id of oxyctl's own
// connection to it.
func TestReadCluster(t *testing.T) {
	t.Parallel()
	c := valkeytest.StartCluster(t, valkeytest.Options{})
	c.Nodes[1].Subscriber(t, valkeytest.SubscriberOptions{Name: "on-node-1", Channels: []string{"socket.io-request#/#"}})
	snap := read(t, c.URL)
	if len(snap.Nodes) != 3 {
		t.Fatalf("%d nodes", len(snap.Nodes))
	}
	found := 0
	for _, n := range snap.Nodes {
		self := false
		for _, cl := range n.Clients {
			if cl.ID == n.SelfID {
				self = cl.Name == "oxyctl"
			}
			if cl.Name == "on-node-1" {
				found++
				if n.Addr != c.Nodes[1].Addr {
					t.Fatalf("the subscriber of node 1 listed on %s", n.Addr)
				}
			}
		}
		if !self || n.MaxClients != 10000 || n.OutputBufferDisconnections != 0 || n.Note != "" {
			t.Fatalf("node %s: self %v %+v", n.Addr, self, n)
		}
	}
	if found != 1 {
		t.Fatalf("subscriber found %d times", found)
	}
	if r := Build(snap, Options{Soft: DefaultSoft}); r.Cap != 30000 || r.Total < 4 {
		t.Fatalf("total %d cap %d", r.Total, r.Cap)
	}
}

// TestReadInfoUnsupported: a server that answers an INFO section with
// "unknown subcommand" does not support it, which is not a refusal.
func TestReadInfoUnsupported(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t, func(args []string) string {
		if args[0] == "INFO" && len(args) == 2 && strings.EqualFold(args[1], "stats") {
			return "-ERR unknown subcommand 'stats'. Try INFO HELP.\r\n"
		}
		return ""
	})
	if n := read(t, "redis://"+s.Addr).Nodes[0]; n.Note != "could not look: INFO stats is not supported by the server" || n.MaxClients != 10000 || n.OutputBufferDisconnections != -1 {
		t.Fatalf("%+v", n)
	}
}
