package limits

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
)

// clearScreen moves the cursor home and clears the screen: a terminal's
// table is redrawn in place each round.
const clearScreen = "\x1b[H\x1b[2J"

// watchRun is `limits list --watch`: the domain runs the rounds, this
// renders them.
func watchRun(ctx context.Context, opts *listOptions) error {
	l, st, err := opts.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	defer leanGC()()
	ios := opts.IO
	lines := output.NewJSONLines(ios.Out)
	sum, err := ratelimit.Watch(ctx, st.Primaries, l, ratelimit.WatchOptions{
		List: ratelimit.ListOptions{
			Scan:        ratelimit.ScanOptions{Pace: opts.Scan.Pace, Now: opts.now},
			Top:         opts.Top,
			Sort:        opts.Sort,
			BlockedOnly: opts.Blocked,
			MinHits:     opts.MinHits,
		},
		Interval:  opts.Interval,
		Rounds:    opts.Rounds,
		Primaries: st.Rediscover,
	}, func(ev ratelimit.WatchEvent) error {
		switch {
		case ev.Round != nil:
			if opts.Format == output.JSON {
				return lines.Write(ev.Round)
			}
			return opts.writeRound(l, ev.Round)
		case ev.Gap != nil:
			if opts.Format == output.JSON {
				return lines.Write(ev.Gap)
			}
			ios.Warnf("gap: the counters could not be read from %s to %s (%s); the next rates span the gap",
				ev.Gap.From.Format(time.RFC3339), ev.Gap.To.Format(time.RFC3339), ev.Gap.Error)
		case ev.Lost != nil:
			ios.Warnf("a round failed: %v; trying again", ev.Lost)
		case ev.Slow > 0:
			ios.Warnf("a scan takes %s, more than --interval %s: rounds run back to back", ev.Slow.Round(time.Millisecond), opts.Interval)
		}
		return nil
	})
	if sum.Rounds > 0 {
		fmt.Fprintln(ios.ErrOut, sum.Describe())
	}
	return err
}

// writeRound prints one round: redrawn in place on a terminal, one after
// the other through a pipe.
func (opts *listOptions) writeRound(l ratelimit.Limiter, r *ratelimit.WatchRound) error {
	th := output.NewTheme(opts.IO)
	var b bytes.Buffer
	if th.TTY {
		// Past the output's guard, which escapes control sequences in text.
		opts.IO.Control(clearScreen)
	}
	order := opts.Sort
	fmt.Fprintf(&b, "round %d at %s: %s: %d keys scanned in %s, %d clients matched, top %d by %s\n",
		r.Round, r.Time.Format(time.RFC3339), describe(l), r.ScannedKeys, time.Duration(r.ScanMS)*time.Millisecond, r.MatchedClients, len(r.Clients), order)
	writeTable(&b, th, r.Clients, r.Time, false, true)
	if !th.TTY {
		b.WriteString("\n")
	}
	if r.Round == 1 && r.AnomalyCount > 0 {
		opts.IO.Warnf("%d key(s) under %s are not valid counters: 'oxyctl limits list' lists them", r.AnomalyCount, printable(l.Prefix))
	}
	_, err := opts.IO.Out.Write(b.Bytes())
	return err
}
