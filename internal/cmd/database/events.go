package database

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
)

type eventsOptions struct {
	clusterOptions
	Format output.Format
	Since  time.Duration
}

type eventJSON struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Time string `json:"time"`
	What string `json:"what"`
}

type eventsResult struct {
	Cluster clusterRef  `json:"cluster"`
	Since   string      `json:"since,omitempty"`
	Events  []eventJSON `json:"events"`
}

// eventText says what an event type means to an operator.
var eventText = map[string]string{
	"cluster_maintenance_perform": "maintenance performed",
	"cluster_master_promotion":    "failover: a standby was promoted to primary",
	"cluster_create":              "cluster created",
	"cluster_update":              "cluster updated (resize, settings or version)",
	"cluster_delete":              "cluster deleted",
	"cluster_poweron":             "cluster powered on",
	"cluster_poweroff":            "cluster powered off",
}

const eventsLong = `The cluster's event log, newest first: failovers (a standby promoted to
primary), maintenance, updates, power cycles. A failover empties the script
cache and drops every connection, so it explains a burst of errors.
--since D keeps the events of the last D (e.g. 24h).

JSON: {"cluster":{"id","name"},"since","events":[{"id","type","time","what"}]}.
`

// NewCmdEvents builds `database events`.
func NewCmdEvents(f *cmdutil.Factory, runF func(context.Context, *eventsOptions) error) *cobra.Command {
	opts := &eventsOptions{clusterOptions: newClusterOptions(f)}
	cmd := &cobra.Command{
		Use:     "events [--since D]",
		Short:   "The cluster's events (failovers, maintenance, updates), newest first",
		Long:    eventsLong + exitStatus,
		Example: "$ oxyctl database events\n$ oxyctl database events --since 24h -o json\n",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if cmd.Flags().Changed("since") && opts.Since <= 0 {
				return apperr.Usagef("--since must be a positive duration, e.g. 24h")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return eventsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Since, "since", 0, "only the events of the last D, e.g. 24h")
	return cmd
}

func eventsRun(ctx context.Context, opts *eventsOptions) error {
	api, cl, err := opts.cluster(ctx)
	if err != nil {
		return err
	}
	evs, err := api.Events(ctx, cl.ID)
	if err != nil {
		return err
	}
	res := eventsResult{Cluster: clusterRef{ID: cl.ID, Name: cl.Name}, Events: []eventJSON{}}
	var from time.Time
	if opts.Since > 0 {
		from = opts.Now().Add(-opts.Since)
		res.Since = from.UTC().Format(time.RFC3339)
	}
	for _, e := range evs {
		if !from.IsZero() && e.Time.Before(from) {
			continue
		}
		what := eventText[e.Type]
		if what == "" {
			what = e.Type
		}
		res.Events = append(res.Events, eventJSON{ID: e.ID, Type: e.Type, Time: e.Time.UTC().Format(time.RFC3339), What: what})
	}
	return output.Print(opts.IO, opts.Format, res, func(w io.Writer, th *output.Theme) error {
		if len(res.Events) == 0 {
			fmt.Fprintf(w, "no events of %s", cl.Name)
			if res.Since != "" {
				fmt.Fprintf(w, " since %s", res.Since)
			}
			fmt.Fprintln(w)
			return nil
		}
		rows := make([][]string, 0, len(res.Events))
		for _, e := range res.Events {
			rows = append(rows, []string{e.Time, e.Type, e.What})
		}
		out := th.Table([]string{"TIME", "TYPE", "WHAT"}, rows)
		fmt.Fprint(w, out)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			fmt.Fprintln(w)
		}
		return nil
	})
}
