package ratelimit

import (
	"errors"
	"fmt"

	"github.com/oxyhq/oxyctl/internal/resp"
)

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
	vals := w.vals[:0] // a MOVED, ASK or TRYAGAIN reply ends the scan: see walker.wrap
	for _, n := range p.groups {
		m, err := r.ReadArrayLen()
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
			vals = append(vals, v)
		}
	}
	w.vals = vals
	var again []string
	for i, k := range p.keys {
		pttl, err := r.ReadInt()
		if err != nil {
			return fmt.Errorf("PTTL: %w", err)
		}
		if pttl == -2 || !w.l.HasPrefix(k) {
			continue // key gone since SCAN, or (never) outside the prefix
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
		case getErr != nil:
			return fmt.Errorf("GET: %w", getErr)
		}
		rec, problem, ok := classifyParsed(w.l, k, v, pttl, w.windowMS, now)
		p.batch.put(k, rec, problem, ok)
	}
	return w.done(p.batch)
}

func (b *scanBatch) put(key string, c counter, problem string, ok bool) {
	switch {
	case problem != "":
		b.anomalies = append(b.anomalies, newAnomaly(key, problem))
	case ok:
		b.counters = append(b.counters, c)
	}
}
