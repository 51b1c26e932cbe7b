package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// A walker is the state of one primary's scan: the commands written and not
// yet answered, in order.
type walker struct {
	rc       *resp.Conn
	addr     string
	l        Limiter
	o        ScanOptions
	windowMS int64
	pattern  string
	count    string
	cluster  bool // MGET only within one hash slot
	deliver  func(*scanBatch)
	buf      []byte
	queue    []pending
	pace     pacer
	vals     []value // scratch: one fetch's values, in key order
	got      []bool  // scratch: whether each key's MGET answered
	free     []*scanBatch
}

type pendingKind uint8

const (
	pendingScan    pendingKind = iota
	pendingFetch               // MGET per group, then PTTL per key
	pendingRecheck             // GET + PTTL per key
)

type pending struct {
	kind   pendingKind
	keys   []string // pendingFetch: the groups' keys in order; pendingRecheck: the keys
	groups []int    // pendingFetch: the length of each MGET's group
	batch  *scanBatch
}

// value is what MGET said of a key.
type value struct {
	state uint8 // valNil, valInt, valOther
	hits  int64
}

const (
	valNil   = iota // no such string key: gone, or another type
	valInt          // a decimal integer
	valOther        // a string that is not an integer
)

func (w *walker) run(ctx context.Context) error {
	// One round trip measures the latency and tells a cluster node (where
	// MGET across slots is refused) from a standalone server. Without INFO
	// (an ACL may forbid it) assume a cluster: one MGET per hash slot works
	// on both, it is only less efficient on a standalone.
	start := time.Now()
	w.buf = resp.AppendCommand(w.buf[:0], "PING")
	w.buf = resp.AppendCommand(w.buf, "INFO", "cluster")
	if err := w.flush(); err != nil {
		return err
	}
	w.rc.Expect()
	if err := w.rc.R.Skip(); err != nil {
		return fmt.Errorf("PING: %w", err)
	}
	info, _, err := w.rc.R.ReadBulk()
	var re *resp.Error
	if err != nil && !errors.As(err, &re) {
		return err
	}
	w.cluster = err != nil || strings.Contains(string(info), "cluster_enabled:1")
	w.count = strconv.Itoa(w.o.countFor(time.Since(start)))
	w.pace.init(w.o.Pace)

	w.sendScan("0")
	if err := w.flush(); err != nil {
		return err
	}
	for len(w.queue) > 0 {
		p := w.queue[0]
		w.queue = w.queue[1:]
		w.rc.Expect()
		var err error
		switch p.kind {
		case pendingScan:
			err = w.readScan(ctx)
		case pendingFetch:
			err = w.readFetch(p)
		case pendingRecheck:
			err = w.readRecheck(p)
		}
		if err != nil {
			return err
		}
		if len(w.buf) > 0 {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walker) flush() error {
	err := w.rc.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

func (w *walker) sendScan(cursor string) {
	w.buf = resp.AppendCommand(w.buf, "SCAN", cursor, "MATCH", w.pattern, "COUNT", w.count)
	w.queue = append(w.queue, pending{kind: pendingScan})
}

// readScan reads a SCAN reply and sends the next SCAN (paced), then the
// fetch of the keys it returned.
func (w *walker) readScan(ctx context.Context) error {
	r := w.rc.R
	if n, err := r.ReadArrayLen(); err != nil || n != 2 {
		return scanShape(err, "SCAN", n)
	}
	c, ok, err := r.ReadBulk()
	if err != nil || !ok {
		return scanShape(err, "SCAN cursor", -1)
	}
	cursor := string(c)
	n, err := r.ReadArrayLen()
	if err != nil || n < 0 {
		return scanShape(err, "SCAN keys", n)
	}
	b := w.batch()
	keys := b.keys[:0]
	for range n { // appending: a corrupt length must not allocate much
		k, ok, err := r.ReadBulk()
		if err != nil || !ok {
			return scanShape(err, "SCAN key", -1)
		}
		keys = append(keys, string(k))
	}
	b.keys, b.scanned = keys, len(keys)
	w.pace.spent(len(keys))
	if cursor != "0" {
		if err := w.pace.wait(ctx); err != nil {
			return err
		}
		w.sendScan(cursor)
	}
	if len(keys) > 0 {
		w.sendFetch(b)
	} else {
		w.free = append(w.free, b)
	}
	return nil
}

// batch returns an empty batch, reusing one already delivered: a scan of a
// million keys then allocates its slices a few times, not a thousand.
func (w *walker) batch() *scanBatch {
	if n := len(w.free); n > 0 {
		b := w.free[n-1]
		w.free = w.free[:n-1]
		*b = scanBatch{keys: b.keys[:0], counters: b.counters[:0]}
		return b
	}
	return &scanBatch{}
}

func scanShape(err error, what string, n int) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s reply of unexpected shape (%d)", resp.ErrProtocol, what, n)
}

// sendFetch sends, per batch of keys, one MGET (one per run of keys in the
// same hash slot on a cluster) and a PTTL per key. MGET costs the server
// half what a GET per key does; PTTL has no multi-key form. The keys of one
// SCAN reply make one scanBatch.
func (w *walker) sendFetch(b *scanBatch) {
	keys := b.keys
	for len(keys) > 0 {
		n := min(w.o.Batch, len(keys))
		chunk := keys[:n:n]
		keys = keys[n:]
		groups := []int{len(chunk)}
		if w.cluster {
			groups = slotRuns(chunk)
		}
		rest := chunk
		for _, n := range groups {
			w.buf = resp.AppendArray(w.buf, 1+n)
			w.buf = resp.AppendBulk(w.buf, "MGET")
			for _, k := range rest[:n] {
				w.buf = resp.AppendBulk(w.buf, k)
			}
			rest = rest[n:]
		}
		for _, k := range chunk {
			w.buf = resp.AppendCommand(w.buf, "PTTL", k)
		}
		b.waiting++
		w.queue = append(w.queue, pending{kind: pendingFetch, keys: chunk, groups: groups, batch: b})
	}
}

// readFetch classifies keys from their MGET and PTTL replies. MGET answers
// nil for a key of another type, which GET would refuse with WRONGTYPE;
// such keys (nil value but a PTTL other than -2) are read again with GET +
// PTTL, so a counter created between the MGET and its PTTL is classified
// correctly too.
func (w *walker) readFetch(p pending) error {
	r := w.rc.R
	now := w.o.Now()
	vals, got := w.vals[:0], w.got[:0]
	for _, n := range p.groups {
		m, err := r.ReadArrayLen()
		if isRespRedirect(err) { // the slot moved during the scan: its keys are skipped
			for range n {
				vals, got = append(vals, value{}), append(got, false)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("MGET: %w", err)
		}
		if m != n {
			return fmt.Errorf("%w: MGET of %d keys answered %d values", resp.ErrProtocol, n, m)
		}
		for range n {
			b, ok, err := r.ReadBulk()
			if err != nil {
				return fmt.Errorf("MGET: %w", err)
			}
			v := value{}
			if ok {
				v = parseValue(b)
			}
			vals, got = append(vals, v), append(got, true)
		}
	}
	w.vals, w.got = vals, got
	var again []string
	for i, k := range p.keys {
		pttl, err := r.ReadInt()
		if isRespRedirect(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("PTTL: %w", err)
		}
		if !got[i] || pttl == -2 || !w.l.HasPrefix(k) {
			continue // slot moved, key gone since SCAN, or (never) outside the prefix
		}
		if vals[i].state == valNil {
			again = append(again, k) // another type, or created meanwhile
			continue
		}
		rec, problem, ok := classifyParsed(w.l, k, vals[i], pttl, w.windowMS, now)
		p.batch.put(k, rec, problem, ok)
	}
	if len(again) > 0 {
		for _, k := range again {
			w.buf = resp.AppendCommand(w.buf, "GET", k)
			w.buf = resp.AppendCommand(w.buf, "PTTL", k)
		}
		p.batch.waiting++
		w.queue = append(w.queue, pending{kind: pendingRecheck, keys: again, batch: p.batch})
	}
	return w.done(p.batch)
}

// readRecheck classifies keys from GET + PTTL each (GET tells WRONGTYPE).
func (w *walker) readRecheck(p pending) error {
	r := w.rc.R
	now := w.o.Now()
	for _, k := range p.keys {
		var v value
		b, ok, getErr := r.ReadBulk()
		if getErr == nil && ok {
			v = parseValue(b)
		}
		pttl, err := r.ReadInt()
		switch {
		case isRespRedirect(err):
			continue
		case err != nil:
			return fmt.Errorf("PTTL: %w", err)
		case pttl == -2:
			continue // expired or deleted meanwhile
		}
		var re *resp.Error
		switch {
		case getErr == nil && !ok:
			continue
		case errors.As(getErr, &re) && re.Prefix() == "WRONGTYPE":
			p.batch.put(k, counter{}, ProblemWrongType, false)
			continue
		case isRespRedirect(getErr):
			continue
		case getErr != nil:
			return fmt.Errorf("GET: %w", getErr)
		}
		rec, problem, ok := classifyParsed(w.l, k, v, pttl, w.windowMS, now)
		p.batch.put(k, rec, problem, ok)
	}
	return w.done(p.batch)
}

// done delivers b once its last reply has been read.
func (w *walker) done(b *scanBatch) error {
	if b.waiting--; b.waiting == 0 {
		w.deliver(b)
		clear(b.keys) // let the key strings go
		w.free = append(w.free, b)
	}
	return nil
}

// parseValue reads a counter's value as ParseInt(val, 10, 64) would.
func parseValue(b []byte) value {
	if len(b) > 0 && len(b) < 19 {
		var n int64
		digits := true
		for _, c := range b {
			if c < '0' || c > '9' {
				digits = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if digits {
			return value{state: valInt, hits: n}
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return value{state: valOther}
	}
	return value{state: valInt, hits: n}
}

func isRespRedirect(err error) bool {
	if err == nil {
		return false
	}
	var re *resp.Error
	if !errors.As(err, &re) {
		return false
	}
	switch re.Prefix() {
	case "MOVED", "ASK", "TRYAGAIN":
		return true
	}
	return false
}

// wrap turns a failure of the scan's connection into a typed, one-line
// error naming the primary.
func (w *walker) wrap(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	var rt *apperr.RuntimeError
	if errors.As(err, &rt) {
		return err
	}
	var re *resp.Error
	if errors.As(err, &re) {
		return apperr.Runtime(replyErrKind(re.Msg), fmt.Errorf("scan of %s: %v", w.addr, err), "")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return apperr.Runtime(apperr.KindTimeout, fmt.Errorf("scan of %s: no reply within the timeout", w.addr), "raise --timeout or check the network path to Valkey")
	}
	if errors.Is(err, resp.ErrProtocol) {
		return apperr.Runtime(apperr.KindAPI, fmt.Errorf("scan of %s: %v", w.addr, err), "")
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return apperr.Runtime(apperr.KindConnect, fmt.Errorf("scan of %s: the server closed the connection (it may have restarted or failed over), so the scan is incomplete", w.addr), "run the command again")
	}
	return apperr.Runtime(apperr.KindConnect, fmt.Errorf("scan of %s: %w", w.addr, err), "check that Valkey is reachable")
}

// slotRuns splits keys into runs of the same cluster hash slot and returns
// their lengths. SCAN on a cluster node walks one slot's table at a time, so
// its keys come in such runs (about 60 keys each with a million keys on
// three primaries); a key whose slot changes mid-run only starts a new run.
func slotRuns(keys []string) []int {
	var runs []int
	var last uint16
	for i, k := range keys {
		s := HashSlot(k)
		if i > 0 && s == last {
			runs[len(runs)-1]++
			continue
		}
		runs = append(runs, 1)
		last = s
	}
	return runs
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
	return crc16(key) & 16383
}

// crc16 is CRC16-XMODEM, two bytes a step: the two table lookups of a step
// do not wait for each other (crc16tab2[x] is crc16tab's step applied twice).
func crc16(key string) uint16 {
	var crc uint16
	i := 0
	for ; i+1 < len(key); i += 2 {
		crc = crc16tab2[byte(crc>>8)^key[i]] ^ crc16tab[byte(crc)^key[i+1]]
	}
	if i < len(key) {
		crc = crc<<8 ^ crc16tab[byte(crc>>8)^key[i]]
	}
	return crc
}

var crc16tab2 = func() (t [256]uint16) {
	for i := range t {
		t[i] = crc16tab[i]<<8 ^ crc16tab[crc16tab[i]>>8]
	}
	return t
}()

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
	return classifyParsed(l, key, parseValue([]byte(val)), pttl, windowMS, now)
}

// classifyParsed classifies an existing string key from its parsed value and PTTL.
func classifyParsed(l Limiter, key string, v value, pttl, windowMS int64, now time.Time) (rec counter, problem string, ok bool) {
	switch {
	case pttl == -1:
		return rec, ProblemNoExpiry, false
	case v.state != valInt:
		return rec, ProblemNotInteger, false
	case v.hits < 0:
		return rec, ProblemNegative, false
	case pttl > windowMS:
		return rec, ProblemExpiryTooLong, false
	}
	return newCounter(key, v.hits, pttl, now), "", true
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
