package limits

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
)

type getOptions struct {
	limiterOptions
	Format  output.Format
	Clients []string
}

const getLong = `Show hits, remaining quota and time to reset of each client, read with one
pipeline of GET and PTTL.

A client is what the API's key generator produced: an IPv4 address, an IPv6
subnet key (2001:db8:abcd:1200::/56) or a custom key. Given an IP address,
oxyctl derives the key the way the limiter's express-rate-limit version does:
8 masks IPv6 to the limiter's subnet and unmaps IPv4-mapped addresses, 7 keeps
the address as written. Anything else is used byte for byte.

JSON: {"limiter","clients":[...],"not_found":[{"query","client","key"}],
"anomalies":[...]}. A client without a counter has no hits in the current
window; that is not an error.
`

// NewCmdGet builds `limits get`. runF replaces the run in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(context.Context, *getOptions) error) *cobra.Command {
	opts := &getOptions{limiterOptions: newLimiterOptions(f)}
	cmd := &cobra.Command{
		Use:   "get CLIENT...",
		Short: "Show the counters of the given clients",
		Long:  getLong + exitStatus,
		Example: examples(
			`$ oxyctl limits get 203.0.113.7`,
			`$ oxyctl limits get 2001:db8:abcd:12ff::1 ::ffff:192.0.2.10 -o json`,
			`$ oxyctl limits get --limiter auth user-42`,
			``,
		),
		Args: cmdutil.MinimumArgs(1, "give at least one CLIENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			opts.Timeout = f.Timeout()
			opts.Clients = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return getRun(cmd.Context(), opts)
		},
	}
	opts.bindLimiter(f, cmd)
	cmd.ValidArgsFunction = opts.completeClients
	return cmd
}

func getRun(ctx context.Context, opts *getOptions) error {
	l, st, err := opts.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := opts.bounded(ctx)
	defer cancel()
	res, err := ratelimit.Get(ctx, st.Client, l, opts.Clients, opts.now)
	if err != nil {
		return err
	}
	now := opts.now()
	return output.Print(opts.IO, opts.Format, res, func(w io.Writer, th *output.Theme) error {
		fmt.Fprintf(w, "%s\n", describe(l))
		writeRecords(w, th, res.Clients, now, true)
		for _, m := range res.NotFound {
			fmt.Fprintf(w, "%s: no counter (%s): no hits in the current window\n", printable(m.Query), printable(m.Key))
		}
		writeAnomalies(opts.IO.ErrOut, th, res.Anomalies, int64(len(res.Anomalies))) // a warning: stderr
		return nil
	})
}
