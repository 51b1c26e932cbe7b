package probe

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCountersRounds(t *testing.T) {
	ctx := context.Background()
	if n, since := New(ctx, "k", 7); n != 7 || since != "since the server started" {
		t.Fatalf("single run: %d %q", n, since)
	}
	c := NewCounters()
	wctx := WithCounters(ctx, c)
	steps := []struct {
		key   string
		total int64
		want  int64
		since string
	}{
		{"evicted", 5, 5, "since the server started"}, // round 1: the total
		{"rejected", 0, 0, "since the server started"},
		{"next", 0, 0, ""},
		{"evicted", 9, 4, "since the last round"}, // round 2: growth
		{"next", 0, 0, ""},
		{"evicted", 9, 0, "since the last round"}, // nothing new
		{"rejected", 2, 2, "since the last round"},
		{"next", 0, 0, ""},
		{"evicted", 3, 3, "since the last round"}, // restarted: counts from 0
		{"next", 0, 0, ""},
		{"next", 0, 0, ""},                        // a round that could not read it
		{"evicted", 4, 1, "since the last round"}, // keeps the older baseline
		{"fresh", 6, 6, "since the server started"},
	}
	for i, s := range steps {
		if s.key == "next" {
			c.Next()
			continue
		}
		n, since := New(wctx, s.key, s.total)
		if n != s.want || since != s.since {
			t.Fatalf("step %d (%s=%d): got %d %q, want %d %q", i, s.key, s.total, n, since, s.want, s.since)
		}
	}
}

func TestFindingsCounter(t *testing.T) {
	f := newFindings()
	f.counter(context.Background(), "k", "node: ", 0, "keys evicted")
	if f.status != OK || len(f.notes) != 0 {
		t.Fatalf("zero warned: %v %q", f.status, f.notes)
	}
	f.counter(context.Background(), "k", "node: ", 3, "keys evicted")
	if f.status != Warn || f.detail("") != "node: 3 keys evicted since the server started" {
		t.Fatalf("got %v %q", f.status, f.detail(""))
	}
}

// TestCountersTimedOutRoundKeepsGrowth: a probe that records a counter's new
// total and then times out (or panics) is reported without its findings, so
// that total must not become the baseline; the growth is reported the next
// round. A total the late probe records after the Runner gave up is not kept
// either.
func TestCountersTimedOutRoundKeepsGrowth(t *testing.T) {
	const key = "fake:node:evicted_keys"
	var total atomic.Int64
	var mode atomic.Value // "ok", "hang" or "panic"
	lateDone := make(chan struct{}, 4)
	fake := Func(func(ctx context.Context) Outcome {
		f := newFindings()
		f.counter(ctx, key, "", total.Load(), "keys evicted")
		switch mode.Load() {
		case "hang":
			<-ctx.Done()
			time.Sleep(150 * time.Millisecond) // past the Runner's grace
			f.counter(ctx, key, "", total.Load()+100, "keys evicted")
			lateDone <- struct{}{}
		case "panic":
			panic("after recording")
		}
		return Outcome{Status: f.status, Detail: f.detail("")}
	})
	r := &Runner{Timeout: 50 * time.Millisecond, Grace: 20 * time.Millisecond}
	c := NewCounters()
	round := func(m string, tot int64) Result {
		t.Helper()
		mode.Store(m)
		total.Store(tot)
		rep, err := r.Run(WithCounters(context.Background(), c), []Check{{Name: "fake", Probe: fake}})
		if err != nil {
			t.Fatal(err)
		}
		c.Next()
		return rep.Checks[0]
	}
	if res := round("ok", 5); res.Status != Warn || res.Detail != "5 keys evicted since the server started" {
		t.Fatalf("round 1: %s %q", res.Status, res.Detail)
	}
	// Round 2: 3 new evictions, but the check times out: nobody sees them.
	if res := round("hang", 8); res.Status != Fail || !strings.Contains(res.Detail, "timed out") {
		t.Fatalf("round 2: %s %q, want timed out", res.Status, res.Detail)
	}
	<-lateDone // the late probe recorded 108 after the round ended
	// Round 3: the 3 are news still, measured from round 1's baseline.
	if res := round("ok", 8); res.Status != Warn || res.Detail != "3 keys evicted since the last round" {
		t.Fatalf("round 3: %s %q, want the growth the timed-out round lost", res.Status, res.Detail)
	}
	// A panic after recording loses the findings too.
	if res := round("panic", 10); res.Status != Fail || res.Panic == "" {
		t.Fatalf("round 4: %s %q, want the panic", res.Status, res.Detail)
	}
	if res := round("ok", 10); res.Status != Warn || res.Detail != "2 keys evicted since the last round" {
		t.Fatalf("round 5: %s %q, want the growth the panicking round lost", res.Status, res.Detail)
	}
	if res := round("ok", 10); res.Status != OK {
		t.Fatalf("round 6: %s %q, want nothing new", res.Status, res.Detail)
	}
}
