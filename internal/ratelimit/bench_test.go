package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"
)

// The end-to-end benchmarks against valkey-cli (1M keys, cluster, latency
// proxy, pace) are in internal/tools/bench: go run ./internal/tools/bench.

func BenchmarkKeyFor(b *testing.B) {
	l := DefaultLimiter()
	for _, in := range []string{"203.0.113.7", "2001:db8:abcd:12ff::1", "::ffff:c000:20b", "user-42"} {
		b.Run(in, func(b *testing.B) {
			for b.Loop() {
				_ = KeyFor(l, in)
			}
		})
	}
}

func BenchmarkTopN(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	recs := make([]counter, 100000)
	for i := range recs {
		recs[i] = counter{key: fmt.Sprintf("rl:%d", i), hits: rng.Int64N(400)}
	}
	less, _ := lessFunc(SortHits)
	b.ReportAllocs()
	for b.Loop() {
		h := newTopN(20, less, counterKey)
		for _, r := range recs {
			h.add(r)
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")
}

// benchKeys loads n counters into a fresh server.
func benchKeys(b *testing.B, tp topo, n int) {
	rng := rand.New(rand.NewPCG(2, 2))
	var cmds valkey.Commands
	for i := range n {
		cmds = append(cmds, setCounter(tp.client, fmt.Sprintf("rl:10.%d.%d.%d", i>>16, (i>>8)&255, i&255), 1+rng.Int64N(400), 10*time.Minute))
	}
	do(b, tp.client, cmds)
}

func BenchmarkList(b *testing.B) {
	for name, start := range map[string]func(testing.TB) topo{"standalone": startStandalone, "cluster": startCluster} {
		b.Run(name, func(b *testing.B) {
			const n = 100000
			tp := start(b)
			benchKeys(b, tp, n)
			b.ResetTimer()
			for b.Loop() {
				res, err := List(context.Background(), tp.primaries, DefaultLimiter(), ListOptions{Top: 20})
				if err != nil || res.ScannedKeys != n {
					b.Fatalf("scanned %d, %v", res.ScannedKeys, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}
