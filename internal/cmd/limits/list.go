package limits

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
)

type listOptions struct {
	limiterOptions
	Format  output.Format
	Scan    scanFlags
	Top     int
	Blocked bool
	MinHits int64
	Sort    string
	// Watch re-scans every Interval and adds each client's rate.
	Watch    bool
	Interval time.Duration
	Rounds   int
}

const listLong = `Scan every counter of the limiter (SCAN MATCH <prefix>*, on every primary of a
cluster in parallel) and show the clients with the most hits.

remaining is max(0, limit - hits); blocked is hits > limit; reset_in_ms is the
counter's PTTL and resets_at is now + PTTL. Keys under the prefix that are not
valid counters (another type, no expiry, a value that is not a non-negative
integer, an expiry longer than the window) are listed as anomalies and never
counted as clients.

--sort hits shows the most hits first, ttl the soonest reset first, client the
client names in byte order. --top 0 lists every client (memory then grows with
their number; otherwise it stays flat). Progress shows on stderr when stderr is
a terminal and the scan takes more than a second.

The scan is gentle with a production server: each primary is read over a
connection of its own with at most one SCAN (COUNT 1000, more over a slow
link) and the MGET/PTTL of one SCAN's keys queued at a time, each command
short; its reads leave the keys' LRU/LFU clocks alone (CLIENT NO-TOUCH), so
eviction is not skewed. --pace caps the keys read per second from each
primary for busy hours. A primary that restarts or fails over mid-scan ends
the command with an error, never with a silently partial list.

--watch runs the same scan every --interval (default 2s; never more often
than a scan takes: when a scan is slower, rounds run back to back and stderr
says so once) and adds each client's rate_per_s: hits per second since the
previous round (from the second round on). A counter that was not there in
the previous round, or whose hits fell (it expired and started again),
counts from 0. --sort rate ranks by it, then by hits. On a terminal the
table redraws in place; otherwise each round is printed in turn. With -o
json each round is one list document on one line, with "kind":"round",
"time", "round", "elapsed_ms" and "scan_ms". Memory stays flat: the
previous round's hits are kept in 8 to 13 bytes per counter, not the keys.
If the server cannot be read between rounds (a restart, a failover), the
watch says so on stderr, keeps trying with backoff, and reports the gap
once a round succeeds: a warning in text, a {"kind":"gap","from","to",
"error"} record in JSON. Ctrl-C (or --rounds N) ends the watch with a
one-line summary on stderr and exit status 0.
`

// NewCmdList builds `limits list`. runF replaces the run in tests.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *listOptions) error) *cobra.Command {
	opts := &listOptions{limiterOptions: newLimiterOptions(f)}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the clients of a limiter with hits, remaining quota and time to reset",
		Long:  listLong + strings.Replace(exitStatus, "130  interrupted by Ctrl-C", "130  interrupted by Ctrl-C (Ctrl-C ends a --watch with 0)", 1),
		Example: examples(
			`$ oxyctl limits list`,
			`$ oxyctl limits list --blocked --sort ttl`,
			`$ oxyctl limits list --limiter auth --top 0 -o json`,
			`$ oxyctl limits list --pace 20000`,
			`$ oxyctl limits list --watch --sort rate --top 10`,
			`$ oxyctl limits list --watch --interval 5s -o json | jq -c '.clients[0]'`,
			``,
		),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			opts.Timeout = f.Timeout()
			if opts.Top < 0 {
				return apperr.Usagef("--top must be 0 (all) or more, got %d", opts.Top)
			}
			if opts.MinHits < 0 {
				return apperr.Usagef("--min-hits must be 0 or more, got %d", opts.MinHits)
			}
			if err := opts.Scan.validate(); err != nil {
				return err
			}
			if opts.Sort == ratelimit.SortRate && !opts.Watch {
				return apperr.Usagef("--sort rate needs --watch (a rate takes two rounds)")
			}
			if (cmd.Flags().Changed("interval") || cmd.Flags().Changed("rounds")) && !opts.Watch {
				return apperr.Usagef("--interval and --rounds need --watch")
			}
			if opts.Rounds < 0 {
				return apperr.Usagef("--rounds must be 0 (until Ctrl-C) or more, got %d", opts.Rounds)
			}
			if opts.Interval <= 0 {
				return apperr.Usagef("--interval must be positive, got %s", opts.Interval)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if opts.Watch {
				return watchRun(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	opts.bindLimiter(f, cmd)
	opts.Scan.bind(cmd)
	cmd.Flags().IntVar(&opts.Top, "top", 20, "show the first N clients in --sort order (0: all)")
	cmd.Flags().BoolVar(&opts.Blocked, "blocked", false, "only clients over the limit")
	cmd.Flags().Int64Var(&opts.MinHits, "min-hits", 0, "only clients with at least this many hits")
	cmdutil.StringEnumFlag(cmd, &opts.Sort, "sort", "", ratelimit.SortHits, append(ratelimit.SortOrders[:len(ratelimit.SortOrders):len(ratelimit.SortOrders)], ratelimit.SortRate), "order (rate: with --watch)")
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "scan again every --interval and show each client's rate")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "time between the starts of two --watch rounds")
	cmd.Flags().IntVar(&opts.Rounds, "rounds", 0, "end --watch after this many rounds (0: at Ctrl-C)")
	return cmd
}

func listRun(ctx context.Context, opts *listOptions) error {
	l, st, err := opts.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	defer leanGC()()
	p := opts.startProgress("scanning " + printable(l.Prefix) + "*")
	res, err := ratelimit.List(ctx, st.Primaries, l, ratelimit.ListOptions{
		Scan:        opts.scanOptions(opts.Scan, p),
		Top:         opts.Top,
		Sort:        opts.Sort,
		BlockedOnly: opts.Blocked,
		MinHits:     opts.MinHits,
	})
	p.End()
	if err != nil {
		return err
	}
	now := opts.now()
	return output.Print(opts.IO, opts.Format, res, func(w io.Writer, th *output.Theme) error {
		fmt.Fprintf(w, "%s: %d keys scanned, %d clients matched, %d shown\n",
			describe(l), res.ScannedKeys, res.MatchedClients, len(res.Clients))
		writeRecords(w, th, res.Clients, now, false)
		writeAnomalies(opts.IO.ErrOut, th, res.Anomalies, res.AnomalyCount) // a warning: stderr
		return nil
	})
}

// describe names a limiter in one phrase.
func describe(l ratelimit.Limiter) string {
	return fmt.Sprintf("limiter %s (%s*, %d per %s)", l.Name, printable(l.Prefix), l.Limit, window(l.Window))
}

// writeRecords prints clients as a table (nothing when there are none).
func writeRecords(w io.Writer, th *output.Theme, recs []ratelimit.Record, now time.Time, withQuery bool) {
	writeTable(w, th, recs, now, withQuery, false)
}

// writeTable is writeRecords with a RATE/S column when withRate is set.
func writeTable(w io.Writer, th *output.Theme, recs []ratelimit.Record, now time.Time, withQuery, withRate bool) {
	if len(recs) == 0 {
		return
	}
	headers := []string{"CLIENT", "HITS", "REMAINING", "BLOCKED", "RESETS"}
	if withRate {
		headers = []string{"CLIENT", "HITS", "RATE/S", "REMAINING", "BLOCKED", "RESETS"}
	}
	if withQuery {
		headers = append([]string{"QUERY"}, headers...)
	}
	rows := make([][]string, 0, len(recs))
	for _, r := range recs {
		blocked := "no"
		if r.Blocked {
			blocked = th.Fail.Render("yes")
		}
		row := []string{printable(r.Client), strconv.FormatInt(r.Hits, 10), strconv.FormatInt(r.Remaining, 10), blocked, th.When(r.ResetsAt, now)}
		if withRate {
			rate := "-"
			if r.RatePerS != nil {
				rate = strconv.FormatFloat(*r.RatePerS, 'f', 1, 64)
			}
			row = append(row[:2], append([]string{rate}, row[2:]...)...)
		}
		if withQuery {
			row = append([]string{printable(r.Query)}, row...)
		}
		rows = append(rows, row)
	}
	fmt.Fprint(w, th.Table(headers, rows))
}

// writeAnomalies prints the keys that are not valid counters (a warning,
// so on stderr).
func writeAnomalies(w io.Writer, th *output.Theme, as []ratelimit.Anomaly, total int64) {
	if total == 0 {
		return
	}
	note := ""
	if int64(len(as)) < total {
		note = fmt.Sprintf(", the first %d shown", len(as))
	}
	verb := "are not valid counters"
	if total == 1 {
		verb = "is not a valid counter"
	}
	fmt.Fprintf(w, "%s %s %s (not counted as clients%s):\n", th.Warn.Render("warning:"), plural(int(total), "key"), verb, note)
	rows := make([][]string, 0, len(as))
	for _, a := range as {
		rows = append(rows, []string{printable(a.Key), a.Problem})
	}
	fmt.Fprint(w, th.Table([]string{"KEY", "PROBLEM"}, rows))
}
