package ratelimit

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestRateTable checks the table against a map over rounds in which keys
// come, go, come back, repeat within a round, grow and fall, across
// growth, tombstones and shrinking.
func TestRateTable(t *testing.T) {
	tab := newRateTable()
	rng := rand.New(rand.NewPCG(1, 2))
	prev := map[string]int64{}
	for round := 0; round < 30; round++ {
		n := 5000
		if round%10 == 9 {
			n = 50 // most keys go away: the table shrinks
		}
		tab.start()
		cur := map[string]int64{}
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("rl:%d", rng.IntN(8000))
			if _, ok := cur[k]; ok {
				if _, repeat := tab.increase(k, 1); !repeat {
					t.Fatalf("round %d: a repeat of %s was not noticed", round, k)
				}
				continue
			}
			h := prev[k] + int64(rng.IntN(100))
			if rng.IntN(10) == 0 {
				h = int64(rng.IntN(50)) // restarted
			}
			cur[k] = h
			want := h
			if p, ok := prev[k]; ok && h >= p {
				want = h - p
			}
			if got, repeat := tab.increase(k, h); got != want || repeat {
				t.Fatalf("round %d: increase(%s, %d) = %d, want %d (prev %v)", round, k, h, got, want, prev[k])
			}
		}
		tab.sweep()
		if tab.live != len(cur) {
			t.Fatalf("round %d: %d live entries, want %d", round, tab.live, len(cur))
		}
		prev = cur
	}
	if len(tab.slots) > 4*minSlots {
		t.Errorf("table of %d slots for %d keys: it did not shrink", len(tab.slots), tab.live)
	}
	// A failed round's readings stand as the previous round's, and the
	// retried round sees no repeats.
	tab.start()
	tab.increase("rl:a", 5)
	tab.sweep()
	tab.start()
	tab.increase("rl:a", 8) // then the round fails
	tab.abort()
	tab.start()
	if got, repeat := tab.increase("rl:a", 10); got != 2 || repeat {
		t.Fatalf("after an aborted round: %d, %v; want 2 more than the aborted reading", got, repeat)
	}
	tab.sweep()
	// Past 2^22 hits the increase is still exact.
	tab.start()
	tab.increase("big", 10_000_000)
	tab.sweep()
	tab.start()
	if got, _ := tab.increase("big", 10_000_123); got != 123 {
		t.Fatalf("increase past 2^22 = %d, want 123", got)
	}
}

// A table sized for n keys takes n without growing: the first round of a
// watch does not rebuild it while it scans.
func TestRateTableSizedForItsKeys(t *testing.T) {
	const n = 50_000
	tab := newRateTableFor(n)
	size := len(tab.slots)
	tab.start()
	for i := 0; i < n; i++ {
		tab.increase(fmt.Sprintf("rl:10.%d.%d.%d", i>>16, i>>8&255, i&255), int64(i))
	}
	if len(tab.slots) != size {
		t.Fatalf("the table grew from %d to %d slots for the %d keys it was sized for", size, len(tab.slots), n)
	}
	if size > n*2 {
		t.Fatalf("%d slots for %d keys", size, n)
	}
}
