package ratelimit

import "hash/maphash"

// rateTable remembers each counter's hits from the previous round of a
// watch in 12 bytes per slot whatever the key's length: a flat
// open-addressing table (linear probing) of the key's 64-bit hash and a
// uint32 holding the round's parity and the hits (31 bits, saturating).
// Two keys are confused only when their 64-bit hashes are equal (about
// once in 30 million watches of a million keys). A million counters take
// about 15 to 22 MB; a map of key to hits would take about 100 MB.
//
// A round calls start, then swap for each counter it reads, then sweep:
// the entries of keys the round did not see become tombstones, so a counter
// that disappeared and comes back later counts from 0.
type rateTable struct {
	seed   maphash.Seed
	hashes []uint64 // 0: empty, 1: tombstone, else the key's hash
	vals   []uint32 // parity bit | hits
	live   int      // entries of this or the previous round
	used   int      // live entries plus tombstones
	round  uint32
}

const (
	slotEmpty = 0
	slotTomb  = 1 // a stored hash is never 0 or 1
	hitsMask  = 1<<31 - 1
	parityBit = 1 << 31
	minSlots  = 1024
)

func newRateTable() *rateTable {
	return &rateTable{seed: maphash.MakeSeed(), hashes: make([]uint64, minSlots), vals: make([]uint32, minSlots)}
}

// start begins a round.
func (t *rateTable) start() { t.round++ }

// home is the first slot a hash probes.
func (t *rateTable) home(h uint64) int { return int((h >> 32) * uint64(len(t.hashes)) >> 32) }

// swap records hits for key in this round and returns the hits the
// previous round saw (ok false: the key was not seen then, or was already
// seen this round, as SCAN may return a key twice).
func (t *rateTable) swap(key string, hits int64) (prev int64, ok bool) {
	if (t.used+1)*5 > len(t.hashes)*4 { // past 4/5 full: grow, or drop tombstones
		t.rebuild(t.live + 1)
	}
	h := maphash.String(t.seed, key)
	if h <= slotTomb {
		h += 2
	}
	parity := (t.round & 1) << 31
	v := parity | uint32(min(max(hits, 0), hitsMask))
	tomb := -1
	n := len(t.hashes)
	for i := t.home(h); ; {
		switch s := t.hashes[i]; {
		case s == slotEmpty:
			if tomb >= 0 {
				i = tomb
			} else {
				t.used++
			}
			t.hashes[i], t.vals[i] = h, v
			t.live++
			return 0, false
		case s == slotTomb:
			if tomb < 0 {
				tomb = i
			}
		case s == h:
			old := t.vals[i]
			t.vals[i] = v
			if old&parityBit == parity {
				return 0, false
			}
			return int64(old & hitsMask), true
		}
		if i++; i == n {
			i = 0
		}
	}
}

// sweep ends a round: entries the round did not see become tombstones.
func (t *rateTable) sweep() {
	parity := (t.round & 1) << 31
	for i, s := range t.hashes {
		if s > slotTomb && t.vals[i]&parityBit != parity {
			t.hashes[i] = slotTomb
			t.live--
		}
	}
	if len(t.hashes) > minSlots && t.live*4 < len(t.hashes) {
		t.rebuild(t.live) // most keys went away: shrink
	}
}

// rebuild rehashes the live entries into a table sized for n entries,
// 3/5 full once they are in.
func (t *rateTable) rebuild(n int) {
	size := max(minSlots, n*5/3)
	oldH, oldV := t.hashes, t.vals
	t.hashes, t.vals = make([]uint64, size), make([]uint32, size)
	t.used, t.live = 0, 0
	for j, s := range oldH {
		if s <= slotTomb {
			continue
		}
		i := t.home(s)
		for t.hashes[i] != slotEmpty {
			if i++; i == size {
				i = 0
			}
		}
		t.hashes[i], t.vals[i] = s, oldV[j]
		t.used++
		t.live++
	}
}
