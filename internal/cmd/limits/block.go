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

// A block of more clients than this, or longer than blockAskFor, asks first.
const (
	blockAskClients = 10
	blockAskFor     = 24 * time.Hour
)

type blockOptions struct {
	limiterOptions
	Format  output.Format
	Clients []string
	For     time.Duration
	DryRun  bool
	Yes     bool
}

const blockLong = `Block clients now, in a way the API itself enforces: each client's counter
becomes max(hits, limit + 1), so express-rate-limit answers 429 (with
Retry-After and RateLimit headers counting down to the block's end) from the
client's very next request, with no redeploy. The key is derived as in
'limits get' (express-rate-limit 8 groups IPv6 addresses by subnet, /56 by
default, so blocking one address blocks its whole subnet; 7 blocks that
exact address).

The block lasts --for (default: the limiter's window); a counter that already
expires later keeps its expiry, and a higher count is kept: a block never
lowers a count or shortens an expiry, and touches no other key. It is written
atomically without scripting (which DigitalOcean refuses by default): WATCH,
GET and PTTL, then MULTI, INCRBY/PEXPIRE (or SET ... PX for a new counter),
EXEC, read again when the API counted a hit in between. In a cluster each key
goes to its slot's primary.

'limits reset CLIENT' lifts a block (it deletes the counter, as the library's
resetKey does). 'limits list --blocked' shows blocked clients; a block longer
than the window is a blocked client there, not an anomaly.

resetExpiryOnChange (rate-limit-redis 4, express-rate-limit 7) moves the
expiry to one window after each request, so a block longer than the window
shrinks to one window after the client's last request: the client stays
blocked while it keeps sending, and gets through a window after it stops.

More than 10 clients, or --for over 24h, first shows the plan and asks on
the terminal; with no terminal it refuses (exit 2, nothing written) unless
--yes is given. --dry-run shows what each counter would become and writes
nothing.

JSON: {"dry_run","blocked":[{"client","key","hits","reset_in_ms","resets_at"}],
"skipped":[{"key","problem"}]}. A key that is not a counter (another type, a
value that is not an integer) is skipped, never written.
`

// NewCmdBlock builds `limits block`. runF replaces the run in tests.
func NewCmdBlock(f *cmdutil.Factory, runF func(context.Context, *blockOptions) error) *cobra.Command {
	opts := &blockOptions{limiterOptions: newLimiterOptions(f)}
	cmd := &cobra.Command{
		Use:   "block CLIENT...",
		Short: "Block clients now: their counters go over the limit until --for ends",
		Long:  blockLong + strings.Replace(exitStatus, "a bulk reset refused for lack of a terminal to confirm on", "a block of more than 10 clients or over 24h refused for lack of a\n       terminal to confirm on", 1),
		Example: examples(
			`$ oxyctl limits block 198.51.100.23 --for 1h`,
			`$ oxyctl limits block 2001:db8:abcd:12ff::1 --dry-run`,
			`$ oxyctl limits block 203.0.113.7 --limiter auth -o json`,
			`$ oxyctl limits reset 198.51.100.23    # lifts the block`,
			``,
		),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			opts.Timeout = f.Timeout()
			opts.Clients = args
			if len(args) == 0 {
				return apperr.Usagef("%s: give the CLIENTs to block", cmd.CommandPath())
			}
			if opts.For < 0 || cmd.Flags().Changed("for") && opts.For < time.Millisecond {
				return apperr.Usagef("--for must be at least 1ms, got %s", opts.For)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return blockRun(cmd.Context(), opts)
		},
	}
	opts.bindLimiter(f, cmd)
	cmd.ValidArgsFunction = opts.completeClients
	fl := cmd.Flags()
	fl.DurationVar(&opts.For, "for", 0, "how long the block lasts at least (default: the limiter's window)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "show what each counter would become and write nothing")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask before blocking more than 10 clients or for over 24h (needed without a terminal)")
	return cmd
}

func blockRun(ctx context.Context, opts *blockOptions) error {
	l, err := opts.limiter()
	if err != nil {
		return err
	}
	forD := opts.For
	if forD == 0 {
		forD = l.Window
	}
	if !opts.DryRun && !opts.Yes && (len(opts.Clients) > blockAskClients || forD > blockAskFor) {
		ios := opts.IO
		what := fmt.Sprintf("block %s of %s for %s", plural(len(opts.Clients), "client"), describe(l), forD)
		fmt.Fprintf(ios.ErrOut, "about to %s\n", what)
		if !ios.CanPrompt() {
			return apperr.Usagef("refusing to %s without confirmation: there is no terminal to ask on; nothing was written (pass --yes to go ahead, or --dry-run to only look)", what)
		}
		ok, err := ios.Confirm(ctx, "Go ahead?")
		if err != nil {
			return err
		}
		if !ok {
			return apperr.Usagef("block cancelled; nothing was written")
		}
	}
	st, err := opts.connect(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := opts.bounded(ctx)
	defer cancel()
	res, err := ratelimit.Block(ctx, st.Client, l, opts.Clients, ratelimit.BlockOptions{For: opts.For, DryRun: opts.DryRun, Now: opts.now})
	if err != nil {
		if n := len(res.Blocked); n > 0 && !res.DryRun {
			opts.IO.Warnf("stopped after blocking %s", plural(n, "client"))
		}
		return err
	}
	now := opts.now()
	return output.Print(opts.IO, opts.Format, res, func(w io.Writer, th *output.Theme) error {
		verb := "blocked"
		if res.DryRun {
			verb = "dry run: would block"
		}
		fmt.Fprintf(w, "%s %s of %s\n", verb, plural(len(res.Blocked), "client"), describe(l))
		if len(res.Blocked) > 0 {
			headers := []string{"CLIENT", "HITS", "UNTIL"}
			for _, b := range res.Blocked {
				if b.Unchanged {
					headers = append(headers, "NOTE")
					break
				}
			}
			rows := make([][]string, 0, len(res.Blocked))
			for _, b := range res.Blocked {
				row := []string{printable(b.Client), strconv.FormatInt(b.Hits, 10), th.When(b.ResetsAt, now)}
				if len(headers) == 4 {
					note := ""
					if b.Unchanged {
						note = "already blocked as long or longer: unchanged"
					}
					row = append(row, note)
				}
				rows = append(rows, row)
			}
			fmt.Fprint(w, th.Table(headers, rows))
		}
		for _, a := range res.Skipped {
			fmt.Fprintf(w, "%s %s is not a counter (%s): left alone\n", th.Warn.Render("skipped:"), printable(a.Key), a.Problem)
		}
		return nil
	})
}
