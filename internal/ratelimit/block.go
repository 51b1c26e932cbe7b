package ratelimit

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/valkey-io/valkey-go"
)

// blockTries bounds how often one key's WATCH/MULTI/EXEC round is run
// again after another client (the API itself) changed the key in between;
// then one round without WATCH writes the block (see blockRound).
const blockTries = 5

// blockInflight is how many keys are blocked at once.
const blockInflight = 8

// BlockOptions says how long a block lasts and whether to write it.
type BlockOptions struct {
	// For is the least time the block lasts (0: the limiter's window). A
	// longer expiry the counter already has is kept.
	For    time.Duration
	DryRun bool
	Now    func() time.Time
}

// Blocked is one client's counter after a block (or as a dry run would
// leave it).
type Blocked struct {
	Client    string    `json:"client"`
	Key       string    `json:"key"`
	KeyBase64 string    `json:"key_base64,omitempty"`
	Hits      int64     `json:"hits"`
	ResetInMS int64     `json:"reset_in_ms"`
	ResetsAt  time.Time `json:"resets_at"`
	// Query is the argument that named this client.
	Query string `json:"query,omitempty"`
	// Unchanged is set when the counter already blocked the client for at
	// least as long: nothing was written.
	Unchanged bool `json:"unchanged,omitempty"`
}

// BlockResult is the JSON document of `limits block`.
type BlockResult struct {
	DryRun  bool      `json:"dry_run"`
	Blocked []Blocked `json:"blocked"`
	// Skipped lists keys that exist but are not counters (another type, a
	// value that is not an integer): they are left alone.
	Skipped []Anomaly `json:"skipped"`
}

// Block makes the API itself refuse each client until the block ends: per
// client, its counter (keyed exactly as KeyFor derives it) becomes
// max(hits, limit+1) with an expiry of max(PTTL, For). It writes without
// scripting, per key on a connection of its own (valkey-go's Dedicated,
// which a cluster client routes to the key's primary): WATCH, GET and PTTL,
// then MULTI, the write, EXEC; EXEC does nothing when the API counted a hit
// in between, and the round runs again (see blockKey). A higher count is
// never lowered and a longer expiry never shortened. No other key is read
// or written.
func Block(ctx context.Context, c valkey.Client, l Limiter, clients []string, o BlockOptions) (BlockResult, error) {
	res := BlockResult{DryRun: o.DryRun, Blocked: []Blocked{}, Skipped: []Anomaly{}}
	if err := l.Validate(); err != nil {
		return res, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	forMS := o.For.Milliseconds()
	if forMS <= 0 {
		forMS = l.WindowMS()
	}
	keys, queries := clientKeys(l, clients)
	out := make([]blockOutcome, len(keys))
	first := eachBounded(ctx, len(keys), blockInflight, func(i int) error {
		r, err := blockKey(ctx, c, l, keys[i], forMS, o.DryRun)
		if err != nil {
			return fmt.Errorf("%s: %w", Printable(keys[i]), err)
		}
		out[i] = r
		return nil
	})
	now := o.Now()
	for i, r := range out {
		switch {
		case r.problem != "":
			res.Skipped = append(res.Skipped, newAnomaly(keys[i], r.problem))
		case r.done:
			res.Blocked = append(res.Blocked, Blocked{
				Client: ClientOf(l, keys[i]), Key: keys[i], KeyBase64: KeyBase64(keys[i]),
				Hits: r.hits, ResetInMS: r.pttl, ResetsAt: now.Add(time.Duration(r.pttl) * time.Millisecond).UTC(),
				Query: queries[i], Unchanged: r.unchanged,
			})
		}
	}
	sort.Slice(res.Skipped, func(i, j int) bool { return res.Skipped[i].Key < res.Skipped[j].Key })
	if first != nil {
		return res, wrapErr(ctx, "block", first)
	}
	return res, nil
}

// blockOutcome is what blocking one key did.
type blockOutcome struct {
	done      bool
	hits      int64
	pttl      int64 // the expiry after the block, in ms
	unchanged bool
	problem   string
}

// blockKey blocks one key: WATCH rounds while the key keeps changing (the
// API counting hits), then, if it never settles, one round without WATCH
// whose writes are safe against any interleaving (see blockRound).
func blockKey(ctx context.Context, c valkey.Client, l Limiter, key string, forMS int64, dryRun bool) (blockOutcome, error) {
	for try := 0; ; try++ {
		var r blockOutcome
		var retry bool
		watch := try < blockTries
		err := c.Dedicated(func(dc valkey.DedicatedClient) error {
			var e error
			r, retry, e = blockRound(ctx, dc, l, key, forMS, dryRun, watch)
			return e
		})
		if err != nil || !retry {
			return r, err
		}
	}
}

// blockRound reads the counter (under WATCH when watch is set), then writes
// the block in one MULTI/EXEC that also reads back the result. retry is
// set when EXEC was aborted because the key changed.
//
// The write only ever raises: a live counter gets INCRBY the missing hits
// (so hits the API counts in between add on top) and PEXPIRE only when its
// expiry is shorter than the block; a missing counter, or one without an
// expiry (which the library treats as a new window), gets SET limit+1 PX.
// Without WATCH the same writes still never lower a count or shorten an
// expiry the read saw.
func blockRound(ctx context.Context, dc valkey.DedicatedClient, l Limiter, key string, forMS int64, dryRun, watch bool) (r blockOutcome, retry bool, err error) {
	cmds := valkey.Commands{dc.B().Get().Key(key).Build(), dc.B().Pttl().Key(key).Build()}
	if watch {
		cmds = append(valkey.Commands{dc.B().Watch().Key(key).Build()}, cmds...)
	}
	rs := dc.DoMulti(ctx, cmds...)
	if watch {
		if err := rs[0].Error(); err != nil {
			return r, false, err
		}
		rs = rs[1:]
	}
	done := func(out blockOutcome) (blockOutcome, bool, error) {
		if watch {
			return out, false, unwatch(ctx, dc)
		}
		return out, false, nil
	}
	pttl, err := rs[1].AsInt64()
	if err != nil {
		return r, false, movedErr(key, err)
	}
	var hits int64
	val, err := rs[0].ToString()
	switch {
	case valkey.IsValkeyNil(err):
		pttl = -2 // gone, whatever PTTL said
	case isWrongType(err):
		return done(blockOutcome{problem: ProblemWrongType})
	case err != nil:
		return r, false, movedErr(key, err)
	default:
		v := parseValue([]byte(val))
		if v.state != valInt {
			return done(blockOutcome{problem: ProblemNotInteger})
		}
		hits = v.hits
	}
	fresh := pttl < 0
	if fresh {
		hits = 0
	}
	r = blockOutcome{done: true, hits: max(hits, l.Limit+1), pttl: max(pttl, forMS)}
	r.unchanged = !fresh && pttl >= forMS && hits == r.hits
	if dryRun || r.unchanged {
		return done(r)
	}
	write := valkey.Commands{dc.B().Multi().Build()}
	switch {
	case fresh:
		write = append(write, dc.B().Set().Key(key).Value(strconv.FormatInt(r.hits, 10)).Px(time.Duration(forMS)*time.Millisecond).Build())
	default:
		if r.hits > hits {
			write = append(write, dc.B().Incrby().Key(key).Increment(r.hits-hits).Build())
		}
		if pttl < forMS {
			write = append(write, dc.B().Pexpire().Key(key).Milliseconds(forMS).Build())
		}
	}
	write = append(write, dc.B().Get().Key(key).Build(), dc.B().Pttl().Key(key).Build(), dc.B().Exec().Build())
	rs = dc.DoMulti(ctx, write...)
	exec := rs[len(rs)-1]
	if valkey.IsValkeyNil(exec.Error()) {
		return r, true, nil // the API counted a hit meanwhile: read again
	}
	arr, err := exec.ToArray()
	if err != nil {
		return r, false, err
	}
	n := len(arr)
	if n < 2 {
		return r, false, fmt.Errorf("EXEC answered %d results", n)
	}
	for _, a := range arr {
		if err := a.Error(); err != nil {
			return r, false, err
		}
	}
	if r.hits, err = arr[n-2].AsInt64(); err != nil {
		return r, false, err
	}
	if r.pttl, err = arr[n-1].AsInt64(); err != nil {
		return r, false, err
	}
	return r, false, nil
}

func unwatch(ctx context.Context, dc valkey.DedicatedClient) error {
	return dc.Do(ctx, dc.B().Unwatch().Build()).Error()
}
