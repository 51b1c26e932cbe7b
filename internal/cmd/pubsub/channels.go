package pubsub

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/adaptertap"
	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

type channelsOptions struct {
	IO       *iostreams.IOStreams
	Settings func() (*config.Settings, error)
	Valkey   func(context.Context) (*valkeyclient.Conn, error)
	Format   output.Format
	Timeout  func() time.Duration

	Key         string
	Sharded     bool
	ShardedSet  bool
	Expected    int
	ExpectedSet bool
}

const channelsLong = `List the Socket.IO adapter's live channels per namespace and count the API
instances listening on each.

Classic adapter: an instance is a subscriber of ` + "`<key>-request#<nsp>#`" + `
(PUBSUB NUMSUB, the number the adapter's own serverCount() uses), and its uid
comes from its response channel ` + "`<key>-response#<nsp>#<uid>#`" + `. Broadcast
channels are pattern-subscribed, so their NUMSUB is always 0 and never counts.
In a Valkey Cluster every node is asked (classic subscriptions live on the node
each client connected to) and the counts are summed.

Sharded adapter (--sharded, or socketio.sharded): SHARDNUMSUB of the main
channel ` + "`<key>#<nsp>#`" + `, and uids from the response channels, on every shard.

Each namespace is compared with the expected instance count (--expected, or
socketio.expected_instances; unset: at least one). More subscribers than uids
means something that is not an adapter subscribed to the request channel:
fetchSockets() then times out in the app.

EXIT STATUS
  0  every namespace has the instances expected (warnings do not count)
  1  a namespace has fewer instances than expected, or no adapter channel exists
  2  usage or configuration error (no Valkey URL, bad flag)
  3  cannot connect, TLS, authentication or timeout
`

func newCmdChannels(f *cmdutil.Factory, runF func(context.Context, *channelsOptions) error) *cobra.Command {
	opts := &channelsOptions{IO: f.IO, Settings: f.Settings, Valkey: f.Valkey, Timeout: f.Timeout}
	cmd := &cobra.Command{
		Use:   "channels",
		Short: "Show the adapter's live channels and the API instances listening",
		Long:  channelsLong,
		Example: "  $ oxyctl pubsub channels\n" +
			"  $ oxyctl pubsub channels --expected 6 -o json\n" +
			"  $ oxyctl pubsub channels --sharded --key socket.io",
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			opts.ShardedSet = cmd.Flags().Changed("sharded")
			opts.ExpectedSet = cmd.Flags().Changed("expected")
			if opts.ExpectedSet && opts.Expected < 0 {
				return apperr.Usagef("--expected must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return channelsRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Key, "key", "", "the adapter's key / channel prefix (default: socketio.key, else socket.io)")
	cmd.Flags().BoolVar(&opts.Sharded, "sharded", false, "the app uses the sharded adapter (default: socketio.sharded)")
	cmd.Flags().IntVar(&opts.Expected, "expected", 0, "instances expected per namespace (default: socketio.expected_instances; 0: at least one)")
	return cmd
}

func channelsRun(ctx context.Context, opts *channelsOptions) error {
	s, err := opts.Settings()
	if err != nil {
		return err
	}
	sharded := s.SocketIO.Sharded
	if opts.ShardedSet {
		sharded = opts.Sharded
	}
	expected := s.SocketIO.ExpectedInstances
	if opts.ExpectedSet {
		expected = opts.Expected
	}
	conn, err := opts.Valkey(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout())
	defer cancel()
	rep, err := adaptertap.Channels(ctx, adaptertap.ChannelsOptions{
		Key: adapterKey(opts.Key, s), Sharded: sharded, Expected: expected, Conn: conn,
	})
	if err != nil {
		return valkeyclient.Classify(err, conn.Target)
	}
	if err := output.Print(opts.IO, opts.Format, rep, func(w io.Writer, th *output.Theme) error {
		return renderChannels(w, th, rep)
	}); err != nil {
		return err
	}
	if rep.Status == adaptertap.StatusFail {
		return &apperr.FindingsError{}
	}
	return nil
}

func renderChannels(w io.Writer, th *output.Theme, rep *adaptertap.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s adapter, key %s, %d server(s) asked\n", rep.Adapter, rep.Key, rep.Nodes)
	if len(rep.Namespaces) > 0 {
		rows := make([][]string, 0, len(rep.Namespaces))
		for _, n := range rep.Namespaces {
			exp := ">=1"
			if n.Expected > 0 {
				exp = strconv.Itoa(n.Expected)
			}
			uids := strings.Join(n.UIDs, " ")
			if uids == "" {
				uids = "-"
			}
			rows = append(rows, []string{n.Namespace, strconv.FormatInt(n.Instances, 10), exp, th.Status(n.Status), uids})
		}
		b.WriteString("\n")
		b.WriteString(th.Table([]string{"NAMESPACE", "INSTANCES", "EXPECTED", "STATUS", "UIDS"}, rows))
		var chRows [][]string
		for _, n := range rep.Namespaces {
			for _, c := range n.Channels {
				chRows = append(chRows, []string{c.Channel, strconv.FormatInt(c.Subscribers, 10)})
			}
		}
		b.WriteString("\n")
		b.WriteString(th.Table([]string{"CHANNEL", "SUBSCRIBERS"}, chRows))
	}
	var problems []string
	for _, p := range rep.Problems {
		problems = append(problems, th.Status(adaptertap.StatusFail)+"  "+p)
	}
	for _, n := range rep.Namespaces {
		for _, p := range n.Problems {
			problems = append(problems, th.Status(n.Status)+"  "+n.Namespace+": "+p)
		}
	}
	if len(problems) > 0 {
		b.WriteString("\n")
		for _, p := range problems {
			b.WriteString(p + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
