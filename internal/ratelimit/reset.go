package ratelimit

import (
	"context"
	"sort"
	"sync"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
	"github.com/valkey-io/valkey-go"
)

// resetBatch is the number of UNLINK commands in one pipeline, and
// resetInflight how many such pipelines are on the wire at once.
const (
	resetBatch    = 1000
	resetInflight = 4
)

// ResetResult is the JSON document of `limits reset`.
type ResetResult struct {
	DryRun   bool     `json:"dry_run"`
	Deleted  []string `json:"deleted"`   // deleted, or would be with dry_run
	NotFound []string `json:"not_found"` // no such key (the client has no hits)
	// Skipped lists keys that exist under the prefix but are not strings
	// (a hash, set, stream, ...): they are not counters and are never deleted.
	Skipped []Anomaly `json:"skipped"`
	// Unknown lists keys whose UNLINK was sent but whose answer never came
	// (the connection dropped): each may or may not be deleted. Only an
	// interrupted reset has any; it is reported on stderr, not in JSON.
	Unknown []string `json:"-"`
}

func newResetResult(dryRun bool) ResetResult {
	return ResetResult{DryRun: dryRun, Deleted: []string{}, NotFound: []string{}, Skipped: []Anomaly{}}
}

// Reset deletes the named counters of l: exactly these keys, each by its
// exact bytes, one UNLINK per key (never a multi-key command, so a cluster
// routes each key to its node), pipelined. Every key must carry l's prefix.
// A key that exists but is not a string is skipped. With dryRun nothing is
// deleted and Deleted lists what would be.
func Reset(ctx context.Context, c valkey.Client, l Limiter, keys []string, dryRun bool) (ResetResult, error) {
	res := newResetResult(dryRun)
	if err := l.Validate(); err != nil {
		return res, err
	}
	keys = dedupe(keys)
	for _, k := range keys {
		if !l.HasPrefix(k) {
			return res, apperr.Usagef("key %s is not a counter of limiter %q (prefix %q); nothing was deleted", Printable(k), l.Name, l.Prefix)
		}
	}
	types, err := doPerKey(ctx, c, keys, func(k string) valkey.Completed { return c.B().Type().Key(k).Build() },
		func(r valkey.ValkeyResult) (int64, error) {
			t, err := r.ToString()
			switch {
			case err != nil:
				return 0, err
			case t == "none":
				return 0, nil
			case t == "string":
				return 1, nil
			}
			return 2, nil
		})
	if err != nil {
		return res, wrapErr(ctx, "TYPE", err)
	}
	var targets []string
	for i, k := range keys {
		switch types[i] {
		case 0:
			res.NotFound = append(res.NotFound, k)
		case 1:
			targets = append(targets, k)
		default:
			res.Skipped = append(res.Skipped, newAnomaly(k, ProblemWrongType))
		}
	}
	if dryRun {
		res.Deleted = append(res.Deleted, targets...)
		return res, nil
	}
	del, err := ResetFound(ctx, c, targets, false)
	res.Deleted = del.Deleted
	res.NotFound = append(res.NotFound, del.NotFound...)
	return res, err
}

// ResetFound unlinks exactly the given keys, which a scan of the limiter has
// just found to be counters, without re-checking them: one UNLINK per key,
// pipelined, several pipelines in flight. A key that expired since the scan
// is reported in NotFound.
func ResetFound(ctx context.Context, c valkey.Client, keys []string, dryRun bool) (ResetResult, error) {
	res := newResetResult(dryRun)
	if dryRun {
		res.Deleted = append(res.Deleted, keys...)
		return res, nil
	}
	n, err := doPerKey(ctx, c, keys, func(k string) valkey.Completed { return c.B().Unlink().Key(k).Build() },
		func(r valkey.ValkeyResult) (int64, error) { return r.AsInt64() })
	for i, k := range keys {
		if i >= len(n) {
			break
		}
		switch n[i] {
		case 1:
			res.Deleted = append(res.Deleted, k)
		case 0:
			res.NotFound = append(res.NotFound, k)
		case sentNoAnswer:
			res.Unknown = append(res.Unknown, k)
		}
	}
	if err != nil {
		return res, wrapErr(ctx, "UNLINK", err)
	}
	return res, nil
}

// Values doPerKey leaves for keys without a parsed answer.
const (
	notSent      = -1 // never sent: certainly not done
	sentNoAnswer = -2 // sent, but the answer was an error (or never came)
)

// doPerKey sends one command per key in pipelines of resetBatch commands,
// resetInflight pipelines at a time, and returns parse(reply) per key. On
// error a key's value is notSent or sentNoAnswer.
func doPerKey(ctx context.Context, c valkey.Client, keys []string, build func(string) valkey.Completed, parse func(valkey.ValkeyResult) (int64, error)) ([]int64, error) {
	out := make([]int64, len(keys))
	for i := range out {
		out[i] = notSent
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		first   error
		sem     = make(chan struct{}, resetInflight)
		setErr  = func(err error) { mu.Lock(); first = cmpErr(first, err); mu.Unlock() }
		failed  = func() bool { mu.Lock(); defer mu.Unlock(); return first != nil }
		rangeOf = func(i int) (int, int) { return i, min(i+resetBatch, len(keys)) }
	)
	for i := 0; i < len(keys) && !failed(); i += resetBatch {
		lo, hi := rangeOf(i)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			setErr(ctx.Err())
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer recoverTo(setErr)
			cmds := make(valkey.Commands, 0, hi-lo)
			for j, k := range keys[lo:hi] {
				cmds = append(cmds, build(k))
				out[lo+j] = sentNoAnswer
			}
			for j, r := range c.DoMulti(ctx, cmds...) {
				v, err := parse(r)
				if err != nil {
					setErr(err)
					continue
				}
				out[lo+j] = v
			}
		}()
	}
	wg.Wait()
	return out, first
}

func cmpErr(prev, err error) error {
	if prev != nil {
		return prev
	}
	return err
}

func dedupe(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// Selection is what a bulk reset found: every counter of the limiter (or
// every blocked one), plus a sample for the confirmation prompt.
type Selection struct {
	Limiter     LimiterInfo
	ScannedKeys int64
	Keys        []string // exactly the keys to delete, in byte order
	Sample      []Record // up to SampleSize of them, most hits first
}

// SampleSize is how many records a Selection shows.
const SampleSize = 10

// SelectBulk scans l and returns the keys a bulk reset deletes: every valid
// counter (anomalies and other types never), or with blockedOnly only the
// clients over the limit. Memory grows with the number of selected keys.
func SelectBulk(ctx context.Context, primaries []valkeyclient.Node, l Limiter, blockedOnly bool, o ScanOptions) (Selection, error) {
	sel := Selection{Limiter: l.Info(), Keys: []string{}}
	less, _ := lessFunc(SortHits)
	sample := newTopN(SampleSize, less, counterKey)
	seen := make(map[string]struct{})
	var err error
	sel.ScannedKeys, err = scan(ctx, primaries, l, o, func(b *scanBatch) {
		for _, c := range b.counters {
			if blockedOnly && !c.blocked(l) {
				continue
			}
			if _, dup := seen[c.key]; dup {
				continue
			}
			seen[c.key] = struct{}{}
			sel.Keys = append(sel.Keys, c.key)
			sample.add(c)
		}
	})
	if err != nil {
		return Selection{}, err
	}
	sort.Strings(sel.Keys) // deterministic output; deletion order does not matter
	sel.Sample = records(l, sample.sorted())
	return sel, nil
}

// ResetBulk is SelectBulk and ResetFound at once, for a bulk reset that
// needs no confirmation (--yes): each batch of selected counters is unlinked
// as soon as the scan has found it, so deleting overlaps scanning. It
// deletes exactly the counters the scan found (one UNLINK per key, through c,
// which routes each key to its node), nothing else. On error the result
// holds what was deleted before it.
func ResetBulk(ctx context.Context, c valkey.Client, primaries []valkeyclient.Node, l Limiter, blockedOnly bool, o ScanOptions) (Selection, ResetResult, error) {
	sel := Selection{Limiter: l.Info(), Keys: []string{}}
	res := newResetResult(false)
	less, _ := lessFunc(SortHits)
	sample := newTopN(SampleSize, less, counterKey)
	seen := make(map[string]struct{})
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		delErr  error
		sem     = make(chan struct{}, resetInflight)
		deleted []string
		missing []string
		unknown []string
	)
	unlink := func(keys []string) {
		defer wg.Done()
		defer func() { <-sem }()
		r, err := ResetFound(ctx, c, keys, false)
		mu.Lock()
		defer mu.Unlock()
		deleted = append(deleted, r.Deleted...)
		missing = append(missing, r.NotFound...)
		unknown = append(unknown, r.Unknown...)
		delErr = cmpErr(delErr, err)
	}
	var err error
	sel.ScannedKeys, err = scan(ctx, primaries, l, o, func(b *scanBatch) {
		var keys []string
		for _, cn := range b.counters {
			if blockedOnly && !cn.blocked(l) {
				continue
			}
			if _, dup := seen[cn.key]; dup {
				continue
			}
			seen[cn.key] = struct{}{}
			keys = append(keys, cn.key)
			sample.add(cn)
		}
		if len(keys) == 0 {
			return
		}
		sel.Keys = append(sel.Keys, keys...)
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go unlink(keys)
	})
	wg.Wait()
	sort.Strings(sel.Keys)
	sel.Sample = records(l, sample.sorted())
	sort.Strings(deleted)
	sort.Strings(missing)
	res.Deleted = append(res.Deleted, deleted...)
	res.NotFound = append(res.NotFound, missing...)
	res.Unknown = unknown
	if err == nil {
		err = delErr
	}
	return sel, res, err
}
