package probe

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/testutil/nodeapp"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// subscriber is a raw connection that subscribes the way an adapter
// instance does (cmd is SUBSCRIBE or SSUBSCRIBE), closed when the test ends.
func subscriber(t *testing.T, addr, password, cmd string, channels ...string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	send := func(args ...string) {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := c.Write([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
	}
	if password != "" {
		send("AUTH", password)
		if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "+OK") {
			t.Fatalf("AUTH: %q", line)
		}
	}
	send(append([]string{cmd}, channels...)...)
	// One confirmation per channel, 6 lines: *3, $9, subscribe, $n, channel, :n
	for range channels {
		for i := 0; i < 6; i++ {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			if strings.HasPrefix(line, "-") {
				t.Fatalf("%s: %s", cmd, line)
			}
		}
	}
	_ = c.SetDeadline(time.Time{})
}

// instance subscribes like one classic adapter instance of namespace nsp.
func instance(t *testing.T, addr, key, nsp, uid string) {
	subscriber(t, addr, "", "SUBSCRIBE", key+"-request#"+nsp+"#", key+"-response#"+nsp+"#", key+"-response#"+nsp+"#"+uid+"#")
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

	instance(t, srv.Addr, "socket.io", "/", "AAAAAA")
	instance(t, srv.Addr, "socket.io", "/", "BBBBBB")
	instance(t, srv.Addr, "socket.io", "/chat", "CCCCCC")
	instance(t, srv.Addr, "other", "/", "DDDDDD") // another key: not counted
	// A pattern subscriber (like oxyctl pubsub tail) does not count.
	subscriber(t, srv.Addr, "", "PSUBSCRIBE", "socket.io*")

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

	// The probe never subscribes: the counts are what the instances made.
	cl := srv.Client(t)
	n, err := cl.Do(context.Background(), cl.B().PubsubNumsub().Channel("socket.io-request#/#").Build()).AsIntMap()
	if err != nil || n["socket.io-request#/#"] != 2 {
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
					if len(ns.UIDs) != 2 || !contains(ns.UIDs, want[0]) || !contains(ns.UIDs, want[1]) {
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
	instance(t, c.Nodes[0].Addr, "socket.io", "/", "AAAAAA")
	instance(t, c.Nodes[1].Addr, "socket.io", "/", "BBBBBB")
	instance(t, c.Nodes[2].Addr, "socket.io", "/", "CCCCCC")
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
