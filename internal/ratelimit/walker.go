package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/resp"
)

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

	// A scan must end: a cursor seen twice, or far more keys than the
	// server said it holds, means it never would (a broken or hostile server).
	cursors  map[string]struct{}
	returned int64
	dbsize   int64 // DBSIZE before the scan; -1 when unknown
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

func (w *walker) run(ctx context.Context) error {
	// One round trip measures the latency and tells a cluster node (where
	// MGET across slots is refused) from a standalone server. Without INFO
	// (an ACL may forbid it) assume a cluster: one MGET per hash slot works
	// on both, it is only less efficient on a standalone.
	start := time.Now()
	w.buf = resp.AppendCommand(w.buf[:0], "PING")
	w.buf = resp.AppendCommand(w.buf, "INFO", "cluster")
	w.buf = resp.AppendCommand(w.buf, "DBSIZE")
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
	w.rc.Expect()
	w.dbsize, err = w.rc.R.ReadInt()
	if err != nil && !errors.As(err, &re) {
		return fmt.Errorf("DBSIZE: %w", err)
	}
	if err != nil || w.dbsize < 0 {
		w.dbsize = -1 // refused: only a repeated cursor ends a runaway scan
	}
	w.cursors = map[string]struct{}{}
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
	if err := w.bound(cursor, len(keys)); err != nil {
		return err
	}
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

// bound fails a scan that would never end: a cursor that comes back, or
// more keys than twice what the server holds (SCAN may return a key twice
// while the table grows, never that often).
func (w *walker) bound(cursor string, n int) error {
	w.returned += int64(n)
	if w.dbsize >= 0 && w.returned > 2*w.dbsize+10000 {
		return fmt.Errorf("%w: SCAN returned %d keys from a server that holds %d: it would never end", resp.ErrProtocol, w.returned, w.dbsize)
	}
	if cursor == "0" {
		return nil
	}
	if _, seen := w.cursors[cursor]; seen {
		return fmt.Errorf("%w: SCAN cursor %.20q came back: the scan would never end", resp.ErrProtocol, cursor)
	}
	w.cursors[cursor] = struct{}{}
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

// done delivers b once its last reply has been read.
func (w *walker) done(b *scanBatch) error {
	if b.waiting--; b.waiting == 0 {
		w.deliver(b)
		clear(b.keys) // let the key strings go
		w.free = append(w.free, b)
	}
	return nil
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
		switch re.Prefix() {
		case "MOVED", "ASK", "TRYAGAIN":
			// Following it would need the new owner's part of the scan too;
			// skipping its keys would report counters as absent.
			return apperr.Runtime(apperr.KindConnect, fmt.Errorf("scan of %s: the server answered %v: a slot is moving (resharding or failover), so the scan would be incomplete", w.addr, err), "run the command again once the cluster is stable")
		}
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
