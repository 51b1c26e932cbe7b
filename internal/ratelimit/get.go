package ratelimit

import (
	"context"
	"time"

	"github.com/valkey-io/valkey-go"
)

// Missing is a client that has no counter (no hits in the current window).
type Missing struct {
	Query     string `json:"query"`
	Client    string `json:"client"`
	Key       string `json:"key"`
	KeyBase64 string `json:"key_base64,omitempty"`
}

// GetResult is the JSON document of `limits get`.
type GetResult struct {
	Limiter   LimiterInfo `json:"limiter"`
	Clients   []Record    `json:"clients"`
	NotFound  []Missing   `json:"not_found"`
	Anomalies []Anomaly   `json:"anomalies"`
}

// Get reads the counters of the given clients with one pipeline of GET and
// PTTL per key. c routes each command to its node (valkey-go's cluster client
// does). Clients that map to the same key are reported once, under the first.
func Get(ctx context.Context, c valkey.Client, l Limiter, clients []string, now func() time.Time) (GetResult, error) {
	res := GetResult{Limiter: l.Info(), Clients: []Record{}, NotFound: []Missing{}, Anomalies: []Anomaly{}}
	if err := l.Validate(); err != nil {
		return res, err
	}
	if now == nil {
		now = time.Now
	}
	keys, queries := clientKeys(l, clients)
	if len(keys) == 0 {
		return res, nil
	}
	cmds := make(valkey.Commands, 0, 2*len(keys))
	for _, k := range keys {
		cmds = append(cmds, c.B().Get().Key(k).Build(), c.B().Pttl().Key(k).Build())
	}
	replies := c.DoMulti(ctx, cmds...)
	t := now()
	windowMS := l.WindowMS()
	for i, k := range keys {
		rec, problem, ok, err := classify(l, k, replies[2*i], replies[2*i+1], windowMS, t)
		switch {
		case err != nil:
			return res, wrapErr(ctx, "GET/PTTL", err)
		case problem != "":
			res.Anomalies = append(res.Anomalies, newAnomaly(k, problem))
		case ok:
			r := rec.record(l)
			r.Query = queries[i]
			res.Clients = append(res.Clients, r)
		default:
			res.NotFound = append(res.NotFound, Missing{Query: queries[i], Client: ClientOf(l, k), Key: k, KeyBase64: KeyBase64(k)})
		}
	}
	return res, nil
}

// clientKeys derives each client's key (KeyFor); clients that map to the
// same key are kept once, under the first. queries are the clients kept.
func clientKeys(l Limiter, clients []string) (keys, queries []string) {
	seen := make(map[string]bool, len(clients))
	for _, q := range clients {
		k := KeyFor(l, q)
		if seen[k] {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
		queries = append(queries, q)
	}
	return keys, queries
}
