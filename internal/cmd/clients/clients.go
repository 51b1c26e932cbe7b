// Package clients is `oxyctl clients`.
package clients

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/adaptertap"
	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/clientlist"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/human"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// StrayNote is the note when the server refuses PUBSUB: the stray check
// cannot count a request channel's subscribers.
const StrayNote = "could not look for stray subscribers: PUBSUB is refused by the server"

type clientsOptions struct {
	IO       *iostreams.IOStreams
	Settings func() (*config.Settings, error)
	Valkey   func(context.Context) (*valkeyclient.Conn, error)
	DO       func(context.Context) (*doapi.Client, error)
	Format   output.Format

	Type  string // "", normal or pubsub
	Group string // addr, name or none
}

const clientsLong = `Show who is connected: CLIENT LIST of every node, grouped by the address the
clients connect from (--group addr, the default), by client name, or not at
all. Each group shows its connections, how many are in pub/sub mode, their
output-buffer memory (omem), the longest idle time, the client names and
libraries, and what the address is when a DigitalOcean token is set: a
Droplet, or a Kubernetes node (a Droplet tagged k8s:<cluster id>), matched on
its private or public IPv4 address. oxyctl's own connection is labelled
"oxyctl (this run)".

Findings, below the tables:
  stray_subscriber (error)  a client holds a plain subscription while a
      request channel of the Socket.IO adapter (<key>-request#<nsp>#) has more
      subscribers than there are adapter instances (one response channel each):
      every fetchSockets() then waits for an answer that never comes. CLIENT
      LIST has subscription counts, not channel names: the candidates are the
      clients whose subscriptions are not shaped like an instance's (per
      namespace one pattern and two or three plain ones). Each is named when
      there are exactly as many as extra subscribers; otherwise the channel is
      one finding that lists them. A server that refuses PUBSUB gives a note
      instead.
  buffer (warning)  a pub/sub client's omem is over half the soft limit: a
      quarter of DigitalOcean's pubsub_client_output_buffer_limit when a token
      is set, else Valkey's default of 8 MiB. Past the limit the server cuts it
      off and what was published meanwhile is lost for it.
  headroom (warning)  connections are at 80 % or more of the cap: INFO
      maxclients, or with a token the DigitalOcean plan's cap (max(10000, 4
      per MiB of the size)) when lower; past the cap new connections are
      refused.

--type pubsub or normal lists only those clients (the findings still look at
every client). Only CLIENT ID, CLIENT LIST, INFO and PUBSUB are sent; a server
that refuses CLIENT LIST gives a note instead of the tables.

EXIT STATUS
  0    no finding of severity error
  1    a finding of severity error (a stray subscriber)
  2    usage or configuration error (bad flag, no Valkey URL)
  3    runtime error (cannot connect, TLS, authentication, timeout)
  130  interrupted by Ctrl-C
`

// NewCmdClients builds `oxyctl clients`. runF replaces the run in tests.
func NewCmdClients(f *cmdutil.Factory, runF func(context.Context, *clientsOptions) error) *cobra.Command {
	opts := &clientsOptions{IO: f.IO, Settings: f.Settings, Valkey: f.Valkey, DO: f.DO}
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Show who is connected, grouped by address, with stray subscribers and full buffers",
		Long:  clientsLong,
		Example: "  $ oxyctl clients\n" +
			"  $ oxyctl clients --type pubsub\n" +
			"  $ oxyctl clients --group name -o json | jq '.findings'",
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return clientsRun(cmd.Context(), opts)
		},
	}
	cmdutil.StringEnumFlag(cmd, &opts.Type, "type", "", "", []string{clientlist.TypeNormal, clientlist.TypePubSub}, "list only clients of this type (default every client)")
	cmdutil.StringEnumFlag(cmd, &opts.Group, "group", "", clientlist.GroupAddr, []string{clientlist.GroupAddr, clientlist.GroupName, clientlist.GroupNone}, "group clients by")
	return cmd
}

func clientsRun(ctx context.Context, opts *clientsOptions) error {
	s, err := opts.Settings()
	if err != nil {
		return err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	conn, err := opts.Valkey(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()

	// The DigitalOcean API is asked meanwhile, only when a token is set.
	type doResult struct {
		soft    clientlist.Limit
		plan    doapi.Plan
		resolve func(string) string
		notes   []string
	}
	doDone := make(chan doResult, 1)
	go func() {
		r := doResult{soft: clientlist.DefaultSoft}
		defer func() {
			if p := recover(); p != nil {
				r.notes = append(r.notes, fmt.Sprintf("DigitalOcean: internal error (a bug): %v", p))
			}
			doDone <- r
		}()
		if s.DOToken == "" {
			return
		}
		api, err := opts.DO(ctx)
		if err != nil {
			r.notes = append(r.notes, "DigitalOcean: "+apperr.Text(err))
			return
		}
		if cl, err := api.FindCluster(ctx, s.Cluster); err != nil {
			r.notes = append(r.notes, "DigitalOcean cluster: "+apperr.Text(err)+" (soft limit judged against "+clientlist.DefaultSoft.From+", cap from maxclients)")
		} else {
			r.plan = doapi.PlanOf(cl.Size)
			if r.soft, err = clientlist.SoftOfCluster(ctx, api, cl.ID); err != nil {
				r.notes = append(r.notes, "soft limit from DigitalOcean: "+apperr.Text(err)+" (judged against "+clientlist.DefaultSoft.From+")")
			}
		}
		if r.resolve, err = clientlist.ResolverFromDO(ctx, api); err != nil {
			r.notes = append(r.notes, "addresses not resolved: "+apperr.Text(err))
		}
	}()

	snap, err := clientlist.Read(ctx, conn)
	if err != nil {
		return valkeyclient.Classify(err, conn.Target)
	}
	o := clientlist.Options{Type: opts.Type, Group: opts.Group}
	if !s.SocketIO.Sharded {
		rep, err := adaptertap.Channels(ctx, adaptertap.ChannelsOptions{Key: s.SocketIO.Key, Conn: conn})
		switch {
		case valkeyclient.IsRefused(err) || valkeyclient.IsUnsupported(err):
			// Only the stray check needs PUBSUB: it says it could not look.
			o.Notes = append(o.Notes, StrayNote)
		case err != nil:
			return valkeyclient.Classify(err, conn.Target)
		default:
			o.Channels = rep.RequestChannels()
		}
	}
	dr := <-doDone
	if errors.Is(parent.Err(), context.Canceled) {
		// Ctrl-C while DigitalOcean was asked: its lookups ended as notes,
		// but the run was interrupted, not done.
		return apperr.ErrInterrupted
	}
	o.Soft, o.Resolve, o.Plan, o.Notes = dr.soft, dr.resolve, dr.plan, append(o.Notes, dr.notes...)
	rep := clientlist.Build(snap, o)
	for _, n := range rep.Notes {
		opts.IO.Warnf("%s", n)
	}
	if err := output.Print(opts.IO, opts.Format, rep, func(w io.Writer, th *output.Theme) error {
		render(w, th, rep, opts.Group)
		return nil
	}); err != nil {
		return err
	}
	if rep.HasError() {
		return &apperr.FindingsError{}
	}
	return nil
}

func render(w io.Writer, th *output.Theme, rep *clientlist.Report, group string) {
	capText := "cap unknown"
	if rep.Cap > 0 {
		capText = fmt.Sprintf("cap %d (%s)", rep.Cap, rep.CapFrom)
		if rep.CapFrom == doapi.CapFromPlan {
			capText = fmt.Sprintf("cap %d (the DigitalOcean plan's, below maxclients)", rep.Cap)
		}
	}
	fmt.Fprintf(w, "%d connections, %s; pub/sub soft limit %s (%s)\n", rep.Total, capText, human.Bytes(rep.SoftLimitBytes), rep.SoftLimitFrom)
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	if len(rep.Groups) > 0 {
		head := "ADDRESS"
		if group == clientlist.GroupName {
			head = "NAME"
		}
		rows := make([][]string, 0, len(rep.Groups))
		for _, g := range rep.Groups {
			rows = append(rows, []string{dash(g.Key), dash(g.ResolvesTo), strconv.Itoa(g.Connections), strconv.Itoa(g.PubSub),
				human.Bytes(g.OMemBytes), seconds(g.MaxIdleS), dash(strings.Join(g.Names, ", ")), dash(strings.Join(g.Libs, ", "))})
		}
		fmt.Fprintln(w)
		fmt.Fprint(w, th.Table([]string{head, "RESOLVES TO", "CONNS", "PUBSUB", "OMEM", "MAX IDLE", "NAMES", "LIBS"}, rows))
	}
	if len(rep.Clients) > 0 {
		// One row at a time: 10,000 clients held as rows of cells were the
		// largest part of the run's memory.
		cells := make([]string, 12)
		fmt.Fprintln(w)
		_ = th.TableFunc(w, []string{"ID", "ADDR", "NAME", "LIB", "AGE", "IDLE", "SUB", "PSUB", "SSUB", "OMEM", "FLAGS", "RESOLVES TO"}, len(rep.Clients), func(i int) []string {
			c := &rep.Clients[i]
			cells[0], cells[1], cells[2], cells[3] = strconv.FormatInt(c.ID, 10), c.Addr, dash(c.Name), dash(c.Lib)
			cells[4], cells[5] = seconds(c.AgeS), seconds(c.IdleS)
			cells[6], cells[7], cells[8] = strconv.FormatInt(c.Sub, 10), strconv.FormatInt(c.PSub, 10), strconv.FormatInt(c.SSub, 10)
			cells[9], cells[10], cells[11] = human.Bytes(c.OMemBytes), c.Flags, dash(c.ResolvesTo)
			return cells
		})
	}
	if len(rep.Findings) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "findings:")
		for _, f := range rep.Findings {
			fmt.Fprintf(w, "  %s  %s  %s\n", th.Status(f.Severity), f.Kind, f.Message)
		}
	}
}

func seconds(s int64) string { return (time.Duration(s) * time.Second).String() }
