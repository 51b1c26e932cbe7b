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
//
// A round's totals are kept per check and become the baseline only when
// that check's outcome was reported: the Runner drops (Drop) the totals of
// a check that timed out or panicked, whose findings nobody saw, so that
// their growth is reported the next round instead of never.
type Counters struct {
	mu      sync.Mutex
	prev    map[string]int64            // totals of the last rounds
	cur     map[string]map[string]int64 // totals of this round, per check
	dropped map[string]bool             // checks whose totals of this round are dropped
	round   int
}

// NewCounters returns an empty Counters: its first round has no baseline.
func NewCounters() *Counters {
	return &Counters{prev: map[string]int64{}, cur: map[string]map[string]int64{}, dropped: map[string]bool{}, round: 1}
}

// Next ends a round: the totals of the checks not dropped become the next
// round's baseline. A counter not read this round (its check failed to
// connect, timed out or panicked) keeps its old baseline.
func (c *Counters) Next() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for check, totals := range c.cur {
		if c.dropped[check] {
			continue
		}
		for k, v := range totals {
			c.prev[k] = v
		}
	}
	c.cur = map[string]map[string]int64{}
	c.dropped = map[string]bool{}
	c.round++
}

// Drop forgets the totals check recorded in round (see Round) and whatever
// it records later in that round: its outcome was not reported.
func (c *Counters) Drop(check string, round int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if round != c.round {
		return
	}
	delete(c.cur, check)
	c.dropped[check] = true
}

// Round is the number of the current round (1 first).
func (c *Counters) Round() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.round
}

// since records total under key for check in round and returns how many
// are new: total on the first round or for a key never seen, else the
// growth since the last round. A total below the last one (the server
// restarted, or a failover put another one in its place) counts from zero.
// A total recorded late (its round is over) or for a dropped check is not
// kept.
func (c *Counters) since(check string, round int, key string, total int64) (n int64, first bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if round == c.round && !c.dropped[check] {
		if c.cur[check] == nil {
			c.cur[check] = map[string]int64{}
		}
		c.cur[check][key] = total
	}
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

// slot is where one check's run records its totals: the check and the round.
type slot struct {
	c     *Counters
	check string
	round int
}

type slotKey struct{}

// WithCounters returns ctx carrying c, for the probes of one watch round.
func WithCounters(ctx context.Context, c *Counters) context.Context {
	return context.WithValue(ctx, countersKey{}, c)
}

// forCheck returns ctx in which check's probe records its totals in the
// current round of the Counters ctx carries, and that slot (nil without
// Counters). The Runner calls it for each check.
func forCheck(ctx context.Context, check string) (context.Context, *slot) {
	c, _ := ctx.Value(countersKey{}).(*Counters)
	if c == nil {
		return ctx, nil
	}
	s := &slot{c: c, check: check, round: c.Round()}
	return context.WithValue(ctx, slotKey{}, s), s
}

// New is how many of a counter's total are worth reporting now, and the
// words that say since when: "since the server started" in a single run or
// a watch's first round, "since the last round" after it. key names the
// counter uniquely (check, node, counter name).
func New(ctx context.Context, key string, total int64) (n int64, since string) {
	s, _ := ctx.Value(slotKey{}).(*slot)
	if s == nil {
		// Outside a Runner (a probe run by hand): the round's, as no check.
		if c, _ := ctx.Value(countersKey{}).(*Counters); c != nil {
			s = &slot{c: c, round: c.Round()}
		}
	}
	if s == nil {
		return total, "since the server started"
	}
	n, first := s.c.since(s.check, s.round, key, total)
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

// drop drops the slot's check's totals of its round (nil: nothing to do).
func (s *slot) drop() {
	if s != nil {
		s.c.Drop(s.check, s.round)
	}
}
