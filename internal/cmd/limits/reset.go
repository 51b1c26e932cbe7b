package limits

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
)

type resetOptions struct {
	limiterOptions
	Format     output.Format
	Scan       scanFlags
	Clients    []string
	KeysBase64 []string
	Blocked    bool
	All        bool
	DryRun     bool
	Yes        bool
}

// ttyKeys is how many keys text output lists on a terminal (all of them
// through a pipe).
const ttyKeys = 20

const resetLong = `Delete counters of the limiter, as the library's own resetKey does: the next
request of the client starts a new window at 1.

Only counters are deleted: keys of the limiter's prefix that are strings. Each
key is deleted by its exact bytes with its own UNLINK (never a pattern, never a
multi-key command), so characters like *, ? and [ in a client are literal:
'reset "*"' deletes the key rl:* and nothing else. A key under the prefix
that is a hash, set, stream or list is skipped and reported.

CLIENT is derived into a key as in 'limits get'. --key-base64 names a key by
its exact bytes (as list -o json shows in key_base64); it must carry the
limiter's prefix.

--blocked deletes every counter over the limit and --all every counter of the
limiter, exactly as one scan found them; anomalies are never deleted. A bulk
reset first prints how many counters it will delete and a sample, on stderr,
then asks on the terminal. With no terminal it refuses (exit 2, nothing
deleted) unless --yes is given. With --yes nobody is asked, so counters are
deleted while the scan runs and the count and sample follow; Ctrl-C then
stops it and says how many were deleted. --dry-run prints the plan and
deletes nothing.

JSON: {"dry_run","deleted":[keys],"not_found":[keys],"skipped":[{"key","problem"}]}.
`

// NewCmdReset builds `limits reset`. runF replaces the run in tests.
func NewCmdReset(f *cmdutil.Factory, runF func(context.Context, *resetOptions) error) *cobra.Command {
	opts := &resetOptions{limiterOptions: newLimiterOptions(f)}
	cmd := &cobra.Command{
		Use:   "reset {CLIENT... | --blocked | --all}",
		Short: "Lift rate limits by deleting exactly the named counters",
		Long:  resetLong + exitStatus,
		Example: examples(
			`$ oxyctl limits reset 203.0.113.7 --dry-run`,
			`$ oxyctl limits reset 203.0.113.7 2001:db8:abcd:12ff::1`,
			`$ oxyctl limits reset --blocked`,
			`$ oxyctl limits reset --all --yes -o json`,
			`$ oxyctl limits reset --key-base64 cmw6//4=`,
			``,
		),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			opts.Timeout = f.Timeout()
			opts.Clients = args
			named := len(args) > 0 || len(opts.KeysBase64) > 0
			if err := cmdutil.MutuallyExclusive("give CLIENT arguments, --blocked or --all, not more than one of them", named, opts.Blocked, opts.All); err != nil {
				return err
			}
			if !named && !opts.Blocked && !opts.All {
				return apperr.Usagef("%s: give the CLIENTs to reset, or --blocked, or --all", cmd.CommandPath())
			}
			if err := opts.Scan.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return resetRun(cmd.Context(), opts)
		},
	}
	opts.bindLimiter(f, cmd)
	cmd.ValidArgsFunction = opts.completeClients
	opts.Scan.bind(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&opts.Blocked, "blocked", false, "delete every counter over the limit")
	fl.BoolVar(&opts.All, "all", false, "delete every counter of the limiter")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "show what would be deleted and delete nothing")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask before a bulk reset (needed without a terminal)")
	fl.StringArrayVar(&opts.KeysBase64, "key-base64", nil, "a full key given as base64 of its exact bytes (repeatable)")
	return cmd
}

func resetRun(ctx context.Context, opts *resetOptions) error {
	l, err := opts.limiter()
	if err != nil {
		return err
	}
	if opts.Blocked || opts.All {
		return bulkReset(ctx, opts, l)
	}
	keys := make([]string, 0, len(opts.Clients)+len(opts.KeysBase64))
	for _, c := range opts.Clients {
		keys = append(keys, ratelimit.KeyFor(l, c))
	}
	for _, b := range opts.KeysBase64 {
		k, err := base64.StdEncoding.DecodeString(b)
		if err != nil {
			return apperr.Usagef("--key-base64 %q is not base64: %v", b, err)
		}
		keys = append(keys, string(k))
	}
	st, err := opts.connect(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := opts.bounded(ctx)
	defer cancel()
	res, err := ratelimit.Reset(ctx, st.Client, l, keys, opts.DryRun)
	if err != nil {
		return opts.partial(res, err)
	}
	return opts.print(l, res)
}

func bulkReset(ctx context.Context, opts *resetOptions, l ratelimit.Limiter) error {
	st, err := opts.connect(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	what := "every counter"
	if opts.Blocked {
		what = "every blocked counter"
	}
	ios := opts.IO
	defer leanGC()()
	p := opts.startProgress("scanning " + printable(l.Prefix) + "*")
	if opts.Yes && !opts.DryRun {
		// Nobody is asked, so delete while scanning; the plan is printed after.
		sel, res, err := ratelimit.ResetBulk(ctx, st.Client, st.Primaries, l, opts.Blocked, opts.scanOptions(opts.Scan, p))
		p.End()
		if err != nil {
			return opts.partial(res, err)
		}
		fmt.Fprintf(ios.ErrOut, "%s: %d keys scanned; %s: %d found\n", describe(l), sel.ScannedKeys, what, len(sel.Keys))
		opts.writeSample(sel)
		return opts.print(l, res)
	}
	sel, err := ratelimit.SelectBulk(ctx, st.Primaries, l, opts.Blocked, opts.scanOptions(opts.Scan, p))
	p.End()
	if err != nil {
		return err
	}
	n := len(sel.Keys)
	fmt.Fprintf(ios.ErrOut, "%s: %d keys scanned; %s: %d to delete\n", describe(l), sel.ScannedKeys, what, n)
	if n == 0 {
		res, err := ratelimit.ResetFound(ctx, st.Client, nil, opts.DryRun)
		if err != nil {
			return err
		}
		return opts.print(l, res)
	}
	opts.writeSample(sel)
	if !opts.DryRun && !opts.Yes {
		if !ios.CanPrompt() {
			return &apperr.UsageError{Err: fmt.Errorf("refusing to delete %s without confirmation: there is no terminal to ask on; nothing was deleted (pass --yes to go ahead, or --dry-run to only look)", plural(n, "counter"))}
		}
		ok, err := ios.Confirm(ctx, fmt.Sprintf("Delete %s of limiter %s?", plural(n, "counter"), l.Name))
		if err != nil {
			return err
		}
		if !ok {
			return apperr.Usagef("reset cancelled; nothing was deleted")
		}
	}
	var res ratelimit.ResetResult
	if opts.DryRun {
		res, err = ratelimit.ResetFound(ctx, st.Client, sel.Keys, true)
	} else {
		// The prompt may have waited: delete only what is still a string.
		res, err = ratelimit.ResetChecked(ctx, st.Client, sel.Keys, st.Cluster)
	}
	if err != nil {
		return opts.partial(res, err)
	}
	return opts.print(l, res)
}

// writeSample shows the selection's sample on stderr.
func (opts *resetOptions) writeSample(sel ratelimit.Selection) {
	ios := opts.IO
	if len(sel.Sample) == 0 {
		return
	}
	th := output.NewTheme(ios)
	th.TTY = ios.IsStderrTTY()
	var b strings.Builder
	if len(sel.Sample) < len(sel.Keys) {
		fmt.Fprintf(&b, "the %d with the most hits:\n", len(sel.Sample))
	}
	writeRecords(&b, th, sel.Sample, opts.now(), false)
	fmt.Fprint(ios.ErrOut, b.String())
}

// partial tells stderr what an interrupted reset had already deleted, and
// how many deletes were sent without an answer (each may have happened).
// partial says what an interrupted or failed reset did before it stopped:
// a warning in text, and "deleted" and "unknown" counts in the JSON error.
func (opts *resetOptions) partial(res ratelimit.ResetResult, err error) error {
	if res.DryRun || len(res.Deleted)+len(res.Unknown) == 0 {
		return err
	}
	msg := "stopped after deleting " + plural(len(res.Deleted), "counter")
	if len(res.Unknown) > 0 {
		msg += fmt.Sprintf("; %d more may have been deleted (their answers were lost with the connection): run 'oxyctl limits list' to see what is left", len(res.Unknown))
	}
	opts.IO.Warnf("%s", msg)
	return apperr.WithFields(err, map[string]any{"deleted": len(res.Deleted), "unknown": len(res.Unknown)})
}

func (opts *resetOptions) print(l ratelimit.Limiter, res ratelimit.ResetResult) error {
	return output.Print(opts.IO, opts.Format, res, func(w io.Writer, th *output.Theme) error {
		verb := "deleted"
		if res.DryRun {
			verb = "dry run: would delete"
		}
		fmt.Fprintf(w, "%s %s of %s\n", verb, plural(len(res.Deleted), "counter"), describe(l))
		for i, k := range res.Deleted {
			if th.TTY && i == ttyKeys {
				fmt.Fprintf(w, "  ... and %d more (-o json lists them all)\n", len(res.Deleted)-ttyKeys)
				break
			}
			fmt.Fprintf(w, "  %s\n", printable(k))
		}
		for _, k := range res.NotFound {
			fmt.Fprintf(w, "not found: %s (no hits in the current window)\n", printable(k))
		}
		for _, a := range res.Skipped {
			fmt.Fprintf(w, "%s %s is not a counter (%s): left alone\n", th.Warn.Render("skipped:"), printable(a.Key), a.Problem)
		}
		return nil
	})
}
