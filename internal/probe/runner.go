package probe

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/redact"
)

// Runner runs checks concurrently.
type Runner struct {
	// Timeout is every check's deadline (a check's own shorter Timeout wins).
	Timeout time.Duration
	// Grace is how long past its deadline a probe may take to return before
	// the Runner reports it as timed out without it (default 100ms).
	Grace time.Duration
	// Now is the clock for latencies (default time.Now).
	Now func() time.Time
	// OnPanic, when set, receives the stack of a panicking probe (for --verbose).
	OnPanic func(check string, stack []byte)
}

// Run runs every check at once, under a WaitGroup (every result is wanted,
// not just the first error), and reports them in the order given. A check
// that does not finish by its deadline fails with "timed out after D". It
// returns apperr.ErrInterrupted when ctx was cancelled (Ctrl-C) during the run.
func (r *Runner) Run(ctx context.Context, checks []Check) (*Report, error) {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	grace := r.Grace
	if grace <= 0 {
		grace = 100 * time.Millisecond
	}
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		if c.Probe == nil {
			results[i] = Result{Name: c.Name, Status: Skip, Detail: NotConfigured, Data: map[string]any{}}
			continue
		}
		timeout := r.Timeout
		if c.Timeout > 0 && (timeout <= 0 || c.Timeout < timeout) {
			timeout = c.Timeout
		}
		wg.Add(1)
		go func(i int, c Check, timeout time.Duration) {
			defer wg.Done()
			results[i] = r.one(ctx, c, timeout, grace, now)
		}(i, c, timeout)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && errors.Is(err, context.Canceled) {
		return nil, apperr.ErrInterrupted
	}
	return &Report{Status: Overall(results), Checks: results}, nil
}

// one runs one probe under its deadline and recovers its panic.
func (r *Runner) one(parent context.Context, c Check, timeout, grace time.Duration, now func() time.Time) Result {
	ctx := parent
	cancel := context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, timeout)
	}
	defer cancel()
	// The counters this check records become the next round's baseline only
	// if its outcome is reported (see Counters).
	ctx, counted := forCheck(ctx, c.Name)

	type done struct {
		out   Outcome
		panic string
	}
	ch := make(chan done, 1) // buffered: a late probe never blocks
	start := now()
	go func() {
		defer func() {
			if p := recover(); p != nil {
				if r.OnPanic != nil {
					r.OnPanic(c.Name, debug.Stack())
				}
				ch <- done{panic: redact.String(fmt.Sprint(p))}
			}
		}()
		ch <- done{out: c.Probe.Run(ctx)}
	}()

	var d done
	var late <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout + grace)
		defer t.Stop()
		late = t.C
	}
	select {
	case d = <-ch:
	case <-late:
		d = done{out: Outcome{Status: Fail, Detail: fmt.Sprintf("timed out after %s", timeout)}}
		counted.drop() // its findings are thrown away: so are its totals
	}
	if d.panic != "" {
		counted.drop()
	}
	res := Result{Name: c.Name, Status: d.out.Status, Detail: d.out.Detail, Data: d.out.Data}
	if d.panic != "" {
		res.Status, res.Detail, res.Panic = Fail, "internal error (a bug): "+d.panic, d.panic
	}
	if res.Status == "" {
		res.Status = Fail
	}
	// A probe that ran into its deadline says so, whatever error it saw.
	if ctx.Err() == context.DeadlineExceeded && parent.Err() == nil && res.Status == Fail && !mentionsTimeout(res.Detail) {
		res.Detail = fmt.Sprintf("timed out after %s: %s", timeout, res.Detail)
	}
	if res.Data == nil {
		res.Data = map[string]any{}
	}
	res.Detail = redact.String(res.Detail)
	res.Latency = now().Sub(start)
	if res.Latency < 0 {
		res.Latency = 0
	}
	res.LatencyMS = res.Latency.Milliseconds()
	return res
}

func mentionsTimeout(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "timed out") || strings.Contains(s, "timeout")
}
