package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
	"github.com/valkey-io/valkey-go"
)

// keyState is a key as a snapshot sees it: type, value (strings) and PTTL
// rounded to the second.
type keyState struct {
	typ, val string
	pttlS    int64
}

// snapshot reads every key of every primary (a plain SCAN, independent of
// the code under test) with its type, string value and PTTL.
func snapshot(t *testing.T, tp topo) map[string]keyState {
	t.Helper()
	out := map[string]keyState{}
	for k, typ := range allKeys(t, tp) {
		st := keyState{typ: typ}
		if typ == "string" {
			st.val, _ = tp.client.Do(ctxT(t), tp.client.B().Get().Key(k).Build()).ToString()
		}
		p, _ := tp.client.Do(ctxT(t), tp.client.B().Pttl().Key(k).Build()).AsInt64()
		st.pttlS = (p + 500) / 1000
		if p < 0 {
			st.pttlS = p
		}
		out[k] = st
	}
	return out
}

func getPTTL(t *testing.T, c valkey.Client, key string) (string, int64) {
	t.Helper()
	v, err := c.Do(ctxT(t), c.B().Get().Key(key).Build()).ToString()
	if err != nil && !valkey.IsValkeyNil(err) {
		t.Fatalf("GET %s: %v", key, err)
	}
	p, err := c.Do(ctxT(t), c.B().Pttl().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	return v, p
}

// testBlock runs the block contract against one deployment.
func testBlock(t *testing.T, tp topo) {
	l := DefaultLimiter()
	c := tp.client
	// Decoys: neighbours in every sense (same prefix, a prefix of the key,
	// other prefixes, glob look-alikes, another type under the prefix) and
	// counters that a block must not lower.
	do(t, c, valkey.Commands{
		setCounter(c, "rl:198.51.100.2", 7, 10*time.Minute),
		setCounter(c, "rl:198.51.100.230", 9, 10*time.Minute),
		setCounter(c, "rl:*", 1, 10*time.Minute),
		setCounter(c, "rl2:198.51.100.23", 3, 10*time.Minute),
		setCounter(c, "198.51.100.23", 3, 10*time.Minute),
		c.B().Hset().Key("rl:hash").FieldValue().FieldValue("f", "v").Build(),
		c.B().Set().Key("other").Value("x").Build(),
		setCounter(c, "rl:203.0.113.9", 12, 2*time.Minute),          // lower: raised, expiry lengthened
		setCounter(c, "rl:203.0.113.10", 500, 10*time.Minute),       // higher count: kept
		setCounter(c, "rl:203.0.113.11", 3, 14*time.Minute),         // longer expiry: kept
		setCounter(c, "rl:2001:db8:abcd:1200::/56", 2, time.Minute), // v8 subnet key
		c.B().Set().Key("rl:203.0.113.12").Value("4").Build(),       // no expiry: a new window
	})
	before := snapshot(t, tp)

	res, err := Block(ctxT(t), c, l, []string{
		"198.51.100.23", "203.0.113.9", "203.0.113.10", "203.0.113.11",
		"2001:db8:abcd:12ff::1", "203.0.113.12", "hash",
	}, BlockOptions{For: 5 * time.Minute, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int64{ // hits, expiry (s)
		"rl:198.51.100.23":           {151, 300},
		"rl:203.0.113.9":             {151, 300},
		"rl:203.0.113.10":            {500, 600},
		"rl:203.0.113.11":            {151, 840},
		"rl:2001:db8:abcd:1200::/56": {151, 300},
		"rl:203.0.113.12":            {151, 300},
	}
	if len(res.Blocked) != len(want) || len(res.Skipped) != 1 || res.Skipped[0].Key != "rl:hash" {
		t.Fatalf("result %+v", res)
	}
	for _, b := range res.Blocked {
		w, ok := want[b.Key]
		if !ok {
			t.Errorf("blocked %q, not asked for", b.Key)
			continue
		}
		if b.Hits != w[0] || (b.ResetInMS+500)/1000 < w[1]-2 || (b.ResetInMS+500)/1000 > w[1] {
			t.Errorf("%s: result hits %d reset_in_ms %d, want %v", b.Key, b.Hits, b.ResetInMS, w)
		}
		if !b.ResetsAt.Equal(fixedNow().Add(time.Duration(b.ResetInMS) * time.Millisecond)) {
			t.Errorf("%s: resets_at %s", b.Key, b.ResetsAt)
		}
		v, p := getPTTL(t, c, b.Key)
		if v != fmt.Sprint(w[0]) || (p+500)/1000 < w[1]-2 || (p+500)/1000 > w[1] {
			t.Errorf("%s: server holds %s with PTTL %d ms, want %v", b.Key, v, p, w)
		}
	}

	// Nothing else changed: every key but the blocked ones is as it was.
	after := snapshot(t, tp)
	for k, st := range before {
		if _, blocked := want[k]; blocked {
			continue
		}
		if a, ok := after[k]; !ok || a.typ != st.typ || a.val != st.val || a.pttlS < st.pttlS-2 || a.pttlS > st.pttlS {
			t.Errorf("decoy %q changed: %+v -> %+v", k, st, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok && k != "rl:198.51.100.23" {
			t.Errorf("key %q appeared", k)
		}
	}

	// A second block is a no-op for what is already blocked long enough.
	again, err := Block(ctxT(t), c, l, []string{"203.0.113.10"}, BlockOptions{For: time.Minute})
	if err != nil || len(again.Blocked) != 1 || !again.Blocked[0].Unchanged || again.Blocked[0].Hits != 500 {
		t.Fatalf("second block: %+v, %v", again, err)
	}
	// A dry run writes nothing.
	dry, err := Block(ctxT(t), c, l, []string{"192.0.2.99"}, BlockOptions{DryRun: true})
	if err != nil || len(dry.Blocked) != 1 || dry.Blocked[0].Hits != 151 || dry.Blocked[0].ResetInMS != 900000 || !dry.DryRun {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if v, p := getPTTL(t, c, "rl:192.0.2.99"); v != "" || p != -2 {
		t.Fatalf("dry run wrote %q (PTTL %d)", v, p)
	}
	// The block is a valid, blocked counter to limits list, even when longer
	// than a window.
	if _, err := Block(ctxT(t), c, l, []string{"192.0.2.100"}, BlockOptions{For: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	lr, err := List(ctxT(t), tp.primaries, l, ListOptions{Top: 0, BlockedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var blocked []string
	for _, r := range lr.Clients {
		blocked = append(blocked, r.Client)
	}
	if !strings.Contains(fmt.Sprint(blocked), "192.0.2.100") || lr.AnomalyCount != 1 {
		t.Errorf("list --blocked after a 2h block: %q, %d anomalies %+v", blocked, lr.AnomalyCount, lr.Anomalies)
	}
}

func TestBlock(t *testing.T) {
	bothTopologies(t, testBlock)
}

// TestBlockRefusedCommands: a server that refuses scripting and the admin
// commands, as DigitalOcean's does, takes a block all the same.
func TestBlockRefusedCommands(t *testing.T) {
	s := valkeytest.Start(t, valkeytest.Options{Refused: true})
	tp := connect(t, "refused", valkeyclient.Options{URL: s.URL})
	if err := tp.client.Do(ctxT(t), tp.client.B().Eval().Script("return 1").Numkeys(0).Build()).Error(); err == nil {
		t.Fatal("EVAL is not refused: the server is not set up like DigitalOcean's")
	}
	testBlock(t, tp)
}

// TestBlockConflict: a hit counted between the read and the EXEC aborts
// the transaction; the block reads again and never loses the hit.
func TestBlockConflict(t *testing.T) {
	tp := startStandalone(t)
	c := tp.client
	l := DefaultLimiter()
	do(t, c, valkey.Commands{setCounter(c, "rl:a", 200, time.Minute)})
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_ = c.Do(ctx, c.B().Incr().Key("rl:a").Build()).Error()
		}
	}()
	var hits int64
	for range 20 {
		res, err := Block(ctxT(t), c, l, []string{"a"}, BlockOptions{For: 5 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if res.Blocked[0].Hits < hits {
			t.Fatalf("block lowered the count: %d after %d", res.Blocked[0].Hits, hits)
		}
		hits = res.Blocked[0].Hits
	}
	cancel()
	<-done
	v, p := getPTTL(t, c, "rl:a")
	if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < hits || p < 290000 {
		t.Fatalf("after racing blocks: %s hits (last block saw %d), PTTL %d", v, hits, p)
	}
}
