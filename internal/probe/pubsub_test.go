package probe

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/clientlist"
	"github.com/oxyhq/oxyctl/internal/testutil/hostile"
	"github.com/oxyhq/oxyctl/internal/testutil/nodeapp"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// instance subscribes like one classic adapter instance of namespace nsp.
func instance(t *testing.T, srv *valkeytest.Server, key, nsp, uid string) {
	srv.Subscriber(t, valkeytest.SubscriberOptions{
		Channels: []string{key + "-request#" + nsp + "#", key + "-response#" + nsp + "#", key + "-response#" + nsp + "#" + uid + "#"},
		Patterns: []string{key + "#" + nsp + "#*"}})
}

func connector(url string) func(context.Context) (*valkeyclient.Conn, error) {
	return func(ctx context.Context) (*valkeyclient.Conn, error) {
		return valkeyclient.Connect(ctx, valkeyclient.Options{URL: url, Timeout: 5 * time.Second})
	}
}

func runPubSub(t *testing.T, p *PubSubProbe) (Outcome, *PubSubData) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := p.Run(ctx)
	t.Logf("%s: %s", out.Status, out.Detail)
	return out, out.Data.(*PubSubData)
}

func TestPubSubClassic(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t, valkeytest.Options{})
	p := &PubSubProbe{Connect: connector(srv.URL)}

	out, d := runPubSub(t, p)
	if out.Status != Fail || !strings.Contains(out.Detail, "no API instance is subscribed") || len(d.Namespaces) != 0 {
		t.Fatalf("empty: %s %q %+v", out.Status, out.Detail, d)
	}

	instance(t, srv, "socket.io", "/", "AAAAAA")
	instance(t, srv, "socket.io", "/", "BBBBBB")
	instance(t, srv, "socket.io", "/chat", "CCCCCC")
	instance(t, srv, "other", "/", "DDDDDD") // another key: not counted
	// A pattern subscriber (like oxyctl pubsub tail) does not count.
	srv.Subscriber(t, valkeytest.SubscriberOptions{Patterns: []string{"socket.io*"}})

	out, d = runPubSub(t, p)
	if out.Status != OK || d.Mode != "classic" || d.Key != "socket.io" {
		t.Fatalf("got %s %q %+v", out.Status, out.Detail, d)
	}
	if len(d.Namespaces) != 2 {
		t.Fatalf("namespaces %+v", d.Namespaces)
	}
	root, chat := d.Namespaces[0], d.Namespaces[1]
	if root.Namespace != "/" || root.Instances != 2 || strings.Join(root.UIDs, ",") != "AAAAAA,BBBBBB" || root.Channel != "socket.io-request#/#" {
		t.Fatalf("/: %+v", root)
	}
	if chat.Namespace != "/chat" || chat.Instances != 1 || strings.Join(chat.UIDs, ",") != "CCCCCC" {
		t.Fatalf("/chat: %+v", chat)
	}

	p.Expected = 2
	out, _ = runPubSub(t, p)
	if out.Status != Warn || !strings.Contains(out.Detail, "namespace /chat has 1 of 2 expected API instances") {
		t.Fatalf("expected 2: %s %q", out.Status, out.Detail)
	}

	// A plain subscriber of the request channel that is no instance: named.
	stray := srv.Subscriber(t, valkeytest.SubscriberOptions{LocalAddr: "127.0.0.9", Name: "cli", Channels: []string{"socket.io-request#/#"}})
	out, d = runPubSub(t, p)
	who := stray.LocalAddr().String() + " (client name cli)"
	if out.Status != Fail || !strings.HasPrefix(out.Detail, "stray subscriber "+who) || len(d.Stray) != 1 || d.Stray[0].Possible ||
		d.Namespaces[0].Instances != 2 || d.Namespaces[0].RequestSubscribers != 3 {
		t.Fatalf("stray: %s %q %+v", out.Status, out.Detail, d)
	}
	// A second one on another channel: two candidates for one extra
	// subscriber. Neither is accused; the channel is one finding naming both.
	other := srv.Subscriber(t, valkeytest.SubscriberOptions{Name: "other", Channels: []string{"unrelated"}})
	out, d = runPubSub(t, p)
	among := "socket.io-request#/# has 3 subscribers but 2 adapter instances: 1 stray subscriber(s), among: "
	if out.Status != Fail || !strings.HasPrefix(out.Detail, among) || strings.Contains(out.Detail, "stray subscriber "+who) ||
		!strings.Contains(out.Detail, who) || !strings.Contains(out.Detail, other.LocalAddr().String()+" (client name other)") ||
		len(d.Stray) != 2 || !d.Stray[0].Possible || !d.Stray[1].Possible {
		t.Fatalf("possible strays: %s %q %+v", out.Status, out.Detail, d.Stray)
	}

	// The probe never subscribes: the counts are what the instances made.
	cl := srv.Client(t)
	n, err := cl.Do(context.Background(), cl.B().PubsubNumsub().Channel("socket.io-request#/#").Build()).AsIntMap()
	if err != nil || n["socket.io-request#/#"] != 3 {
		t.Fatalf("NUMSUB after the probe: %v %v", n, err)
	}
}

func TestPubSubRealAdapter(t *testing.T) {
	t.Parallel()
	for _, adapter := range []string{"classic", "sharded"} {
		t.Run(adapter, func(t *testing.T) {
			t.Parallel()
			srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: "sio-pw"})
			app := nodeapp.StartSocketIO(t, nodeapp.Options{Adapter: adapter, RedisURL: srv.URL, RedisCA: srv.CAFile, Key: "oxytest"})
			connect := func(ctx context.Context) (*valkeyclient.Conn, error) {
				return valkeyclient.Connect(ctx, valkeyclient.Options{URL: srv.URL, CAFile: srv.CAFile, Timeout: 5 * time.Second})
			}
			p := &PubSubProbe{Connect: connect, Key: "oxytest", Sharded: adapter == "sharded", Expected: 2}
			out, d := runPubSub(t, p)
			if out.Status != OK || d.Mode != adapter || len(d.Namespaces) != 2 {
				t.Fatalf("got %s %q %+v", out.Status, out.Detail, d)
			}
			uids := app.UIDs(t)
			for _, ns := range d.Namespaces {
				if ns.Instances != 2 {
					t.Fatalf("%s: %d instances, want 2 (two servers)", ns.Namespace, ns.Instances)
				}
				if adapter == "classic" {
					want := []string{uids.A[ns.Namespace], uids.B[ns.Namespace]}
					if len(ns.UIDs) != 2 || !slices.Contains(ns.UIDs, want[0]) || !slices.Contains(ns.UIDs, want[1]) {
						t.Fatalf("%s: uids %v, want %v", ns.Namespace, ns.UIDs, want)
					}
				}
			}
			// The adapter still works after the probe (nothing subscribed).
			if r := app.Emit(t, "fetch-sockets"); !r.OK || r.Count != 6 {
				t.Fatalf("fetch-sockets after the probe: ok %v count %d %s", r.OK, r.Count, r.Error)
			}
			p.Expected = 3
			if out, _ := runPubSub(t, p); out.Status != Warn {
				t.Fatalf("expected 3: %s %q", out.Status, out.Detail)
			}
		})
	}
}

func TestPubSubCluster(t *testing.T) {
	t.Parallel()
	c := valkeytest.StartCluster(t, valkeytest.Options{})
	// Classic subscribers spread over the nodes: each node only knows its own.
	instance(t, c.Nodes[0], "socket.io", "/", "AAAAAA")
	instance(t, c.Nodes[1], "socket.io", "/", "BBBBBB")
	instance(t, c.Nodes[2], "socket.io", "/", "CCCCCC")
	out, d := runPubSub(t, &PubSubProbe{Connect: connector(c.URL), Expected: 3})
	if out.Status != OK || len(d.Namespaces) != 1 || d.Namespaces[0].Instances != 3 || len(d.Namespaces[0].UIDs) != 3 {
		t.Fatalf("classic cluster: %s %q %+v", out.Status, out.Detail, d)
	}

	// Sharded: SSUBSCRIBE through a cluster client (it goes to the slot's shard).
	cl := c.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for i := 0; i < 2; i++ {
		dc, release := cl.Dedicate()
		t.Cleanup(release)
		go func() {
			_ = dc.Receive(ctx, dc.B().Ssubscribe().Channel("socket.io#/#").Build(), func(valkey.PubSubMessage) {})
		}()
	}
	p := &PubSubProbe{Connect: connector(c.URL), Sharded: true, Expected: 2}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, d = runPubSub(t, p)
		if out.Status == OK || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out.Status != OK || len(d.Namespaces) != 1 || d.Namespaces[0].Instances != 2 || d.Namespaces[0].Channel != "socket.io#/#" {
		t.Fatalf("sharded cluster: %s %q %+v", out.Status, out.Detail, d)
	}
}

// TestPubSubUnreadable: a server whose INFO stats has no
// client_output_buffer_limit_disconnections: the count is 0 with a note
// (not -1: PRODUCT defines a count) and is not judged; with no namespace
// the notes are still in the detail.
func TestPubSubUnreadable(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t, func(args []string) string {
		if args[0] == "INFO" && len(args) == 2 && strings.EqualFold(args[1], "stats") {
			return hostile.Bulk("# Stats\r\nevicted_keys:0\r\nrejected_connections:0\r\n")
		}
		return ""
	})
	out, d := runPubSub(t, &PubSubProbe{Connect: connector("redis://" + s.Addr)})
	note := "could not read the output-buffer disconnections (INFO stats client_output_buffer_limit_disconnections): not judged"
	if out.Status != Fail || d.OutputBufferDisconnections != 0 || len(d.Notes) != 1 || d.Notes[0] != note ||
		!strings.Contains(out.Detail, "no API instance is subscribed") || !strings.HasSuffix(out.Detail, "; "+note) {
		t.Fatalf("%s %q %+v", out.Status, out.Detail, d)
	}
}

// TestPubSubPlainSubscriberBuffer: the buffer rule is clientlist's
// (OverBuffer): a plain subscriber is cut by the pubsub class limit as a
// pattern one is, so its omem over half the soft limit warns too.
func TestPubSubPlainSubscriberBuffer(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--client-output-buffer-limit", "pubsub 64mb 0 0"}})
	instance(t, srv, "socket.io", "/", "AAAAAA")
	slow := srv.Subscriber(t, valkeytest.SubscriberOptions{LocalAddr: "127.0.0.7", Name: "slow-plain", Channels: []string{"notifications"}, ReadBuffer: 4096})
	cl := srv.Client(t)
	ctx := context.Background()
	msg := strings.Repeat("x", 1<<20)
	for i := 0; ; i++ {
		list, err := cl.Do(ctx, cl.B().ClientList().Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		cs, err := clientlist.Parse(strings.TrimPrefix(list, "txt:"), nil)
		if err != nil {
			t.Fatal(err)
		}
		var omem int64
		for _, c := range cs {
			if c.Addr == slow.LocalAddr().String() {
				omem = c.OMem
			}
		}
		if omem > 5<<20 {
			break
		}
		if i > 100 {
			t.Fatalf("omem %d after %d messages", omem, i)
		}
		if err := cl.Do(ctx, cl.B().Publish().Channel("notifications").Message(msg).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	out, d := runPubSub(t, &PubSubProbe{Connect: connector(srv.URL)})
	if out.Status != Warn || !strings.Contains(out.Detail, "subscriber "+slow.LocalAddr().String()+" (client name slow-plain) holds") || len(d.Stray) != 0 {
		t.Fatalf("%s %q %+v", out.Status, out.Detail, d)
	}
}

// Every API instance down and one plain subscriber left on the request
// channel (a debugging valkey-cli): no pattern subscription exists, so no
// adapter instance is running. The check fails and names the subscriber; it
// once reported "/ 1" and ok, hiding the outage.
func TestPubSubLoneSubscriberIsNoInstance(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	lone := srv.Subscriber(t, valkeytest.SubscriberOptions{LocalAddr: "127.0.0.9", Name: "debug", Channels: []string{"socket.io-request#/#"}})
	out, d := runPubSub(t, &PubSubProbe{Connect: connector(srv.URL)})
	if out.Status != Fail || !strings.Contains(out.Detail, "namespace / has no API instance subscribed") ||
		!strings.Contains(out.Detail, "stray subscriber "+lone.LocalAddr().String()+" (client name debug)") ||
		d.Namespaces[0].Instances != 0 || d.Namespaces[0].RequestSubscribers != 1 {
		t.Fatalf("%s %q %+v", out.Status, out.Detail, d.Namespaces)
	}
	// An adapter older than 7.2 (no per-instance response channel) still
	// pattern-subscribes: its subscribers count as its instances.
	srv.Subscriber(t, valkeytest.SubscriberOptions{Channels: []string{"socket.io-request#/#", "socket.io-response#/#"}, Patterns: []string{"socket.io#/#*"}})
	if out, d = runPubSub(t, &PubSubProbe{Connect: connector(srv.URL)}); out.Status != OK || d.Namespaces[0].Instances != 2 {
		t.Fatalf("old adapter: %s %q %+v", out.Status, out.Detail, d.Namespaces)
	}
}
