// Package health is `oxyctl health`.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/probe"
	"github.com/oxyhq/oxyctl/internal/redact"
)

// DefaultInterval is the pause between --watch rounds; MinInterval the
// shortest allowed (a shorter one ran hundreds of rounds a second against
// production).
const (
	DefaultInterval = 5 * time.Second
	MinInterval     = time.Second
)

type healthOptions struct {
	IO        *iostreams.IOStreams
	Format    output.Format
	Settings  func() (*config.Settings, error)
	Now       func() time.Time
	UserAgent string

	CheckArgs []string // --check as given
	Checks    []string // --check validated
	Strict    bool
	Watch     bool
	Interval  time.Duration

	// Build turns the settings into checks (tests replace it).
	Build func(s *config.Settings, names []string) []probe.Check
}

const healthLong = `Run every check at once, each under its own deadline (--timeout), and print
one row per check in a fixed order: api, valkey, pubsub, ratelimit, do. The
run takes about as long as the slowest check, not the sum.

  api     GET <api-url>/health: ok when HTTP 200 with status operational,
          database connected and redis connected; redis "not configured"
          is a warning; anything else, bad JSON or no answer fails.
  valkey  connect and authenticate, a series of PINGs (p50 and max), INFO:
          version, role, uptime, clients, memory against maxmemory (warns
          above 90 %), the eviction policy, connections against maxclients
          (warns at 80 %), rejected connections; the TLS certificate (warns
          under 21 days left, fails once expired) and TLS version. In a
          cluster: every node and the cluster state.
  pubsub  API instances subscribed per Socket.IO namespace (classic: PUBSUB
          NUMSUB <key>-request#<nsp>#; sharded: SHARDNUMSUB <key>#<nsp>#). It
          never subscribes. Fails when there are none, warns when fewer than
          socketio.expected_instances. CLIENT LIST: fails on a stray plain
          subscriber of a request channel (more subscribers than instances,
          named by address and client name); warns when clients were cut off
          at the output-buffer limit (INFO client_output_buffer_limit_
          disconnections) or a pattern subscriber's omem passes half the
          soft limit (¼ of DigitalOcean's pubsub_client_output_buffer_limit
          with a token, else 8 MiB).
  ratelimit
          can the API's limiter (rate-limit-redis) run on this server?
          SCRIPT EXISTS of the known rate-limit-redis scripts (6.0.1, 4.3.1;
          read-only; every primary of a cluster): fails when scripting is
          refused (DigitalOcean refuses EVAL/EVALSHA/SCRIPT unless support
          enables them, and every limited route then errors), warns when no
          known script is loaded (no limited request since a restart or
          failover, or the API uses another server), ok naming the library
          version. Also warns when keys were evicted under a policy other
          than noeviction (evicted counters lift limits), and on OOM, NOPERM
          or NOSCRIPT errors (INFO errorstats).
  do      the managed cluster (--cluster) on DigitalOcean: online is ok;
          creating, resizing, migrating or forking warn; missing or not a
          Valkey cluster fails. A failover or maintenance in the last 24 h
          and a pending maintenance warn (the event log unread is a note).

A check whose settings are absent is skipped with "not configured":
  api     needs the API URL from --api-url, OXY_API_URL or the context (the
          built-in default https://api.oxy.so alone does not count, so a run
          with nothing configured reaches nothing);
  valkey  needs a Valkey URL (--redis-url, OXYCTL_REDIS_URL, REDIS_URL);
  pubsub  needs a Valkey URL too;
  ratelimit
          needs a Valkey URL too;
  do      needs a DigitalOcean token (DIGITALOCEAN_ACCESS_TOKEN).

A check that does not finish in time fails ("timed out"): that is a finding
(exit 1), not a tool error.

--watch repeats the checks every --interval until Ctrl-C: on a terminal the
table is redrawn in place; with -o json each round is one JSON line. Ctrl-C
ends it with exit 0 and a summary on stderr. Counters that only grow
(evicted keys, rejected connections, OOM errors, ...) are reported as the
growth since the previous round, not the total since the server started.

EXIT STATUS
  0    every check is ok, skipped or (without --strict) a warning; --watch
       always ends with 0 on Ctrl-C
  1    a check failed (or timed out), or with --strict a check warned
  2    usage or configuration error (bad flag, unknown check, bad config file)
  3    a bug in a check (a crash), reported as a runtime error
  130  interrupted by Ctrl-C (one-shot run)
`

const healthExample = `$ oxyctl health
$ oxyctl health --check valkey,pubsub --strict
$ oxyctl health --check ratelimit -o json | jq .checks[0].data.scripting
$ oxyctl health -o json | jq '.checks[] | select(.status != "ok")'
$ oxyctl health --watch --interval 10s
`

// NewCmdHealth builds `oxyctl health`. runF replaces the run in tests.
func NewCmdHealth(f *cmdutil.Factory, runF func(context.Context, *healthOptions) error) *cobra.Command {
	opts := &healthOptions{IO: f.IO, Settings: f.Settings, Now: f.Now, UserAgent: f.UserAgent()}
	opts.Build = func(s *config.Settings, names []string) []probe.Check {
		return probe.FromSettings(s, names, probe.Env{UserAgent: opts.UserAgent, Now: opts.Now, ValkeyOptions: f.ValkeyOptions, Valkey: f.Valkey})
	}
	cmd := &cobra.Command{
		Use:     "health",
		Short:   "Check the API, Valkey, the Socket.IO adapter, the rate limiter and the managed database, concurrently",
		Long:    healthLong,
		Example: healthExample,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			names, err := probe.ParseNames(opts.CheckArgs)
			if err != nil {
				return err
			}
			opts.Checks = names
			if cmd.Flags().Changed("interval") && !opts.Watch {
				return apperr.Usagef("--interval only makes sense with --watch")
			}
			if opts.Interval < MinInterval {
				return apperr.Usagef("--interval must be at least %s, got %s (each round runs every probe)", MinInterval, opts.Interval)
			}
			opts.Format = f.Format()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return healthRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.CheckArgs, "check", nil, "checks to run, comma-separated: {api|valkey|pubsub|ratelimit|do} (default all)")
	fl.BoolVar(&opts.Strict, "strict", false, "exit 1 on a warning too")
	fl.BoolVarP(&opts.Watch, "watch", "w", false, "repeat the checks until Ctrl-C")
	fl.DurationVar(&opts.Interval, "interval", DefaultInterval, "pause between --watch rounds")
	_ = cmd.RegisterFlagCompletionFunc("check", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return probe.Names, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func healthRun(ctx context.Context, opts *healthOptions) error {
	s, err := opts.Settings()
	if err != nil {
		return err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	runner := &probe.Runner{Timeout: s.Timeout, OnPanic: func(check string, stack []byte) {
		opts.IO.Debugf("check %s panicked:\n%s", check, stack)
	}}
	if opts.Watch {
		return watch(ctx, opts, s, runner)
	}
	rep, err := runner.Run(ctx, opts.Build(s, opts.Checks))
	if err != nil {
		return err
	}
	if err := output.Print(opts.IO, opts.Format, rep, func(w io.Writer, th *output.Theme) error {
		return renderText(w, th, rep)
	}); err != nil {
		return err
	}
	return rep.Err(opts.Strict)
}

// watch runs rounds until ctx ends (Ctrl-C), then prints a summary on stderr.
func watch(ctx context.Context, opts *healthOptions, s *config.Settings, runner *probe.Runner) error {
	started := opts.Now()
	rounds := 0
	var last probe.Status
	seen := map[probe.Status]int{}
	lines := output.NewJSONLines(opts.IO.Out)
	var crash error
	// Each round reports the growth of the server's counters (evictions,
	// rejections, disconnections, errors) since the round before.
	counters := probe.NewCounters()
	for {
		rep, err := runner.Run(probe.WithCounters(ctx, counters), opts.Build(s, opts.Checks))
		counters.Next()
		if err != nil {
			if errors.Is(err, apperr.ErrInterrupted) {
				break
			}
			return err
		}
		rounds++
		last = rep.Status
		seen[rep.Status]++
		at := opts.Now()
		if opts.Format == output.JSON {
			if err := lines.Write(round{Kind: "round", Round: rounds, Time: at.UTC().Format(time.RFC3339), Report: rep}); err != nil {
				return err
			}
		} else {
			th := output.NewTheme(opts.IO)
			var b strings.Builder
			if th.TTY {
				opts.IO.Control("\x1b[H\x1b[2J") // redraw in place
			} else if rounds > 1 {
				b.WriteString("\n")
			}
			when := at.UTC().Format(time.RFC3339)
			if th.TTY {
				when = at.Format("15:04:05")
			}
			fmt.Fprintf(&b, "%s\n", th.Muted.Render(fmt.Sprintf("oxyctl health — round %d at %s, every %s (Ctrl-C to stop)", rounds, when, opts.Interval)))
			_ = renderText(&b, th, rep)
			if _, err := io.WriteString(opts.IO.Out, b.String()); err != nil {
				return err
			}
		}
		if err := rep.Err(false); err != nil && crash == nil {
			var re *apperr.RuntimeError
			if errors.As(err, &re) {
				crash = err // a bug in a check: keep watching, report at the end
			}
		}
		t := time.NewTimer(opts.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	var parts []string
	for _, st := range []probe.Status{probe.OK, probe.Warn, probe.Fail} {
		if seen[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", seen[st], st))
		}
	}
	summary := fmt.Sprintf("health: %d rounds in %s", rounds, opts.Now().Sub(started).Round(time.Second))
	if len(parts) > 0 {
		summary += ": " + strings.Join(parts, ", ") + fmt.Sprintf(" (last: %s)", last)
	}
	fmt.Fprintln(opts.IO.ErrOut, summary)
	return crash
}

// round is one --watch line in JSON.
type round struct {
	Kind  string `json:"kind"`
	Round int    `json:"round"`
	Time  string `json:"time"`
	*probe.Report
}

// renderText writes the table and the overall line.
func renderText(w io.Writer, th *output.Theme, rep *probe.Report) error {
	rows := make([][]string, 0, len(rep.Checks))
	for _, c := range rep.Checks {
		latency := "-"
		if c.Status != probe.Skip {
			latency = fmt.Sprintf("%dms", c.LatencyMS)
		}
		rows = append(rows, []string{c.Name, symbol(c.Status) + " " + th.Status(string(c.Status)), latency, redact.String(c.Detail)})
	}
	var b strings.Builder
	b.WriteString(th.Table([]string{"CHECK", "STATUS", "LATENCY", "DETAIL"}, rows))
	if !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
	counts := rep.Counts()
	var parts []string
	for _, st := range []probe.Status{probe.OK, probe.Warn, probe.Fail, probe.Skip} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	fmt.Fprintf(&b, "overall: %s %s (%s)\n", symbol(rep.Status), th.Status(string(rep.Status)), strings.Join(parts, ", "))
	_, err := io.WriteString(w, b.String())
	return err
}

func symbol(s probe.Status) string {
	switch s {
	case probe.OK:
		return "✓"
	case probe.Warn:
		return "!"
	case probe.Fail:
		return "✗"
	}
	return "–"
}
