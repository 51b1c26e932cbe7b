package ratelimit

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestRateTable checks the table against a map over rounds in which keys
// come, go, come back, repeat within a round and change their hits, across
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
			h := int64(rng.IntN(1000))
			if old, ok := cur[k]; ok { // a repeat within the round
				if _, ok := tab.swap(k, old); ok {
					t.Fatalf("round %d: repeat of %s reported a previous value", round, k)
				}
				continue
			}
			cur[k] = h
			got, ok := tab.swap(k, h)
			want, wok := prev[k]
			if ok != wok || got != want {
				t.Fatalf("round %d: swap(%s) = %d,%v, want %d,%v", round, k, got, ok, want, wok)
			}
		}
		tab.sweep()
		if tab.live != len(cur) {
			t.Fatalf("round %d: %d live entries, want %d", round, tab.live, len(cur))
		}
		prev = cur
	}
	if len(tab.hashes) > 4*minSlots {
		t.Errorf("table of %d slots for %d keys: it did not shrink", len(tab.hashes), tab.live)
	}
	tab.start()
	if got, ok := tab.swap("big", 1<<40); ok || got != 0 {
		t.Fatal(got, ok)
	}
	tab.sweep()
	tab.start()
	if got, _ := tab.swap("big", 1); got != hitsMask {
		t.Fatalf("hits saturate at %d, got %d", hitsMask, got)
	}
}
