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
	ctx := context.Background()
	info := func(field string) int64 {
		t.Helper()
		s, err := obs.Do(ctx, obs.B().Info().Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(s, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), field+":"); ok {
				var n int64
				_ = json.Unmarshal([]byte(v), &n)
				return n
			}
		}
		t.Fatalf("INFO has no %s", field)
		return 0
	}
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
	env := baseEnv(t)
	env["REDIS_URL"] = srv.URL
	w := clitest.Start(t, app.Run, env, "health", "--watch", "--interval", "2s", "--check", "valkey", "-o", "json")
	type node struct {
		RejectedConnections int64 `json:"rejected_connections"`
	}
	type round struct {
		Round  int `json:"round"`
		Checks []struct {
			Name, Status, Detail string
			Data                 struct{ Nodes []node }
		} `json:"checks"`
	}
	roundN := func(n int) round {
		t.Helper()
		var got round
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
		if got.Round != n || len(got.Checks) != 1 || got.Checks[0].Name != "valkey" || len(got.Checks[0].Data.Nodes) != 1 {
			t.Fatalf("round %d: %+v", n, got)
		}
		t.Logf("round %d: %s %q", n, got.Checks[0].Status, got.Checks[0].Detail)
		return got
	}

	r := roundN(1).Checks[0]
	if r.Status != "warn" || !strings.Contains(r.Detail, "2 connections rejected (maxclients reached) since the server started") || r.Data.Nodes[0].RejectedConnections != 2 {
		t.Fatalf("round 1: %s %q %+v", r.Status, r.Detail, r.Data)
	}
	reject(3)
	r = roundN(2).Checks[0]
	if r.Status != "warn" || !strings.Contains(r.Detail, "3 connections rejected (maxclients reached) since the last round") || r.Data.Nodes[0].RejectedConnections != 5 {
		t.Fatalf("round 2: %s %q %+v", r.Status, r.Detail, r.Data)
	}
	r = roundN(3).Checks[0]
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
		s, err := obs.Do(ctx, obs.B().Info().Section("stats").Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(s, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "client_output_buffer_limit_disconnections:"); ok {
				var n int64
				_ = json.Unmarshal([]byte(v), &n)
				return n
			}
		}
		t.Fatal("INFO stats has no client_output_buffer_limit_disconnections")
		return 0
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
	env := baseEnv(t)
	env["REDIS_URL"] = srv.URL
	w := clitest.Start(t, app.Run, env, "health", "--watch", "--interval", "2s", "--check", "pubsub", "-o", "json")
	type round struct {
		Round  int `json:"round"`
		Checks []struct {
			Name, Status, Detail string
			Data                 struct {
				OutputBufferDisconnections int64 `json:"output_buffer_disconnections"`
			}
		} `json:"checks"`
	}
	roundN := func(n int) round {
		t.Helper()
		var got round
		clitest.WaitFor(t, 15*time.Second, "a --watch round", func() bool {
			lines := strings.Split(w.Stdout.String(), "\n")
			if len(lines) <= n {
				return false
			}
			if err := json.Unmarshal([]byte(lines[n-1]), &got); err != nil {
				t.Fatalf("round %d: %v: %q", n, err, lines[n-1])
			}
			return true
		})
		if got.Round != n || len(got.Checks) != 1 || got.Checks[0].Name != "pubsub" {
			t.Fatalf("round %d: %+v", n, got)
		}
		t.Logf("round %d: %s %q", n, got.Checks[0].Status, got.Checks[0].Detail)
		return got
	}
	const what = "clients cut off at the output-buffer limit"
	r := roundN(1).Checks[0]
	if r.Status != "warn" || !strings.Contains(r.Detail, "1 "+what) || !strings.Contains(r.Detail, "since the server started") || r.Data.OutputBufferDisconnections != 1 {
		t.Fatalf("round 1: %s %q %+v", r.Status, r.Detail, r.Data)
	}
	cut(2)
	r = roundN(2).Checks[0]
	if r.Status != "warn" || !strings.Contains(r.Detail, "2 "+what) || !strings.Contains(r.Detail, "since the last round") || r.Data.OutputBufferDisconnections != 3 {
		t.Fatalf("round 2: %s %q %+v", r.Status, r.Detail, r.Data)
	}
	r = roundN(3).Checks[0]
	if r.Status != "ok" || strings.Contains(r.Detail, what) || r.Data.OutputBufferDisconnections != 3 {
		t.Fatalf("round 3 (nothing new): %s %q %+v", r.Status, r.Detail, r.Data)
	}
	w.Cancel()
	if res := w.Wait(t, 10*time.Second); res.Code != 0 {
		t.Fatalf("exit %d, stderr %q", res.Code, res.Stderr)
	}
}
