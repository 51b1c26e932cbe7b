package ratelimit

import (
	"context"
	"strings"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// MaxAnomalies is how many anomalies a listing keeps (the first ones in key
// order); AnomalyCount still counts them all.
const MaxAnomalies = 1000

// LimiterInfo is the limiter as JSON shows it.
type LimiterInfo struct {
	Name     string `json:"name"`
	Prefix   string `json:"prefix"`
	Limit    int64  `json:"limit"`
	WindowMS int64  `json:"window_ms"`
}

// Info describes l for output.
func (l Limiter) Info() LimiterInfo {
	return LimiterInfo{Name: l.Name, Prefix: l.Prefix, Limit: l.Limit, WindowMS: l.WindowMS()}
}

// ListOptions selects and orders the clients of a listing.
type ListOptions struct {
	Scan        ScanOptions
	Top         int    // keep the first Top clients; 0 keeps all
	Sort        string // SortHits (default), SortTTL or SortClient
	BlockedOnly bool
	MinHits     int64
}

// ListResult is the JSON document of `limits list`.
type ListResult struct {
	Limiter     LimiterInfo `json:"limiter"`
	ScannedKeys int64       `json:"scanned_keys"`
	Clients     []Record    `json:"clients"`
	Anomalies   []Anomaly   `json:"anomalies"`
	// MatchedClients counts every client that passed the filters, before --top.
	MatchedClients int64 `json:"matched_clients"`
	// AnomalyCount counts every anomaly; Anomalies keeps the first MaxAnomalies.
	AnomalyCount int64 `json:"anomaly_count"`
}

// List scans every primary for l's counters and returns the first Top
// clients in the requested order. Memory stays bounded by Top (and
// MaxAnomalies) however many keys there are.
func List(ctx context.Context, primaries []valkeyclient.Node, l Limiter, o ListOptions) (ListResult, error) {
	less, err := lessFunc(o.Sort)
	if err != nil {
		return ListResult{}, apperr.Usagef("%v", err)
	}
	if o.Top < 0 {
		return ListResult{}, apperr.Usagef("--top must be 0 (all) or more, got %d", o.Top)
	}
	res := ListResult{Limiter: l.Info()}
	top := newTopN(o.Top, less, counterKey)
	anoms := newAnomalySet()
	res.ScannedKeys, err = scan(ctx, primaries, l, o.Scan, func(b *scanBatch) {
		for i := range b.counters {
			c := &b.counters[i]
			if (o.BlockedOnly && !c.blocked(l)) || c.hits < o.MinHits {
				continue
			}
			res.MatchedClients++
			top.add(*c)
		}
		anoms.add(b.anomalies)
	})
	if err != nil {
		return ListResult{}, err
	}
	res.Clients = records(l, top.sorted())
	res.Anomalies, res.AnomalyCount = anoms.result()
	return res, nil
}

func counterKey(c *counter) string { return c.key }
func anomalyKey(a *Anomaly) string { return a.Key }

// anomalySet keeps the first MaxAnomalies anomalies in key order.
type anomalySet struct {
	top   *topN[Anomaly]
	count int64
}

func newAnomalySet() *anomalySet {
	return &anomalySet{top: newTopN(MaxAnomalies, func(a, b *Anomaly) bool { return strings.Compare(a.Key, b.Key) < 0 }, anomalyKey)}
}

func (s *anomalySet) add(as []Anomaly) {
	for _, a := range as {
		s.count++
		s.top.add(a)
	}
}

func (s *anomalySet) result() ([]Anomaly, int64) { return s.top.sorted(), s.count }
