package ratelimit

import "hash/maphash"

// rateTable remembers each counter's hits from the previous round of a
// watch in 8 bytes per slot whatever the key's length: a flat
// open-addressing table (linear probing) of uint64 slots, each holding the
// top 41 bits of the key's 64-bit hash, the round's parity, and the hits
// modulo 2^22. Two keys are confused only when those 41 bits are equal
// (about one pair in four watches of a million keys; the pair then shows
// one rate). A million counters take 10 to 13 MB; a map of key to hits
// would take about 100 MB.
//
// Hits modulo 2^22 give the exact increase between two rounds as long as
// one client adds fewer than 4,194,304 hits between them; an increase
// larger than the hits themselves means the counter fell: it expired and
// started again, so it counts from 0.
//
// A round calls start, then increase for each counter it reads, then
// sweep (or abort, when it failed): the entries of keys the round did not see become tombstones, so a
// counter that disappeared and comes back later counts from 0.
type rateTable struct {
	seed  maphash.Seed
	slots []uint64 // 0: empty, 1: tombstone, else fp<<23 | parity<<22 | hits
	live  int      // entries of this or the previous round
	used  int      // live entries plus tombstones
	round uint64
}

const (
	slotEmpty = 0
	slotTomb  = 1
	fpShift   = 23
	parityBit = 1 << 22
	hitsMask  = 1<<22 - 1
	minSlots  = 1024
)

func newRateTable() *rateTable { return newRateTableFor(0) }

// newRateTableFor sizes the table for n keys without growing (at most 4/5
// full).
func newRateTableFor(n int) *rateTable {
	return &rateTable{seed: maphash.MakeSeed(), slots: make([]uint64, max(minSlots, n*5/4+1))}
}

// start begins a round.
func (t *rateTable) start() { t.round++ }

// home is the first slot a fingerprint probes (from its top 32 bits).
func (t *rateTable) home(fp uint64) int { return int((fp >> 9) * uint64(len(t.slots)) >> 32) }

// increase records hits for key in this round and returns the hits added
// since the previous round: all of them when the key was not seen then or
// its counter fell. repeat is set for a key already seen this round (SCAN
// may return a key twice); its first reading stands.
func (t *rateTable) increase(key string, hits int64) (inc int64, repeat bool) {
	if (t.used+1)*5 > len(t.slots)*4 { // past 4/5 full: grow, or drop tombstones
		t.rebuild(t.live + 1)
	}
	hits = max(hits, 0)
	fp := maphash.String(t.seed, key) >> fpShift
	if fp == 0 {
		fp = 1
	}
	parity := (t.round & 1) << 22
	v := fp<<fpShift | parity | uint64(hits)&hitsMask
	tomb := -1
	n := len(t.slots)
	for i := t.home(fp); ; {
		switch s := t.slots[i]; {
		case s == slotEmpty:
			if tomb >= 0 {
				i = tomb
			} else {
				t.used++
			}
			t.slots[i] = v
			t.live++
			return hits, false
		case s == slotTomb:
			if tomb < 0 {
				tomb = i
			}
		case s>>fpShift == fp:
			if s&parityBit == parity {
				return 0, true
			}
			t.slots[i] = v
			d := int64((uint64(hits) - s) & hitsMask)
			if d > hits {
				return hits, false // the counter fell: it started again
			}
			return d, false
		}
		if i++; i == n {
			i = 0
		}
	}
}

// abort undoes start after a round that failed part way: the readings it
// took stay (as the previous round's), and the next round has the same
// number, so nothing it reads looks like a repeat.
func (t *rateTable) abort() {
	t.round--
	parity := (t.round & 1) << 22
	for i, s := range t.slots {
		if s > slotTomb {
			t.slots[i] = s&^parityBit | parity
		}
	}
}

// sweep ends a round: entries the round did not see become tombstones.
func (t *rateTable) sweep() {
	parity := (t.round & 1) << 22
	for i, s := range t.slots {
		if s > slotTomb && s&parityBit != parity {
			t.slots[i] = slotTomb
			t.live--
		}
	}
	if len(t.slots) > minSlots && t.live*4 < len(t.slots) {
		t.rebuild(t.live) // most keys went away: shrink
	}
}

// rebuild rehashes the live entries into a table sized for n entries,
// 3/5 full once they are in.
func (t *rateTable) rebuild(n int) {
	size := max(minSlots, n*5/3)
	old := t.slots
	t.slots = make([]uint64, size)
	t.used, t.live = 0, 0
	for _, s := range old {
		if s <= slotTomb {
			continue
		}
		i := t.home(s >> fpShift)
		for t.slots[i] != slotEmpty {
			if i++; i == size {
				i = 0
			}
		}
		t.slots[i] = s
		t.used++
		t.live++
	}
}
