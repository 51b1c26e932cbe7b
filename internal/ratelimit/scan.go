package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/resp"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
	"github.com/valkey-io/valkey-go"
)

// Scan tuning defaults. They keep each server command short: a SCAN with
// COUNT 1000, an MGET of 500 keys and a PTTL each take well under a
// millisecond of server time, so a client waiting behind them waits little.
const (
	DefaultCount    = 1000  // first SCAN COUNT
	DefaultMaxCount = 10000 // COUNT cap when the round trip is long
	DefaultBatch    = 500   // keys per MGET (each key also gets a PTTL)
	DefaultParallel = 8     // primaries scanned at once
)

// ScanOptions controls how hard a scan works each primary.
type ScanOptions struct {
	// Count is the first SCAN COUNT (default 1000). COUNT grows with the
	// round-trip time measured at the start (one PING per primary), up to
	// MaxCount (default 10000): with 20 ms of round trip, a million keys
	// take about a hundred sequential SCANs instead of a thousand.
	Count, MaxCount int
	// Batch is the number of keys read by one MGET (default 500). The keys
	// of one SCAN reply are fetched while the next SCAN travels: at most
	// one SCAN and one SCAN's worth of MGET/PTTL are ever queued at the
	// server per primary.
	Batch int
	// Pace caps the keys per second read from each primary (0: no cap).
	// It also caps COUNT to a hundredth of a second's worth of keys.
	Pace int
	// Parallel bounds how many primaries are scanned at once (default 8).
	Parallel int
	// Progress, when set, is called with the number of keys scanned so far.
	// Calls come one at a time (from the goroutine of whichever primary
	// delivered a batch); keep it fast: the scans wait for it.
	Progress func(scanned int64)
	// Now is the clock behind resets_at (default time.Now).
	Now func() time.Time
}

func (o ScanOptions) withDefaults() ScanOptions {
	if o.Count <= 0 {
		o.Count = DefaultCount
	}
	if o.MaxCount <= 0 {
		o.MaxCount = DefaultMaxCount
	}
	if o.MaxCount < o.Count {
		o.MaxCount = o.Count
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// countFor picks the SCAN COUNT for a measured round trip: the base count
// per millisecond of round trip, capped. With a pace, COUNT is at most
// 1/100 s of keys (at least 10), so that no single SCAN is a burst.
func (o ScanOptions) countFor(rtt time.Duration) int {
	n := o.Count
	if ms := int(rtt / time.Millisecond); ms > 1 {
		n = o.Count * ms
	}
	if n > o.MaxCount {
		n = o.MaxCount
	}
	if o.Pace > 0 && n > o.Pace/100 {
		n = max(o.Pace/100, 10)
	}
	return n
}

// scanBatch is what one GET/PTTL pipeline found.
type scanBatch struct {
	scanned   int
	counters  []counter
	anomalies []Anomaly
	waiting   int      // replies still to read before the batch is complete
	keys      []string // the SCAN reply's keys
}

// scan walks every key of l on every primary and hands each batch to visit.
// visit (and Progress) run on the primaries' goroutines, one call at a time,
// so they need no locking of their own; handing batches over under a lock
// rather than through a channel spares a goroutine wake-up per batch. visit
// must not keep the batch or its slices (they are reused), only copies. It
// returns the number of keys SCAN returned.
func scan(ctx context.Context, nodes []valkeyclient.Node, l Limiter, o ScanOptions, visit func(*scanBatch)) (int64, error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	if len(nodes) == 0 {
		return 0, apperr.Runtime(apperr.KindInternal, errors.New("scan: no Valkey primaries to scan"), "")
	}
	o = o.withDefaults()
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fail := func(err error) { cancel(err) }

	var (
		mu      sync.Mutex
		scanned int64
	)
	deliver := func(b *scanBatch) {
		mu.Lock()
		defer mu.Unlock()
		scanned += int64(b.scanned)
		visit(b)
		if o.Progress != nil {
			o.Progress(scanned)
		}
	}
	var wg sync.WaitGroup
	pool := make(chan struct{}, o.Parallel)
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer recoverTo(fail)
			select {
			case pool <- struct{}{}:
			case <-sctx.Done():
				return
			}
			defer func() { <-pool }()
			if err := scanNode(sctx, n, l, o, deliver); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return scanned, err
	}
	if err := context.Cause(sctx); err != nil && !errors.Is(err, context.Canceled) {
		return scanned, err
	}
	return scanned, nil
}

// scanNode walks one primary on a connection of its own (see package resp),
// keeping the server busy without a pause: each write sends the next SCAN
// first and then the GET work for the keys the last SCAN returned, so the
// server answers the SCAN, works through the fetch while that answer
// travels, and finds the following SCAN waiting when it is done. A SCAN
// cursor is sequential, so this is as far ahead as a scan can run; COUNT
// grows with the round-trip time so that the fetch work outlasts the trip.
//
// The connection never reconnects: a server that restarts or fails over
// mid-scan ends the scan with an error instead of a silently partial result
// (a cursor means nothing to another server process).
func scanNode(ctx context.Context, n valkeyclient.Node, l Limiter, o ScanOptions, deliver func(*scanBatch)) error {
	rc, err := n.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	stop := rc.Watch(ctx)
	defer stop()
	return scanConn(ctx, rc, n.Addr, l, o, deliver)
}

// scanConn runs the scan of one primary over rc (o with its defaults).
func scanConn(ctx context.Context, rc *resp.Conn, addr string, l Limiter, o ScanOptions, deliver func(*scanBatch)) error {
	w := &walker{rc: rc, addr: addr, l: l, o: o, windowMS: l.WindowMS(), pattern: l.Pattern(), deliver: deliver}
	if err := w.run(ctx); err != nil {
		return w.wrap(ctx, err)
	}
	return nil
}

// wrapErr turns a valkey-go error into a typed, one-line error. Context
// errors pass through unchanged so that Ctrl-C and timeouts keep their meaning.
func wrapErr(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(ctx.Err(), context.Canceled) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return ctx.Err() // interrupted: app reports it
	}
	var re *apperr.RuntimeError
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The command's own --timeout, not a raw "context deadline exceeded".
		return apperr.Runtime(apperr.KindTimeout, fmt.Errorf("%s: Valkey did not answer within the timeout", what), "raise --timeout or check the network path to Valkey")
	}
	if ve, ok := valkey.IsValkeyErr(err); ok {
		msg := ve.Error()
		return apperr.Runtime(replyErrKind(msg), fmt.Errorf("%s: %s", what, msg), "")
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return apperr.Runtime(apperr.KindConnect, fmt.Errorf("%s: the server closed the connection (%w)", what, err), "check that Valkey is up and reachable, then run the command again")
	}
	return apperr.Runtime(apperr.KindConnect, fmt.Errorf("%s: %w", what, err), "check that Valkey is reachable")
}

// replyErrKind is the kind of a server's error reply: auth for a refused
// login or permission, api for the rest.
func replyErrKind(msg string) string {
	if valkeyclient.IsAuthReply(msg) {
		return apperr.KindAuth
	}
	return apperr.KindAPI
}

// recoverTo turns a panic in a goroutine into an internal error.
func recoverTo(fail func(error)) {
	if r := recover(); r != nil {
		fail(apperr.Runtime(apperr.KindInternal, fmt.Errorf("ratelimit: internal error: %v", r), ""))
	}
}
