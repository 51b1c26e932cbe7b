package limits

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/human"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
)

type statsOptions struct {
	limiterOptions
	Format output.Format
	Scan   scanFlags
}

const statsLong = `Scan the limiter once and summarise it: how many clients, how many blocked,
total hits, a histogram of hits relative to the limit (0-10%, 10-50%, 50-80%,
80-100%, 100-200%, more), the 10 clients with the most hits, the anomalies, and
the memory the counters use.

Memory is an estimate: MEMORY USAGE of a random sample of up to 1,000 counters,
averaged and multiplied by the number of clients. A server that refuses MEMORY
USAGE gives a note instead of a number.
`

// NewCmdStats builds `limits stats`. runF replaces the run in tests.
func NewCmdStats(f *cmdutil.Factory, runF func(context.Context, *statsOptions) error) *cobra.Command {
	opts := &statsOptions{limiterOptions: newLimiterOptions(f)}
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Summarise a limiter: clients, blocked, hit histogram, top clients, memory",
		Long:  statsLong + exitStatus,
		Example: examples(
			`$ oxyctl limits stats`,
			`$ oxyctl limits stats --limiter auth -o json`,
			``,
		),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			opts.Timeout = f.Timeout()
			if err := opts.Scan.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return statsRun(cmd.Context(), opts)
		},
	}
	opts.bindLimiter(f, cmd)
	opts.Scan.bind(cmd)
	return cmd
}

func statsRun(ctx context.Context, opts *statsOptions) error {
	l, st, err := opts.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	defer leanGC()()
	p := opts.startProgress("scanning " + printable(l.Prefix) + "*")
	res, err := ratelimit.Stats(ctx, st.Client, st.Primaries, l, opts.scanOptions(opts.Scan, p))
	p.End()
	if err != nil {
		return err
	}
	now := opts.now()
	return output.Print(opts.IO, opts.Format, res, func(w io.Writer, th *output.Theme) error {
		fmt.Fprintf(w, "%s\n", describe(l))
		fmt.Fprintf(w, "keys scanned  %d\nclients       %d\nblocked       %d\ntotal hits    %d\n",
			res.ScannedKeys, res.Clients, res.Blocked, res.TotalHits)
		switch m := res.Memory; {
		case m.Error != "":
			fmt.Fprintf(w, "memory        unknown (%s)\n", m.Error)
		case m.SampledKeys > 0:
			fmt.Fprintf(w, "memory        ~%s (estimate from %d sampled keys)\n", human.Bytes(m.EstimatedBytes), m.SampledKeys)
		}
		fmt.Fprintln(w)
		rows := make([][]string, 0, len(res.Histogram))
		var most int64
		for _, b := range res.Histogram {
			most = max(most, b.Clients)
		}
		for _, b := range res.Histogram {
			hits := strconv.FormatInt(b.Min, 10) + "+"
			if b.Max != nil {
				hits = fmt.Sprintf("%d-%d", b.Min, *b.Max)
			}
			rows = append(rows, []string{b.Label, hits, strconv.FormatInt(b.Clients, 10), bar(b.Clients, most, 30)})
		}
		fmt.Fprint(w, th.Table([]string{"OF LIMIT", "HITS", "CLIENTS", ""}, rows))
		if len(res.Top) > 0 {
			fmt.Fprintln(w)
			fmt.Fprintln(w, "top clients:")
			writeRecords(w, th, res.Top, now, false)
		}
		writeAnomalies(opts.IO.ErrOut, th, res.Anomalies, res.AnomalyCount) // a warning: stderr
		return nil
	})
}

// bar draws n relative to most as up to width '#'.
func bar(n, most int64, width int) string {
	if most <= 0 || n <= 0 {
		return ""
	}
	k := int(n * int64(width) / most)
	return strings.Repeat("#", max(k, 1))
}
