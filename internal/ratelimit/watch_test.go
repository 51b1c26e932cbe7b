package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"
)

// TestWatch runs rounds against a real server on a fake clock: rates
// against the previous round, a counter that restarted or is new counting
// from 0, --sort rate, a server restart between rounds (lost, then a gap
// record, then the watch goes on), and the rounds limit.
func TestWatch(t *testing.T) {
	tp := startStandalone(t)
	c := tp.client
	l := DefaultLimiter()
	seed := func() {
		// Retried: just after a restart the client is still reconnecting.
		var err error
		for i := 0; i < 100; i++ {
			err = nil
			for _, r := range c.DoMulti(ctxT(t),
				setCounter(c, "rl:a", 10, 10*time.Minute),
				setCounter(c, "rl:b", 100, 10*time.Minute),
				setCounter(c, "rl:c", 5, 10*time.Minute)) {
				err = cmpErr(err, r.Error())
			}
			if err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("seed: %v", err)
	}
	seed()
	var (
		mu    sync.Mutex
		clock = fixedNow()
		step  int
	)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	sleep := func(ctx context.Context, d time.Duration) bool {
		mu.Lock()
		clock = clock.Add(d)
		step++
		s := step
		mu.Unlock()
		switch s {
		case 1: // between rounds 1 and 2 (2s): a +40, c restarted at 3, d new with 8
			do(t, c, valkey.Commands{
				c.B().Incrby().Key("rl:a").Increment(40).Build(),
				setCounter(c, "rl:c", 3, 15*time.Minute),
				setCounter(c, "rl:d", 8, 15*time.Minute),
			})
		case 2: // after round 2: the server goes away
			tp.server.Stop()
		case 3: // the backoff: it comes back (empty), and the API counts again
			tp.server.Restart(t)
			seed()
		}
		return true
	}
	var events []string
	var rounds []*WatchRound
	sum, err := Watch(ctxT(t), tp.primaries, l, WatchOptions{
		List:     ListOptions{Top: 3, Sort: SortRate, Scan: ScanOptions{Now: now}},
		Interval: 2 * time.Second,
		Rounds:   3,
		Sleep:    sleep,
	}, func(ev WatchEvent) error {
		switch {
		case ev.Round != nil:
			events = append(events, fmt.Sprintf("round %d", ev.Round.Round))
			rounds = append(rounds, ev.Round)
		case ev.Gap != nil:
			events = append(events, "gap")
			if !ev.Gap.From.Before(ev.Gap.To) || ev.Gap.Error == "" || ev.Gap.Kind != "gap" {
				t.Errorf("gap %+v", ev.Gap)
			}
		case ev.Lost != nil:
			events = append(events, "lost")
		case ev.Slow > 0:
			events = append(events, "slow")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(events, ", "); got != "round 1, round 2, lost, gap, round 3" {
		t.Fatalf("events: %s", got)
	}
	if sum.Rounds != 3 || sum.Gaps != 1 {
		t.Errorf("summary %+v", sum)
	}
	rates := func(r *WatchRound) string {
		var s []string
		for _, rec := range r.Clients {
			if rec.RatePerS == nil {
				s = append(s, fmt.Sprintf("%s:%d:-", rec.Client, rec.Hits))
			} else {
				s = append(s, fmt.Sprintf("%s:%d:%g", rec.Client, rec.Hits, *rec.RatePerS))
			}
		}
		return strings.Join(s, " ")
	}
	// Round 1 has no rates: ranked by hits.
	if got := rates(rounds[0]); got != "b:100:- a:10:- c:5:-" || rounds[0].ElapsedMS != 0 {
		t.Errorf("round 1: %s (elapsed %d)", got, rounds[0].ElapsedMS)
	}
	// Round 2, 2s later: a 40/2, c restarted (3 from 0), d new (8 from 0), b 0.
	if got := rates(rounds[1]); got != "a:50:20 d:8:4 c:3:1.5" || rounds[1].ElapsedMS != 2000 || rounds[1].MatchedClients != 4 {
		t.Errorf("round 2: %s (elapsed %d, matched %d)", got, rounds[1].ElapsedMS, rounds[1].MatchedClients)
	}
	// Round 3 after the restart, over the whole gap: a fell (50 -> 10), so
	// it counts from 0; c rose 3 -> 5; b is where it was.
	r3 := rounds[2]
	secs := float64(r3.ElapsedMS) / 1000
	want3 := fmt.Sprintf("a:10:%g c:5:%g b:100:0", math.Round(10/secs*100)/100, math.Round(2/secs*100)/100)
	if got := rates(r3); got != want3 || r3.Round != 3 || r3.ElapsedMS <= 2000 {
		t.Errorf("round 3: %s (elapsed %d), want %s", got, r3.ElapsedMS, want3)
	}
}

// TestWatchSlow: a scan slower than the interval is said once, and the
// next round starts at once; the first round's error ends the watch.
func TestWatchSlow(t *testing.T) {
	tp := startStandalone(t)
	slow := 0
	sum, err := Watch(ctxT(t), tp.primaries, DefaultLimiter(), WatchOptions{Interval: time.Nanosecond, Rounds: 3}, func(ev WatchEvent) error {
		if ev.Slow > 0 {
			slow++
		}
		return nil
	})
	if err != nil || slow != 1 || sum.Rounds != 3 {
		t.Fatalf("slow notices %d, summary %+v, err %v", slow, sum, err)
	}
	tp.server.Stop()
	if _, err := Watch(ctxT(t), tp.primaries, DefaultLimiter(), WatchOptions{Interval: time.Second}, func(WatchEvent) error { return nil }); err == nil {
		t.Fatal("a watch whose first round fails must fail")
	}
	if _, err := Watch(ctxT(t), tp.primaries, DefaultLimiter(), WatchOptions{Interval: time.Second, List: ListOptions{Sort: "nope"}}, nil); err == nil {
		t.Fatal("a bad sort must fail")
	}
}
