package ratelimit

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/backoff"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// SortRate ranks a watch's clients by rate_per_s (then by hits).
const SortRate = "rate"

// Kinds of a watch's records (JSON "kind").
const (
	WatchRoundKind = "round"
	WatchGapKind   = "gap"
)

// WatchOptions controls `limits list --watch`.
type WatchOptions struct {
	List ListOptions // Sort may also be SortRate
	// Interval is the time from the start of one round to the start of the
	// next; a scan that takes longer stretches it to the scan's duration.
	Interval time.Duration
	// Rounds ends the watch after this many rounds (0: until ctx ends).
	Rounds int
	// Primaries lists the primaries again after a round failed (the
	// deployment may have failed over); nil keeps the first ones.
	Primaries func(ctx context.Context) ([]valkeyclient.Node, error)
	// BackoffMin and BackoffMax bound the wait between failed rounds
	// (defaults 200ms and 5s).
	BackoffMin, BackoffMax time.Duration
	// Sleep waits (nil: a timer); tests may speed it up.
	Sleep func(ctx context.Context, d time.Duration) bool
}

// WatchRound is one round's list document: the list of that round plus its
// time, number and each client's rate.
type WatchRound struct {
	Kind  string    `json:"kind"` // "round"
	Time  time.Time `json:"time"`
	Round int       `json:"round"`
	// ElapsedMS is the time since the previous round started (the span of
	// the rates; 0 in the first round, which has no rates).
	ElapsedMS int64 `json:"elapsed_ms"`
	ScanMS    int64 `json:"scan_ms"`
	ListResult
}

// WatchGap is a span during which the server could not be read; the round
// after it carries rates over the whole gap.
type WatchGap struct {
	Kind  string    `json:"kind"` // "gap"
	Time  time.Time `json:"time"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Error string    `json:"error"`
}

// WatchEvent is what Watch hands the caller, in order: a round, the
// connection lost (Lost set), a gap closed (Gap set), or the notice that
// the scan outlasts the interval (Slow set, once).
type WatchEvent struct {
	Round *WatchRound
	Gap   *WatchGap
	Lost  error         // the round failed; Watch keeps trying
	Slow  time.Duration // the scan took this long, more than the interval
}

// WatchSummary is what a watch did, for the line printed when it ends.
type WatchSummary struct {
	Rounds   int
	Gaps     int
	Duration time.Duration
}

// Watch runs rounds of List's scan until ctx ends (then it returns a nil
// error) or o.Rounds rounds are done, handing each round to emit. Each
// client's rate_per_s is (hits - previous hits) / elapsed since the previous
// round; a counter that was not there, or whose hits fell (it expired and
// started again), counts from 0. Memory holds the previous hits of every
// counter in 8 bytes a slot (see rateTable) plus the top N, however many
// keys there are. A round that fails after the first is reported (Lost),
// retried with backoff, and the gap reported once a round succeeds again;
// an authentication or configuration error ends the watch.
func Watch(ctx context.Context, primaries []valkeyclient.Node, l Limiter, o WatchOptions, emit func(WatchEvent) error) (WatchSummary, error) {
	var sum WatchSummary
	if _, err := watchLess(o.List.Sort); err != nil {
		return sum, apperr.Usagef("%v", err)
	}
	if o.Interval <= 0 {
		return sum, apperr.Usagef("--interval must be positive, got %s", o.Interval)
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 200 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = backoff.Sleep
	}
	now := o.List.Scan.Now
	if now == nil {
		now = time.Now
	}
	began := now()
	defer func() { sum.Duration = now().Sub(began) }()
	// Sized for the keys the servers hold, so the first round does not
	// grow the table a dozen times while it scans.
	table := newRateTableFor(keysHint(ctx, primaries))
	var (
		prevStart time.Time
		slowSaid  bool
		lostAt    time.Time
		lostErr   error
		attempt   int
	)
	for o.Rounds == 0 || sum.Rounds < o.Rounds {
		start := now()
		res, err := watchRound(ctx, primaries, l, o.List, table, start, prevStart)
		took := now().Sub(start)
		if ctx.Err() != nil {
			return sum, nil
		}
		if err != nil {
			if sum.Rounds == 0 || fatal(err) {
				return sum, err
			}
			if lostAt.IsZero() {
				lostAt, lostErr = start, err
				if e := emit(WatchEvent{Lost: err}); e != nil {
					return sum, e
				}
			}
			attempt++
			if !o.Sleep(ctx, backoff.Delay(o.BackoffMin, o.BackoffMax, attempt)) {
				return sum, nil
			}
			if o.Primaries != nil {
				if p, err := o.Primaries(ctx); err == nil {
					primaries = p
				}
			}
			continue
		}
		if !lostAt.IsZero() {
			sum.Gaps++
			gap := &WatchGap{Kind: WatchGapKind, Time: start.UTC(), From: lostAt.UTC(), To: start.UTC(), Error: lostErr.Error()}
			if e := emit(WatchEvent{Gap: gap}); e != nil {
				return sum, e
			}
			lostAt, lostErr, attempt = time.Time{}, nil, 0
		}
		sum.Rounds++
		res.Round = sum.Rounds
		res.ScanMS = took.Milliseconds()
		if e := emit(WatchEvent{Round: res}); e != nil {
			return sum, e
		}
		prevStart = start
		if took > o.Interval && !slowSaid {
			slowSaid = true
			if e := emit(WatchEvent{Slow: took}); e != nil {
				return sum, e
			}
		}
		if o.Rounds > 0 && sum.Rounds >= o.Rounds {
			break
		}
		if wait := o.Interval - took; wait > 0 && !o.Sleep(ctx, wait) {
			return sum, nil
		}
	}
	return sum, nil
}

// watchRound scans once, computing each counter's rate against table.
func watchRound(ctx context.Context, primaries []valkeyclient.Node, l Limiter, o ListOptions, table *rateTable, start, prevStart time.Time) (*WatchRound, error) {
	less, _ := watchLess(o.Sort)
	res := &WatchRound{Kind: WatchRoundKind, Time: start.UTC(), ListResult: ListResult{Limiter: l.Info()}}
	var secs float64
	if !prevStart.IsZero() {
		res.ElapsedMS = start.Sub(prevStart).Milliseconds()
		// The rate is over exactly the elapsed_ms reported, so a script
		// that divides the increase by it gets the same number.
		secs = float64(res.ElapsedMS) / 1000
	}
	top := newTopN(o.Top, less, counterKey)
	anoms := newAnomalySet()
	table.start()
	var err error
	res.ScannedKeys, err = scan(ctx, primaries, l, o.Scan, func(b *scanBatch) {
		for i := range b.counters {
			c := b.counters[i]
			inc, repeat := table.increase(c.key, c.hits)
			if repeat {
				continue // SCAN returned it twice: the first reading stands
			}
			c.rate = -1
			if secs > 0 {
				c.rate = float64(inc) / secs
			}
			if (o.BlockedOnly && !c.blocked(l)) || c.hits < o.MinHits {
				continue
			}
			res.MatchedClients++
			top.add(c)
		}
		anoms.add(b.anomalies)
	})
	if err != nil {
		table.abort()
		return nil, err
	}
	table.sweep()
	cs := top.sorted()
	res.Clients = records(l, cs)
	for i := range cs {
		if cs[i].rate >= 0 {
			r := math.Round(cs[i].rate*100) / 100
			res.Clients[i].RatePerS = &r
		}
	}
	res.Anomalies, res.AnomalyCount = anoms.result()
	return res, nil
}

// watchLess is lessFunc with SortRate added.
func watchLess(order string) (func(a, b *counter) bool, error) {
	if order != SortRate {
		return lessFunc(order)
	}
	return func(a, b *counter) bool {
		if a.rate != b.rate {
			return a.rate > b.rate
		}
		if a.hits != b.hits {
			return a.hits > b.hits
		}
		return a.key < b.key
	}, nil
}

// fatal reports errors another round will not fix: authentication and
// configuration.
func fatal(err error) bool {
	code, kind := apperr.Classify(err)
	return code == apperr.ExitUsage || kind == apperr.KindAuth || kind == apperr.KindInternal
}

// Describe is the one-line summary of a watch.
func (s WatchSummary) Describe() string {
	msg := fmt.Sprintf("watch: %d round(s) in %s", s.Rounds, s.Duration.Round(time.Millisecond))
	if s.Gaps > 0 {
		msg += fmt.Sprintf("; %d gap(s) while the server could not be read", s.Gaps)
	}
	return msg
}

// keysHint is how many keys the primaries hold (DBSIZE), 0 when unknown: a
// bound on the counters a round can see.
func keysHint(ctx context.Context, primaries []valkeyclient.Node) int {
	n := 0
	for _, p := range primaries {
		if p.Client == nil {
			continue
		}
		if k, err := p.Client.Do(ctx, p.Client.B().Dbsize().Build()).AsInt64(); err == nil && k > 0 {
			n += int(k)
		}
	}
	return min(n, 1<<23) // a hint: past 8M keys the table grows as it needs
}
