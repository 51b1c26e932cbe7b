package ratelimit

import (
	"context"
	"math/rand/v2"

	"github.com/oxyhq/oxyctl/internal/valkeyclient"
	"github.com/valkey-io/valkey-go"
)

// MemorySample is how many counters MEMORY USAGE is asked about.
const MemorySample = 1000

// Bucket is one bar of the hit histogram: clients with Min <= hits <= Max
// (no Max: no upper bound).
type Bucket struct {
	Label   string `json:"label"`
	Min     int64  `json:"min"`
	Max     *int64 `json:"max"`
	Clients int64  `json:"clients"`
}

// Memory is the estimated memory of the counters: the average MEMORY USAGE
// of a random sample of keys, times the number of clients.
type Memory struct {
	EstimatedBytes int64  `json:"estimated_bytes"`
	SampledKeys    int    `json:"sampled_keys"`
	Estimate       bool   `json:"estimate"` // always true: extrapolated from the sample
	Error          string `json:"error,omitempty"`
}

// StatsResult is the JSON document of `limits stats`.
type StatsResult struct {
	Limiter      LimiterInfo `json:"limiter"`
	ScannedKeys  int64       `json:"scanned_keys"`
	Clients      int64       `json:"clients"`
	Blocked      int64       `json:"blocked"`
	TotalHits    int64       `json:"total_hits"`
	Histogram    []Bucket    `json:"histogram"`
	Top          []Record    `json:"top"`
	Anomalies    []Anomaly   `json:"anomalies"`
	AnomalyCount int64       `json:"anomaly_count"`
	Memory       Memory      `json:"memory"`
}

// histogram fractions of the limit: 0-10%, 10-50%, 50-80%, 80-100%, 100-200%, more.
var bucketEdges = []struct {
	label string
	frac  float64
}{{"0-10%", 0.10}, {"10-50%", 0.50}, {"50-80%", 0.80}, {"80-100%", 1.00}, {"100-200%", 2.00}, {">200%", 0}}

// Histogram returns the empty buckets for limit, with inclusive hit ranges.
// Ranges that are empty for a small limit are left out.
func Histogram(limit int64) []Bucket {
	var out []Bucket
	lo := int64(0)
	for _, e := range bucketEdges {
		if e.frac == 0 {
			out = append(out, Bucket{Label: e.label, Min: lo})
			break
		}
		hi := int64(e.frac * float64(limit))
		if hi >= lo {
			h := hi
			out = append(out, Bucket{Label: e.label, Min: lo, Max: &h})
			lo = hi + 1
		}
	}
	return out
}

func addToHistogram(h []Bucket, hits int64) {
	for i := range h {
		if hits >= h[i].Min && (h[i].Max == nil || hits <= *h[i].Max) {
			h[i].Clients++
			return
		}
	}
}

// Stats scans l once and summarises it: totals, blocked clients, a hit
// histogram, the top 10 clients, anomalies and an estimate of the memory
// the counters use. c (the routing client) serves MEMORY USAGE.
func Stats(ctx context.Context, c valkey.Client, primaries []valkeyclient.Node, l Limiter, o ScanOptions) (StatsResult, error) {
	res := StatsResult{Limiter: l.Info(), Histogram: Histogram(l.Limit)}
	less, _ := lessFunc(SortHits)
	top := newTopN(10, less, counterKey)
	anoms := newAnomalySet()
	// Reservoir sample of keys for MEMORY USAGE.
	sample := make([]string, 0, MemorySample)
	var seen int64
	var err error
	res.ScannedKeys, err = scan(ctx, primaries, l, o, func(b *scanBatch) {
		for _, c := range b.counters {
			res.Clients++
			res.TotalHits += c.hits
			if c.blocked(l) {
				res.Blocked++
			}
			addToHistogram(res.Histogram, c.hits)
			top.add(c)
			seen++
			if len(sample) < MemorySample {
				sample = append(sample, c.key)
			} else if j := rand.Int64N(seen); j < MemorySample {
				sample[j] = c.key
			}
		}
		anoms.add(b.anomalies)
	})
	if err != nil {
		return StatsResult{}, err
	}
	res.Top = records(l, top.sorted())
	res.Anomalies, res.AnomalyCount = anoms.result()
	res.Memory = memoryEstimate(ctx, c, sample, res.Clients)
	return res, nil
}

// memoryEstimate asks MEMORY USAGE about the sampled keys and extrapolates.
// A server that refuses MEMORY USAGE (some managed services do) yields an
// error note, not a failed command.
func memoryEstimate(ctx context.Context, c valkey.Client, keys []string, clients int64) Memory {
	m := Memory{Estimate: true}
	if len(keys) == 0 {
		return m
	}
	sizes, err := doPerKey(ctx, c, keys, func(k string) valkey.Completed {
		return c.B().MemoryUsage().Key(k).Build()
	}, func(r valkey.ValkeyResult) (int64, error) {
		n, err := r.AsInt64()
		if valkey.IsValkeyNil(err) {
			return -1, nil // expired since the scan
		}
		return n, err
	})
	if err != nil {
		m.Error = wrapErr(ctx, "MEMORY USAGE", err).Error()
		return m
	}
	var sum int64
	for _, s := range sizes {
		if s >= 0 {
			sum += s
			m.SampledKeys++
		}
	}
	if m.SampledKeys > 0 {
		m.EstimatedBytes = sum * clients / int64(m.SampledKeys)
	}
	return m
}
