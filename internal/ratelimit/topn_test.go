package ratelimit

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestTopN(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for _, order := range SortOrders {
		less, err := lessFunc(order)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 5, 100, 2000} {
			var all []counter
			h := newTopN(n, less, counterKey)
			byKey := map[string]counter{}
			for i := range 1500 {
				// Every 7th record repeats an earlier key, as SCAN may: a
				// later reading of the same counter (hits grown, TTL shrunk).
				k := fmt.Sprintf("rl:%d", i)
				r := counter{key: k, hits: rng.Int64N(50), pttl: rng.Int64N(100)}
				if i%7 == 6 {
					if prev, ok := byKey[fmt.Sprintf("rl:%d", rng.IntN(i))]; ok {
						k = prev.key
						r = counter{key: k, hits: prev.hits + rng.Int64N(3), pttl: max(0, prev.pttl-rng.Int64N(3))}
					}
				}
				byKey[k] = r
				h.add(r)
			}
			for _, r := range byKey {
				all = append(all, r)
			}
			sort.Slice(all, func(i, j int) bool { return less(&all[i], &all[j]) })
			want := all
			if n > 0 && n < len(all) {
				want = all[:n]
			}
			got := h.sorted()
			if len(got) != len(want) {
				t.Fatalf("%s n=%d: %d items, want %d", order, n, len(got), len(want))
			}
			for i := range want {
				if got[i].key != want[i].key {
					t.Fatalf("%s n=%d: [%d] = %s, want %s", order, n, i, got[i].key, want[i].key)
				}
			}
		}
	}
	if got := newTopN(3, func(a, b *counter) bool { return a.key < b.key }, counterKey).sorted(); got == nil {
		t.Error("empty sorted() is nil, want []")
	}
}

func TestHistogram(t *testing.T) {
	h := Histogram(150)
	want := "0-10%:0-15 10-50%:16-75 50-80%:76-120 80-100%:121-150 100-200%:151-300 >200%:301-"
	if got := fmtBuckets(h); got != want {
		t.Errorf("Histogram(150) = %s\nwant %s", got, want)
	}
	if got := fmtBuckets(Histogram(1)); got != "0-10%:0-0 80-100%:1-1 100-200%:2-2 >200%:3-" {
		t.Errorf("Histogram(1) = %s", got)
	}
	for _, hits := range []int64{0, 15, 16, 150, 151, 300, 301, 99999} {
		addToHistogram(h, hits)
	}
	var counts []int64
	for _, b := range h {
		counts = append(counts, b.Clients)
	}
	if fmt.Sprint(counts) != "[2 1 0 1 2 2]" {
		t.Errorf("counts = %v", counts)
	}
}

func fmtBuckets(h []Bucket) string {
	s := ""
	for i, b := range h {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s:%d-", b.Label, b.Min)
		if b.Max != nil {
			s += fmt.Sprint(*b.Max)
		}
	}
	return s
}
