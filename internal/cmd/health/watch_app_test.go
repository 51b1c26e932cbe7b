package health_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// A --watch round reports the server's counters that grew since the round
// before, not every one since the server started: rejected connections
// happen for real (a server with --maxclients 10 refuses connections beyond
// it) before the watch, between its rounds 1 and 2, and not before round 3.
func TestHealthWatchCounterDeltas(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--maxclients", "10"}})
	// The observer keeps one slot for the whole test, so that watching the
	// server never costs a rejected connection of its own.
	obs, err := srv.SingleClient()
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	info := func(field string) int64 { t.Helper(); return infoInt(t, obs, "clients", field) }
	connected := info("connected_clients") // the observer (and nothing else)
	// reject fills the server to its cap, opens n more (refused), then
	// closes them all and waits until the server has let them go. A round
	// that starts meanwhile fails to connect: --interval leaves it 2s.
	reject := func(n int) {
		t.Helper()
		clitest.WaitFor(t, 5*time.Second, "the server to let the last round's connection go", func() bool { return info("connected_clients") == connected })
		held, replies := srv.Hold(t, 10-int(connected)+n)
		refused := 0
		for _, r := range replies {
			if strings.Contains(r, valkeytest.RefusedAtCap) {
				refused++
			}
		}
		if refused != n {
			t.Fatalf("%d connections refused, want %d: %q", refused, n, replies)
		}
		for _, c := range held {
			c.Close()
		}
		clitest.WaitFor(t, 5*time.Second, "the server to close the held connections", func() bool { return info("connected_clients") == connected })
	}

	reject(2)
	w := startWatch(t, srv.URL, "valkey")
	type node struct {
		RejectedConnections int64 `json:"rejected_connections"`
	}
	roundN := func(n int) watchCheck[struct{ Nodes []node }] {
		t.Helper()
		c := roundCheck[struct{ Nodes []node }](t, w, n, "valkey")
		if len(c.Data.Nodes) != 1 {
			t.Fatalf("round %d: %+v", n, c)
		}
		return c
	}

	r := roundN(1)
	if r.Status != "warn" || !strings.Contains(r.Detail, "2 connections rejected (maxclients reached) since the server started") || r.Data.Nodes[0].RejectedConnections != 2 {
		t.Fatalf("round 1: %s %q %+v", r.Status, r.Detail, r.Data)
	}
	reject(3)
	r = roundN(2)
	if r.Status != "warn" || !strings.Contains(r.Detail, "3 connections rejected (maxclients reached) since the last round") || r.Data.Nodes[0].RejectedConnections != 5 {
		t.Fatalf("round 2: %s %q %+v", r.Status, r.Detail, r.Data)
	}
	r = roundN(3)
	if r.Status != "ok" || strings.Contains(r.Detail, "rejected") || r.Data.Nodes[0].RejectedConnections != 5 {
		t.Fatalf("round 3 (nothing new): %s %q %+v", r.Status, r.Detail, r.Data)
	}
	w.Cancel()
	if res := w.Wait(t, 10*time.Second); res.Code != 0 || !strings.Contains(res.Stderr, "health: 3 rounds") && !strings.Contains(res.Stderr, "health: 4 rounds") {
		t.Fatalf("exit %d, stderr %q", res.Code, res.Stderr)
	}
}

// A --watch round reports the subscribers cut off at the output-buffer
// limit since the round before: cuts happen for real (a pattern subscriber
// that stops reading while messages are published, on a server with a
// 256 kB pub/sub hard limit) before the watch, between its rounds 1 and 2,
// and not before round 3.
func TestHealthWatchOutputBufferDeltas(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--client-output-buffer-limit", "pubsub 256kb 64kb 60"}})
	// One adapter instance, so that the check has a namespace to be ok about.
	srv.Subscriber(t, valkeytest.SubscriberOptions{Name: "inst",
		Channels: []string{"socket.io-request#/#", "socket.io-response#/#", "socket.io-response#/#AAAAAA#"}, Patterns: []string{"socket.io#/#*"}})
	obs, err := srv.SingleClient()
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	ctx := context.Background()
	cuts := func() int64 {
		t.Helper()
		return infoInt(t, obs, "stats", "client_output_buffer_limit_disconnections")
	}
	msg := strings.Repeat("x", 64<<10)
	// cut has n subscribers stop reading, one after the other, and publishes
	// until the server has cut each off.
	cut := func(n int) {
		t.Helper()
		for range n {
			before := cuts()
			srv.Subscriber(t, valkeytest.SubscriberOptions{Name: "slow", Patterns: []string{"flood*"}, ReadBuffer: 4096})
			for i := 0; cuts() == before; i++ {
				if i > 2000 {
					t.Fatal("the slow subscriber was never cut off")
				}
				if err := obs.Do(ctx, obs.B().Publish().Channel("flood-1").Message(msg).Build()).Error(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	cut(1)
	w := startWatch(t, srv.URL, "pubsub")
	type pubsubData struct {
		OutputBufferDisconnections int64 `json:"output_buffer_disconnections"`
	}
	roundN := func(n int) watchCheck[pubsubData] { t.Helper(); return roundCheck[pubsubData](t, w, n, "pubsub") }
	const what = "clients cut off at the output-buffer limit"
	r := roundN(1)
	if r.Status != "warn" || !strings.Contains(r.Detail, "1 "+what) || !strings.Contains(r.Detail, "since the server started") || r.Data.OutputBufferDisconnections != 1 {
		t.Fatalf("round 1: %s %q %+v", r.Status, r.Detail, r.Data)
	}
	cut(2)
	r = roundN(2)
	if r.Status != "warn" || !strings.Contains(r.Detail, "2 "+what) || !strings.Contains(r.Detail, "since the last round") || r.Data.OutputBufferDisconnections != 3 {
		t.Fatalf("round 2: %s %q %+v", r.Status, r.Detail, r.Data)
	}
	r = roundN(3)
	if r.Status != "ok" || strings.Contains(r.Detail, what) || r.Data.OutputBufferDisconnections != 3 {
		t.Fatalf("round 3 (nothing new): %s %q %+v", r.Status, r.Detail, r.Data)
	}
	w.Cancel()
	if res := w.Wait(t, 10*time.Second); res.Code != 0 {
		t.Fatalf("exit %d, stderr %q", res.Code, res.Stderr)
	}
}

// startWatch runs `health --watch --interval 2s --check <check> -o json`
// against the server at url.
func startWatch(t *testing.T, url, check string) *clitest.Running {
	env := baseEnv(t)
	env["REDIS_URL"] = url
	return clitest.Start(t, app.Run, env, "health", "--watch", "--interval", "2s", "--check", check, "-o", "json")
}

// watchCheck is the one check of a --watch -o json round, its data as D.
type watchCheck[D any] struct {
	Name, Status, Detail string
	Data                 D
}

// roundCheck waits for round n of a `health --watch --check <check> -o json`
// run and returns its one check.
func roundCheck[D any](t *testing.T, w *clitest.Running, n int, check string) watchCheck[D] {
	t.Helper()
	var got struct {
		Round  int             `json:"round"`
		Checks []watchCheck[D] `json:"checks"`
	}
	clitest.WaitFor(t, 15*time.Second, "a --watch round", func() bool {
		lines := strings.Split(w.Stdout.String(), "\n")
		if len(lines) <= n { // the last element is the unfinished line
			return false
		}
		if err := json.Unmarshal([]byte(lines[n-1]), &got); err != nil {
			t.Fatalf("round %d: %v: %q", n, err, lines[n-1])
		}
		return true
	})
	if got.Round != n || len(got.Checks) != 1 || got.Checks[0].Name != check {
		t.Fatalf("round %d: %+v", n, got)
	}
	t.Logf("round %d: %s %q", n, got.Checks[0].Status, got.Checks[0].Detail)
	return got.Checks[0]
}
