package pubsub

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// subscribe opens a dedicated connection on cl that (S)SUBSCRIBEs to the
// channels, and waits for the confirmations. It is closed in t.Cleanup.
func subscribe(t *testing.T, cl valkey.Client, sharded bool, channels ...string) {
	t.Helper()
	dc, release := cl.Dedicate()
	t.Cleanup(func() { dc.Close(); release() })
	confirmed := make(chan struct{}, len(channels))
	dc.SetPubSubHooks(valkey.PubSubHooks{
		OnMessage:      func(valkey.PubSubMessage) {},
		OnSubscription: func(valkey.PubSubSubscription) { confirmed <- struct{}{} },
	})
	var cmd valkey.Completed
	if sharded {
		cmd = dc.B().Ssubscribe().Channel(channels...).Build()
	} else {
		cmd = dc.B().Subscribe().Channel(channels...).Build()
	}
	if err := dc.Do(tctx(t), cmd).Error(); err != nil {
		t.Fatalf("subscribe %v: %v", channels, err)
	}
	for range channels {
		select {
		case <-confirmed:
		case <-time.After(5 * time.Second):
			t.Fatalf("subscribe %v: no confirmation", channels)
		}
	}
}

func singleClient(t *testing.T, s *valkeytest.Server) valkey.Client {
	t.Helper()
	cl, err := s.SingleClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// waitClusterBus waits until every node has its cluster-bus links to the
// others in both directions: until then, a PUBLISH on one node may not
// reach the others (the server drops it for a node it has no link to).
func waitClusterBus(t *testing.T, c *valkeytest.Cluster) {
	t.Helper()
	want := 2 * (len(c.Nodes) - 1)
	for _, n := range c.Nodes {
		cl := singleClient(t, n)
		clitest.WaitFor(t, 10*time.Second, "cluster bus links of "+n.Addr, func() bool {
			links, err := cl.Do(tctx(t), cl.B().ClusterLinks().Build()).ToArray()
			return err == nil && len(links) >= want
		})
	}
}

// TestChannelsCluster: classic subscriptions live on the node each client
// connected to, so channels asks every node and sums; sharded channels are
// counted on their shards.
func TestChannelsCluster(t *testing.T) {
	c := valkeytest.StartCluster(t, valkeytest.Options{})
	n0, n1, n2 := singleClient(t, c.Nodes[0]), singleClient(t, c.Nodes[1]), singleClient(t, c.Nodes[2])

	// Two classic instances of "/" on different nodes, one of "/chat"
	// without its response channel.
	subscribe(t, n0, false, "socket.io-request#/#", "socket.io-response#/#", "socket.io-response#/#AAAAAA#")
	subscribe(t, n1, false, "socket.io-request#/#", "socket.io-response#/#", "socket.io-response#/#BBBBBB#")
	subscribe(t, n2, false, "socket.io-request#/chat#")
	rep := channelsReport(t, c.URL, config.SocketIO{ExpectedInstances: 2})
	if rep.Nodes != 3 {
		t.Errorf("asked %d nodes, want 3", rep.Nodes)
	}
	root := namespace(t, rep, "/")
	if root.Instances != 2 || !slices.Equal(root.UIDs, []string{"AAAAAA", "BBBBBB"}) || root.Status != "ok" {
		t.Errorf("/: %+v", root)
	}
	wantChans := []string{"socket.io-request#/#=2", "socket.io-response#/#=2", "socket.io-response#/#AAAAAA#=1", "socket.io-response#/#BBBBBB#=1"}
	var got []string
	for _, ch := range root.Channels {
		got = append(got, ch.Channel+"="+strconv.FormatInt(ch.Subscribers, 10))
	}
	slices.Sort(got)
	slices.Sort(wantChans)
	if !slices.Equal(got, wantChans) {
		t.Errorf("/ channels %v, want %v", got, wantChans)
	}
	chat := namespace(t, rep, "/chat")
	if chat.Instances != 1 || chat.Status != "fail" || len(chat.Problems) != 2 {
		t.Errorf("/chat: %+v", chat)
	}
	if rep.Status != "fail" {
		t.Errorf("status %s, want fail (/chat has 1 of 2)", rep.Status)
	}

	// Sharded: SSUBSCRIBE goes to each channel's shard.
	cl := c.Client(t)
	uids := []string{"0123456789abcdef", "fedcba9876543210"}
	subscribe(t, cl, true, "socket.io#/#")
	subscribe(t, cl, true, "socket.io#/#")
	subscribe(t, cl, true, "socket.io#/#"+uids[0]+"#")
	subscribe(t, cl, true, "socket.io#/#"+uids[1]+"#")
	subscribe(t, cl, true, "socket.io#/#room1#")
	rep = channelsReport(t, c.URL, config.SocketIO{Sharded: true})
	root = namespace(t, rep, "/")
	if root.Instances != 2 || !slices.Equal(root.UIDs, uids) || root.Status != "ok" || len(root.Channels) != 4 || rep.Nodes != 3 {
		t.Errorf("sharded /: %+v (nodes %d)", root, rep.Nodes)
	}
}

// TestTailCluster: one PSUBSCRIBE connection sees classic PUBLISH on every
// node; MONITOR on each primary sees SPUBLISH on every shard.
func TestTailCluster(t *testing.T) {
	c := valkeytest.StartCluster(t, valkeytest.Options{})
	waitClusterBus(t, c)
	f := fixtureByFile(t, "classic-broadcast-room.bin")

	opts, out, _ := newTail(c.URL, output.JSON)
	opts.Count = 3
	r := startTail(t, opts)
	for _, n := range c.Nodes {
		publish(t, singleClient(t, n), f.Channel, f.payload)
	}
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if recs := parseRecords(t, out.Lines()); len(recs) != 3 || recs[2].str("event") != "roomEvent" {
		t.Errorf("records: %s", out.String())
	}

	// Sharded: rooms whose channels hash to different shards.
	sf := fixtureByFile(t, "sharded-broadcast-room.bin")
	cl := c.Client(t)
	rooms := []string{"room1", "room2", "room3", "room4", "room5", "room6"}
	opts, out, errOut := newTail(c.URL, output.JSON)
	opts.Sharded, opts.ShardedSet, opts.Count = true, true, int64(len(rooms))
	r = startTail(t, opts)
	shards := map[string]bool{}
	for _, room := range rooms {
		ch := "socket.io#/#" + room + "#"
		spublish(t, cl, ch, sf.payload)
	}
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	recs := parseRecords(t, out.Lines())
	if len(recs) != len(rooms) {
		t.Fatalf("records: %s", out.String())
	}
	for _, rec := range recs {
		shards[rec.str("channel")] = true
		if rec.str("event") != "roomEvent" || rec.str("adapter") != "sharded" {
			t.Errorf("record %v", rec)
		}
	}
	if len(shards) != len(rooms) {
		t.Errorf("channels seen: %v", shards)
	}
	// The rooms must have been spread over more than one shard for this to
	// prove anything.
	owners := map[int64]bool{}
	for _, room := range rooms {
		slot, err := cl.Do(tctx(t), cl.B().ClusterKeyslot().Key("socket.io#/#"+room+"#").Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		owners[slot*3/16384] = true
	}
	if len(owners) < 2 {
		t.Errorf("the test channels all live on one shard")
	}
	if !strings.Contains(errOut.String(), "MONITOR") {
		t.Errorf("no MONITOR warning")
	}
}
