package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/valkey-io/valkey-go"
)

// Scan tuning defaults. They keep each server command short: a SCAN with
// COUNT 1000 and a pipeline of 2,000 GET/PTTL commands each take well under a
// millisecond of server time.
const (
	DefaultCount    = 1000  // first SCAN COUNT
	DefaultMaxCount = 10000 // COUNT cap when the round trip is long
	DefaultBatch    = 500   // keys per GET/PTTL pipeline (2 commands per key)
	DefaultParallel = 8     // primaries scanned at once
	maxInflight     = 64    // GET/PTTL pipelines in flight per primary, at most
)

// ScanOptions controls how hard a scan works each primary.
type ScanOptions struct {
	// Count is the first SCAN COUNT (default 1000). COUNT grows with the
	// round-trip time measured at the start (one PING per primary), up to
	// MaxCount (default 10000): with 20 ms of round trip, a million keys
	// take about a hundred sequential SCANs instead of a thousand.
	Count, MaxCount int
	// Batch is the number of keys fetched by one pipeline of GET + PTTL
	// (default 500). Several batches stay in flight while the next SCAN
	// runs; how many grows with COUNT, so one SCAN's keys are always
	// being fetched while the next SCAN travels.
	Batch int
	// Pace caps the keys per second read from each primary (0: no cap).
	// It also caps COUNT to a hundredth of a second's worth of keys.
	Pace int
	// Parallel bounds how many primaries are scanned at once (default 8).
	Parallel int
	// Progress, when set, is called with the number of keys scanned so far.
	// It runs on the scan's collecting goroutine; keep it fast.
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
}

// scan walks every key of l on every primary and hands each batch to visit.
// visit runs on the calling goroutine only, so it needs no locking. It
// returns the number of keys SCAN returned.
func scan(ctx context.Context, nodes []valkey.Client, l Limiter, o ScanOptions, visit func(*scanBatch)) (int64, error) {
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

	out := make(chan *scanBatch, 16)
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
			if err := scanNode(sctx, n, l, o, out, fail); err != nil {
				fail(err)
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()

	var scanned int64
	for b := range out {
		scanned += int64(b.scanned)
		visit(b)
		if o.Progress != nil {
			o.Progress(scanned)
		}
	}
	if err := ctx.Err(); err != nil {
		return scanned, err
	}
	if err := context.Cause(sctx); err != nil && !errors.Is(err, context.Canceled) {
		return scanned, err
	}
	return scanned, nil
}

// scanNode runs the SCAN loop on one primary. The SCAN chain is sequential
// (each cursor comes from the previous reply) and keeps going while up to
// `inflight` GET/PTTL pipelines of earlier keys are on the wire; valkey-go
// pipelines concurrent commands over its connections.
func scanNode(ctx context.Context, c valkey.Client, l Limiter, o ScanOptions, out chan<- *scanBatch, fail func(error)) error {
	addr := nodeAddr(c)
	// One round trip measures the latency and tells a cluster node (where
	// MGET across slots is refused) from a standalone server.
	start := time.Now()
	hello := c.DoMulti(ctx, c.B().Ping().Build(), c.B().Info().Section("cluster").Build(), c.B().Info().Section("server").Build())
	if err := hello[0].Error(); err != nil {
		return wrapErr(ctx, "PING "+addr, err)
	}
	rtt := time.Since(start)
	serverInfo, _ := hello[2].ToString()
	runID := infoField(serverInfo, "run_id")
	// Without INFO (an ACL may forbid it) assume a cluster: one MGET per
	// hash slot works on both, it is only less efficient on a standalone.
	info, err := hello[1].ToString()
	f := fetcher{c: c, l: l, now: o.Now, windowMS: l.WindowMS(), cluster: err != nil || strings.Contains(info, "cluster_enabled:1")}
	count := o.countFor(rtt)
	inflight := min(max(4, 2*((count+o.Batch-1)/o.Batch)+2), maxInflight)
	sem := make(chan struct{}, inflight)
	pattern := l.Pattern()

	var wg sync.WaitGroup
	defer wg.Wait()
	// A SCAN cursor means nothing to another server process: one that
	// restarted (or a replica that took over) has its keys in another order,
	// so going on would miss keys or count them twice. valkey-go reconnects
	// by itself when it notices a dropped connection between two commands,
	// so the scan checks at the end that it talked to one process throughout.
	var cursor uint64
	var pace pacer
	pace.init(o.Pace)
	for {
		if err := pace.wait(ctx); err != nil {
			return err
		}
		entry, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(pattern).Count(int64(count)).Build()).AsScanEntry()
		if err != nil {
			return wrapErr(ctx, "SCAN on "+addr, err)
		}
		pace.spent(len(entry.Elements))
		keys := entry.Elements
		for len(keys) > 0 {
			n := min(o.Batch, len(keys))
			chunk := keys[:n:n]
			keys = keys[n:]
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				defer recoverTo(fail)
				b, err := f.fetch(ctx, chunk)
				if err != nil {
					fail(wrapErr(ctx, "GET/PTTL on "+addr, err))
					return
				}
				select {
				case out <- b:
				case <-ctx.Done():
				}
			}()
		}
		cursor = entry.Cursor
		if cursor == 0 {
			wg.Wait()
			return sameServer(ctx, c, addr, runID)
		}
	}
}

// sameServer fails when the server at addr is no longer the process whose
// run_id the scan started with. An empty runID (a server that does not
// report one) is not checked.
func sameServer(ctx context.Context, c valkey.Client, addr, runID string) error {
	if runID == "" || ctx.Err() != nil {
		return nil
	}
	info, err := c.Do(ctx, c.B().Info().Section("server").Build()).ToString()
	if err != nil {
		return wrapErr(ctx, "INFO on "+addr, err)
	}
	if now := infoField(info, "run_id"); now != runID {
		return apperr.Runtime(apperr.KindConnect,
			fmt.Errorf("%s restarted or failed over during the scan (its run_id changed), so keys may have been missed or counted twice", addr),
			"run the command again")
	}
	return nil
}

// infoField returns the value of field in an INFO reply ("" when absent).
func infoField(info, field string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// fetcher reads and classifies batches of keys from one node.
//
// Values are read with MGET, one per batch on a standalone server: half the
// commands GET + PTTL per key would cost the server. A cluster refuses MGET
// across slots, so there the batch is split by hash slot, one MGET per slot.
// That still saves most GETs: Valkey 8 keeps one table per slot and SCAN
// walks them in slot order, so the keys of one SCAN reply come in runs of
// the same slot (about 60 keys per slot with a million keys on a cluster).
type fetcher struct {
	c        valkey.Client
	l        Limiter
	now      func() time.Time
	windowMS int64
	cluster  bool
}

// fetch reads the values (MGET) and PTTLs of keys with one pipeline and
// classifies them. MGET answers nil for a key of another type, which GET
// would refuse with WRONGTYPE; such keys (nil value but a PTTL other than
// -2) are read again with GET + PTTL, so a counter created between the MGET
// and its PTTL is classified correctly too.
func (f *fetcher) fetch(ctx context.Context, keys []string) (*scanBatch, error) {
	c := f.c
	groups := [][]string{keys}
	if f.cluster {
		groups = bySlot(keys)
	}
	cmds := make(valkey.Commands, 0, len(groups)+len(keys))
	for _, g := range groups {
		cmds = append(cmds, c.B().Mget().Key(g...).Build())
	}
	order := keys
	if f.cluster { // the PTTLs follow the groups' key order
		order = make([]string, 0, len(keys))
		for _, g := range groups {
			order = append(order, g...)
		}
	}
	for _, k := range order {
		cmds = append(cmds, c.B().Pttl().Key(k).Build())
	}
	res := c.DoMulti(ctx, cmds...)
	t := f.now()
	b := &scanBatch{scanned: len(keys), counters: make([]counter, 0, len(keys))}
	var again []string
	i := 0 // index into order
	for gi, g := range groups {
		vals, err := res[gi].ToArray()
		if isRedirect(err) {
			i += len(g) // the slot moved during the scan
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(vals) != len(g) {
			return nil, fmt.Errorf("MGET of %d keys answered %d values", len(g), len(vals))
		}
		for j, k := range g {
			pres := res[len(groups)+i]
			i++
			if !f.l.HasPrefix(k) { // SCAN MATCH guarantees it; never trust a key outside the prefix
				continue
			}
			pttl, err := pres.AsInt64()
			if isRedirect(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if pttl == -2 {
				continue // gone since SCAN
			}
			val, err := vals[j].ToString()
			if valkey.IsValkeyNil(err) {
				again = append(again, k) // another type, or created meanwhile
				continue
			}
			if err != nil {
				return nil, err
			}
			rec, problem, ok := classifyValue(f.l, k, val, pttl, f.windowMS, t)
			b.put(k, rec, problem, ok)
		}
	}
	if len(again) > 0 {
		if err := f.getPTTL(ctx, b, again); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// getPTTL classifies keys from GET + PTTL per key (GET tells WRONGTYPE).
func (f *fetcher) getPTTL(ctx context.Context, b *scanBatch, keys []string) error {
	c := f.c
	cmds := make(valkey.Commands, 0, 2*len(keys))
	for _, k := range keys {
		cmds = append(cmds, c.B().Get().Key(k).Build(), c.B().Pttl().Key(k).Build())
	}
	res := c.DoMulti(ctx, cmds...)
	t := f.now()
	for i, k := range keys {
		if err := f.add(b, k, res[2*i], res[2*i+1], t); err != nil {
			return err
		}
	}
	return nil
}

// bySlot splits keys into runs of the same cluster hash slot, keeping the
// order of first appearance (SCAN on a cluster node returns slot runs).
func bySlot(keys []string) [][]string {
	var groups [][]string
	index := make(map[uint16]int)
	for _, k := range keys {
		s := HashSlot(k)
		if gi, ok := index[s]; ok {
			groups[gi] = append(groups[gi], k)
			continue
		}
		index[s] = len(groups)
		groups = append(groups, []string{k})
	}
	return groups
}

// HashSlot is the Valkey Cluster hash slot of key: CRC16 (XMODEM) of the
// key, or of its hash tag (the text between the first '{' and the next '}',
// when not empty), modulo 16384.
func HashSlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc = crc<<8 ^ crc16tab[byte(crc>>8)^key[i]]
	}
	return crc & 16383
}

var crc16tab = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// add classifies one key from its GET and PTTL replies into b.
func (f *fetcher) add(b *scanBatch, key string, get, pttl valkey.ValkeyResult, now time.Time) error {
	if !f.l.HasPrefix(key) { // SCAN MATCH guarantees it; never trust a key outside the prefix
		return nil
	}
	rec, problem, ok, err := classify(f.l, key, get, pttl, f.windowMS, now)
	if err != nil {
		return err
	}
	b.put(key, rec, problem, ok)
	return nil
}

func (b *scanBatch) put(key string, c counter, problem string, ok bool) {
	switch {
	case problem != "":
		b.anomalies = append(b.anomalies, newAnomaly(key, problem))
	case ok:
		b.counters = append(b.counters, c)
	}
}

// classify turns the GET and PTTL replies for key into a record, an anomaly
// (problem != ""), or nothing (ok false: the key vanished meanwhile).
func classify(l Limiter, key string, get, pttlRes valkey.ValkeyResult, windowMS int64, now time.Time) (rec counter, problem string, ok bool, err error) {
	pttl, err := pttlRes.AsInt64()
	if err != nil {
		if isRedirect(err) {
			return rec, "", false, nil // the slot moved during the scan
		}
		return rec, "", false, err
	}
	if pttl == -2 {
		return rec, "", false, nil // expired or deleted between SCAN and GET
	}
	val, err := get.ToString()
	switch {
	case valkey.IsValkeyNil(err):
		return rec, "", false, nil
	case isWrongType(err):
		return rec, ProblemWrongType, false, nil
	case isRedirect(err):
		return rec, "", false, nil
	case err != nil:
		return rec, "", false, err
	}
	rec, problem, ok = classifyValue(l, key, val, pttl, windowMS, now)
	return rec, problem, ok, nil
}

// classifyValue classifies an existing string key from its value and PTTL.
func classifyValue(l Limiter, key, val string, pttl, windowMS int64, now time.Time) (rec counter, problem string, ok bool) {
	if pttl == -1 {
		return rec, ProblemNoExpiry, false
	}
	hits, perr := strconv.ParseInt(val, 10, 64)
	switch {
	case perr != nil:
		return rec, ProblemNotInteger, false
	case hits < 0:
		return rec, ProblemNegative, false
	case pttl > windowMS:
		return rec, ProblemExpiryTooLong, false
	}
	return newCounter(key, hits, pttl, now), "", true
}

func isWrongType(err error) bool {
	ve, ok := valkey.IsValkeyErr(err)
	return ok && strings.HasPrefix(ve.Error(), "WRONGTYPE")
}

func isRedirect(err error) bool {
	ve, ok := valkey.IsValkeyErr(err)
	if !ok {
		return false
	}
	_, moved := ve.IsRedirect()
	return moved || ve.IsTryAgain()
}

// pacer spaces SCANs so that a primary serves at most `rate` keys a second.
type pacer struct {
	rate int
	next time.Time
}

func (p *pacer) init(rate int) { p.rate = rate; p.next = time.Now() }

func (p *pacer) wait(ctx context.Context) error {
	if p.rate <= 0 {
		return nil
	}
	d := time.Until(p.next)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pacer) spent(keys int) {
	if p.rate <= 0 {
		return
	}
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	p.next = p.next.Add(time.Duration(float64(keys) / float64(p.rate) * float64(time.Second)))
}

// nodeAddr names a node client for error messages.
func nodeAddr(c valkey.Client) string {
	for a := range c.Nodes() {
		return a
	}
	return "valkey"
}

// wrapErr turns a valkey-go error into a typed, one-line error. Context
// errors pass through unchanged so that Ctrl-C and timeouts keep their meaning.
func wrapErr(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return ctx.Err()
	}
	var re *apperr.RuntimeError
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apperr.Runtime(apperr.KindTimeout, fmt.Errorf("%s: %w", what, err), "raise --timeout or check the network path to Valkey")
	}
	if ve, ok := valkey.IsValkeyErr(err); ok {
		msg := ve.Error()
		kind := apperr.KindAPI
		if strings.HasPrefix(msg, "NOAUTH") || strings.HasPrefix(msg, "WRONGPASS") || strings.HasPrefix(msg, "NOPERM") {
			kind = apperr.KindAuth
		}
		return apperr.Runtime(kind, fmt.Errorf("%s: %s", what, msg), "")
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return apperr.Runtime(apperr.KindConnect, fmt.Errorf("%s: the server closed the connection (%w)", what, err), "check that Valkey is up and reachable, then run the command again")
	}
	return apperr.Runtime(apperr.KindConnect, fmt.Errorf("%s: %w", what, err), "check that Valkey is reachable")
}

// recoverTo turns a panic in a goroutine into an internal error.
func recoverTo(fail func(error)) {
	if r := recover(); r != nil {
		fail(apperr.Runtime(apperr.KindInternal, fmt.Errorf("ratelimit: internal error: %v", r), ""))
	}
}
