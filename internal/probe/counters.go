package probe

import (
	"context"
	"fmt"
	"sync"
)

// Counters carries the totals of the server's ever-growing counters
// (evicted keys, rejected connections, output-buffer disconnections, OOM
// errors, ...) from one round of `health --watch` to the next, so that a
// round reports what is new since the last one rather than everything since
// the server started, which would warn forever about one old eviction.
//
// The watch loop makes one Counters, puts it in every round's context
// (WithCounters) and calls Next between rounds; a probe reports each counter
// through findings.counter. Without Counters (a single run) totals are
// reported as they are.
type Counters struct {
	mu    sync.Mutex
	prev  map[string]int64 // totals of the last round
	cur   map[string]int64 // totals of this round
	round int
}

// NewCounters returns an empty Counters: its first round has no baseline.
func NewCounters() *Counters {
	return &Counters{prev: map[string]int64{}, cur: map[string]int64{}, round: 1}
}

// Next ends a round: its totals become the next round's baseline. A counter
// not read this round (its check failed to connect) keeps its old baseline.
func (c *Counters) Next() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.cur {
		c.prev[k] = v
	}
	c.cur = map[string]int64{}
	c.round++
}

// since records total under key and returns how many are new: total on the
// first round or for a key never seen, else the growth since the last round.
// A total below the last one (the server restarted, or a failover put
// another one in its place) counts from zero.
func (c *Counters) since(key string, total int64) (n int64, first bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur[key] = total
	prev, ok := c.prev[key]
	if c.round == 1 || !ok {
		return total, true
	}
	if total < prev {
		return total, false
	}
	return total - prev, false
}

type countersKey struct{}

// WithCounters returns ctx carrying c, for the probes of one watch round.
func WithCounters(ctx context.Context, c *Counters) context.Context {
	return context.WithValue(ctx, countersKey{}, c)
}

// New is how many of a counter's total are worth reporting now, and the
// words that say since when: "since the server started" in a single run or
// a watch's first round, "since the last round" after it. key names the
// counter uniquely (check, node, counter name).
func New(ctx context.Context, key string, total int64) (n int64, since string) {
	c, _ := ctx.Value(countersKey{}).(*Counters)
	if c == nil {
		return total, "since the server started"
	}
	n, first := c.since(key, total)
	if first {
		return n, "since the server started"
	}
	return n, "since the last round"
}

// counter warns "<n> <what> <since>" when a counter has news (see New);
// what is the plural noun phrase ("keys evicted").
func (f *findings) counter(ctx context.Context, key, label string, total int64, what string) {
	if n, since := New(ctx, key, total); n > 0 {
		f.warn("%s%s", label, fmt.Sprintf("%d %s %s", n, what, since))
	}
}
