package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/valkey-io/valkey-go"
)

// ProblemChanged: the key kept changing while a confirmed reset tried to
// delete it, so it was left alone.
const ProblemChanged = "changed_during_reset"

// checkedGroup bounds the keys of one WATCH (each group is one round trip
// to check and one to delete).
const checkedGroup = 256

// checkedTries bounds how often a group is checked again after another
// client changed one of its keys between the check and the delete.
const checkedTries = 5

// ResetChecked unlinks those of keys that are still strings when they are
// deleted: for a reset confirmed after a prompt, when minutes may have
// passed since the scan found them to be counters. Without scripting, per
// group of keys in one hash slot: WATCH the keys, TYPE each, then MULTI,
// UNLINK the strings, EXEC. A key that changed in between makes EXEC do
// nothing, and the group is checked again. A key that is gone is NotFound;
// one of another type is Skipped (wrong_type), never deleted.
func ResetChecked(ctx context.Context, c valkey.Client, keys []string, cluster bool) (ResetResult, error) {
	res := newResetResult(false)
	groups := [][]string{}
	if cluster {
		groups = slotGroups(dedupe(keys), checkedGroup)
	} else {
		for k := dedupe(keys); len(k) > 0; {
			n := min(checkedGroup, len(k))
			groups = append(groups, k[:n:n])
			k = k[n:]
		}
	}
	var mu sync.Mutex
	first := eachBounded(ctx, len(groups), resetInflight, func(i int) error {
		g := groups[i]
		var part ResetResult
		var err error
		for try := 0; ; try++ {
			part = newResetResult(false)
			var done bool
			err = c.Dedicated(func(dc valkey.DedicatedClient) error {
				var e error
				done, e = checkAndUnlink(ctx, dc, g, &part)
				return e
			})
			if err != nil || done {
				break
			}
			if try == checkedTries-1 {
				for _, k := range g {
					part.Skipped = append(part.Skipped, newAnomaly(k, ProblemChanged))
				}
				break
			}
		}
		mu.Lock()
		defer mu.Unlock()
		res.Deleted = append(res.Deleted, part.Deleted...)
		res.NotFound = append(res.NotFound, part.NotFound...)
		res.Skipped = append(res.Skipped, part.Skipped...)
		return err // the EXEC may have run before its answer was lost
	})
	sort.Strings(res.Deleted)
	sort.Strings(res.NotFound)
	sort.Slice(res.Skipped, func(i, j int) bool { return res.Skipped[i].Key < res.Skipped[j].Key })
	if first != nil {
		return res, wrapErr(ctx, "UNLINK", first)
	}
	return res, nil
}

// checkAndUnlink runs one WATCH, TYPE, MULTI, UNLINK, EXEC round for
// keys. done is false when EXEC was aborted (a key changed): nothing of
// this round was deleted and nothing is recorded.
func checkAndUnlink(ctx context.Context, dc valkey.DedicatedClient, keys []string, res *ResetResult) (done bool, err error) {
	cmds := make(valkey.Commands, 0, len(keys)+1)
	cmds = append(cmds, dc.B().Watch().Key(keys...).Build())
	for _, k := range keys {
		cmds = append(cmds, dc.B().Type().Key(k).Build())
	}
	rs := dc.DoMulti(ctx, cmds...)
	if err := rs[0].Error(); err != nil {
		return false, err
	}
	var strs, gone []string
	var other []Anomaly
	for i, k := range keys {
		t, err := rs[i+1].ToString()
		if err != nil {
			return false, err
		}
		switch t {
		case "none":
			gone = append(gone, k)
		case "string":
			strs = append(strs, k)
		default:
			other = append(other, newAnomaly(k, ProblemWrongType))
		}
	}
	if len(strs) > 0 {
		cmds = cmds[:0]
		cmds = append(cmds, dc.B().Multi().Build())
		for _, k := range strs {
			cmds = append(cmds, dc.B().Unlink().Key(k).Build())
		}
		cmds = append(cmds, dc.B().Exec().Build())
		rs = dc.DoMulti(ctx, cmds...)
		exec := rs[len(rs)-1]
		if valkey.IsValkeyNil(exec.Error()) {
			return false, nil // a watched key changed: check again
		}
		arr, err := exec.ToArray()
		if err != nil {
			return false, err
		}
		if len(arr) != len(strs) {
			return false, fmt.Errorf("EXEC answered %d results for %d UNLINKs", len(arr), len(strs))
		}
		for i, r := range arr {
			n, err := r.AsInt64()
			if err != nil {
				return false, err
			}
			if n == 1 {
				res.Deleted = append(res.Deleted, strs[i])
			} else {
				res.NotFound = append(res.NotFound, strs[i])
			}
		}
	} else if err := dc.Do(ctx, dc.B().Unwatch().Build()).Error(); err != nil && !errors.Is(err, context.Canceled) {
		return false, err
	}
	res.NotFound = append(res.NotFound, gone...)
	res.Skipped = append(res.Skipped, other...)
	return true, nil
}

// slotGroups splits keys into groups of at most n keys of one hash slot
// each (a WATCH or MULTI on a cluster node may only name keys of one slot),
// keeping the keys' order within a group.
func slotGroups(keys []string, n int) [][]string {
	bySlot := map[uint16][]string{}
	var order []uint16
	for _, k := range keys {
		s := HashSlot(k)
		if _, ok := bySlot[s]; !ok {
			order = append(order, s)
		}
		bySlot[s] = append(bySlot[s], k)
	}
	var out [][]string
	for _, s := range order {
		g := bySlot[s]
		for len(g) > n {
			out = append(out, g[:n:n])
			g = g[n:]
		}
		out = append(out, g)
	}
	return out
}

// eachBounded runs fn(0..n-1), at most limit at once, and returns the
// first error (or ctx's, when it ended first); a panic in fn becomes an
// internal error. Once ctx ends no more calls start.
func eachBounded(ctx context.Context, n, limit int, fn func(i int) error) error {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
		sem   = make(chan struct{}, limit)
	)
	setErr := func(err error) { mu.Lock(); first = cmpErr(first, err); mu.Unlock() }
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer recoverTo(setErr)
			if err := fn(i); err != nil {
				setErr(err)
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
