package pubsub

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/adaptertap"
	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/socketio"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

type tailOptions struct {
	IO       *iostreams.IOStreams
	Settings func() (*config.Settings, error)
	Valkey   func(context.Context) (*valkeyclient.Conn, error)
	Format   output.Format
	Timeout  func() time.Duration
	Now      func() time.Time

	Key              string
	Namespaces       []string
	Rooms            []string
	Events           []string
	Requests         bool
	Sharded          bool
	ShardedSet       bool
	ShardedSubscribe bool
	Raw              bool
	Count            int64
	Duration         time.Duration
	ReconnectTimeout time.Duration

	// For tests: called once every source is subscribed, and the backoff.
	ready                  func()
	backoffMin, backoffMax time.Duration
}

const tailLong = `Decode the Socket.IO adapter's pub/sub traffic as it flows: namespace, event,
arguments (binary shown by size; base64 in JSON), target rooms and excluded
rooms, flags, the sending instance's uid, and request types by name.

Tailing never changes what the application sees. Classic traffic is read with
PSUBSCRIBE on the adapter key's patterns only (` + "`<key>#*`" + `, ` + "`<key>-request#*`" + `,
` + "`<key>-response#*`" + `): a plain SUBSCRIBE on a request channel would raise the
adapter's server count and make fetchSockets() time out. In a Valkey Cluster one
connection sees every node's PUBLISH traffic.

The sharded adapter (--sharded, or socketio.sharded) publishes with SPUBLISH,
which has no pattern subscribe: tail reads it through MONITOR on every primary.
MONITOR costs the server CPU and memory for every command it runs, so a warning
is printed. --sharded-subscribe reads with SSUBSCRIBE instead, which does change
what the app sees (see the flag).

By default only broadcasts are shown (including acknowledged broadcasts);
--requests adds the instances' requests and responses (fetchSockets,
serverSideEmit, socketsJoin, ...). --namespace, --room and --event narrow the
stream; each may be repeated. A message that cannot be decoded is always shown,
as kind "unknown" with its raw bytes.

Output: one line per message. With -o json, one JSON object per line:
{"time","channel","kind":"broadcast|request|response|unknown|gap",...}; a binary
argument is {"binary":"<base64>","size":N}; --raw adds the payload (hex in text,
base64 in JSON).

If the connection drops, tail reconnects with backoff, subscribes again and
reports the gap: a notice on stderr, and in JSON a {"kind":"gap","from","to"}
record on stdout. --timeout bounds connecting, not the stream.

--count and --duration end the tail; so does Ctrl-C. Each ends with a summary
on stderr (messages, by event) and exit status 0.

EXIT STATUS
  0  ended by --count, --duration or Ctrl-C
  2  usage or configuration error (no Valkey URL, bad flag)
  3  cannot connect or subscribe, TLS, authentication, timeout, or the
     connection stayed down longer than --reconnect-timeout
`

func newCmdTail(f *cmdutil.Factory, runF func(context.Context, *tailOptions) error) *cobra.Command {
	opts := &tailOptions{IO: f.IO, Settings: f.Settings, Valkey: f.Valkey, Timeout: f.Timeout, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Decode the adapter's traffic live",
		Long:  tailLong,
		Example: "  $ oxyctl pubsub tail\n" +
			"  $ oxyctl pubsub tail --namespace /chat --room lobby --count 20\n" +
			"  $ oxyctl pubsub tail --event message --duration 1m -o json | jq .args\n" +
			"  $ oxyctl pubsub tail --requests --raw\n" +
			"  $ oxyctl pubsub tail --sharded",
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			opts.ShardedSet = cmd.Flags().Changed("sharded")
			if opts.Count < 0 {
				return apperr.Usagef("--count must not be negative")
			}
			if opts.Duration < 0 {
				return apperr.Usagef("--duration must not be negative")
			}
			if opts.ReconnectTimeout < 0 {
				return apperr.Usagef("--reconnect-timeout must not be negative")
			}
			if opts.ShardedSet && !opts.Sharded && opts.ShardedSubscribe {
				return apperr.Usagef("--sharded-subscribe reads the sharded adapter: it cannot go with --sharded=false")
			}
			for i, n := range opts.Namespaces {
				opts.Namespaces[i] = normNamespace(n)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return tailRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Key, "key", "", "the adapter's key / channel prefix (default: socketio.key, else socket.io)")
	fl.StringArrayVar(&opts.Namespaces, "namespace", nil, "only this namespace, e.g. / or /chat (repeatable)")
	fl.StringArrayVar(&opts.Rooms, "room", nil, "only messages that target this room (repeatable)")
	fl.StringArrayVar(&opts.Events, "event", nil, "only this event (repeatable)")
	fl.BoolVar(&opts.Requests, "requests", false, "also show the instances' requests and responses")
	fl.BoolVar(&opts.Sharded, "sharded", false, "the app uses the sharded adapter: read SPUBLISH traffic through MONITOR (default: socketio.sharded)")
	fl.BoolVar(&opts.ShardedSubscribe, "sharded-subscribe", false,
		"read sharded traffic with SSUBSCRIBE instead of MONITOR. SIDE EFFECT: it raises SHARDNUMSUB,\nso the running app counts oxyctl as a server and its fetchSockets() times out while tail runs")
	fl.BoolVar(&opts.Raw, "raw", false, "add the raw payload (hex in text, base64 in JSON)")
	fl.Int64Var(&opts.Count, "count", 0, "stop after N messages (0: no limit)")
	fl.DurationVar(&opts.Duration, "duration", 0, "stop after this long, e.g. 30s (0: no limit)")
	fl.DurationVar(&opts.ReconnectTimeout, "reconnect-timeout", 5*time.Minute, "give up (exit 3) when the connection stays down this long (0: never)")
	return cmd
}

func tailRun(ctx context.Context, opts *tailOptions) error {
	s, err := opts.Settings()
	if err != nil {
		return err
	}
	sharded := s.SocketIO.Sharded || opts.ShardedSubscribe
	if opts.ShardedSet {
		sharded = opts.Sharded || opts.ShardedSubscribe
	}
	key := adapterKey(opts.Key, s)
	for i, n := range opts.Namespaces {
		opts.Namespaces[i] = normNamespace(n)
	}
	mode := adaptertap.ModePSubscribe
	switch {
	case opts.ShardedSubscribe:
		mode = adaptertap.ModeSSubscribe
	case sharded:
		mode = adaptertap.ModeMonitor
	}
	t := &tailer{opts: opts, key: key, w: bufio.NewWriterSize(opts.IO.Out, 64<<10)}
	if opts.Format != output.JSON {
		t.th = output.NewTheme(opts.IO)
	}
	timeout := opts.Timeout()
	end, err := adaptertap.Tail(ctx, adaptertap.TailOptions{
		Config: adaptertap.Config{
			Mode: mode, Key: key, Namespaces: opts.Namespaces,
			ClientName:       "oxyctl-monitor",
			Timeout:          timeout,
			ReconnectTimeout: opts.ReconnectTimeout,
			BackoffMin:       opts.backoffMin,
			BackoffMax:       opts.backoffMax,
			Now:              opts.Now,
		},
		Connect: func(ctx context.Context) (*valkeyclient.Conn, error) {
			conn, err := opts.Valkey(ctx)
			if err == nil {
				warnMode(opts.IO, mode)
			}
			return conn, err
		},
		Filter:   adaptertap.Filter{Namespaces: opts.Namespaces, Rooms: opts.Rooms, Events: opts.Events, Requests: opts.Requests},
		Sharded:  sharded,
		Raw:      opts.Raw,
		Count:    opts.Count,
		Duration: opts.Duration,
	}, t)
	if end != nil {
		t.printSummary(end)
	}
	return err
}

// warnMode says what reading in this mode costs the server or the app.
func warnMode(ios *iostreams.IOStreams, mode adaptertap.Mode) {
	switch mode {
	case adaptertap.ModeMonitor:
		ios.Warnf("--sharded reads SPUBLISH traffic through MONITOR on every primary: the server copies every command it runs to oxyctl, which costs it CPU and memory while tail runs (keep it short on a busy server)")
	case adaptertap.ModeSSubscribe:
		ios.Warnf("--sharded-subscribe: oxyctl SSUBSCRIBEs to the adapter's channels, which raises SHARDNUMSUB: while tail runs, the app counts oxyctl as a server and fetchSockets(), allRooms() and acknowledged serverSideEmit() time out")
	}
}

func outputErr(err error) error {
	return apperr.Runtime(apperr.KindInternal, fmt.Errorf("writing output: %w", err), "")
}

// tailer renders what a tail shows: messages and gaps on stdout (text or
// JSON lines), notices on stderr. It is the tail's adaptertap.Sink.
type tailer struct {
	opts *tailOptions
	th   *output.Theme // nil in JSON mode
	key  string
	w    *bufio.Writer

	buf   []byte // the output line, reused
	ready int
}

// Event shows a ready, lost or gap event.
func (t *tailer) Event(ev adaptertap.Event) error {
	switch ev.Kind {
	case adaptertap.EventReady:
		t.ready++
		t.opts.IO.Debugf("tail: %s on %s", ev.Detail, ev.Node)
		if ev.AllReady {
			if t.opts.IO.IsStderrTTY() && t.th != nil {
				fmt.Fprintln(t.opts.IO.ErrOut, t.th.Muted.Render(fmt.Sprintf("tailing %s on %d server(s); Ctrl-C to stop", t.key, t.ready)))
			}
			if t.opts.ready != nil {
				t.opts.ready()
			}
		}
	case adaptertap.EventLost:
		_ = t.w.Flush()
		t.opts.IO.Warnf("lost the connection to %s: %s; reconnecting", ev.Node, reason(ev.Err))
	case adaptertap.EventGap:
		if ev.Dropped > 0 {
			t.opts.IO.Warnf("gap: %d message(s) from %s to %s on %s dropped: the output could not keep up (the tail holds at most %d MiB)",
				ev.Dropped, ev.From.UTC().Format(timeMillis), ev.To.UTC().Format(timeMillis), ev.Node, adaptertap.DefaultBufferBytes>>20)
		} else {
			t.opts.IO.Warnf("gap: messages from %s to %s (%s) on %s may be missing; subscribed again",
				ev.From.UTC().Format(timeMillis), ev.To.UTC().Format(timeMillis), ev.To.Sub(ev.From).Round(time.Millisecond), ev.Node)
		}
		if t.th == nil {
			t.buf = appendGapJSON(t.buf[:0], ev)
			if _, err := t.w.Write(t.buf); err != nil {
				return outputErr(err)
			}
		}
	}
	return nil
}

// Message shows one message: a JSON line, or a text line.
func (t *tailer) Message(m *socketio.Message) error {
	if t.th == nil {
		t.buf = socketio.AppendJSON(t.buf[:0], m)
		t.buf = append(t.buf, '\n')
	} else {
		t.buf = t.appendText(t.buf[:0], m)
	}
	if _, err := t.w.Write(t.buf); err != nil {
		return outputErr(err)
	}
	return nil
}

// Flush writes out what is buffered.
func (t *tailer) Flush() error {
	if err := t.w.Flush(); err != nil {
		return outputErr(err)
	}
	return nil
}

const timeMillis = "2006-01-02T15:04:05.000Z07:00"

func appendGapJSON(b []byte, ev adaptertap.Event) []byte {
	b = append(b, `{"time":"`...)
	b = ev.To.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","channel":"","kind":"gap","from":"`...)
	b = ev.From.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","to":"`...)
	b = ev.To.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration_ms":`...)
	b = strconv.AppendInt(b, ev.To.Sub(ev.From).Milliseconds(), 10)
	b = append(b, `,"node":`...)
	b = strconv.AppendQuote(b, ev.Node)
	b = append(b, `,"reason":`...)
	b = strconv.AppendQuote(b, reason(ev.Err))
	if ev.Dropped > 0 {
		b = append(b, `,"dropped":`...)
		b = strconv.AppendInt(b, ev.Dropped, 10)
	}
	return append(b, "}\n"...)
}

// reason is why a connection was lost, on one line, secrets hidden.
func reason(err error) string {
	if err == nil {
		return "connection lost"
	}
	return apperr.Text(err)
}

func (t *tailer) printSummary(end *adaptertap.TailEnd) {
	s, reason := end.Summary, end.Reason
	var b strings.Builder
	fmt.Fprintf(&b, "tail: %d message(s) in %s", s.Messages, end.Elapsed.Round(time.Millisecond))
	if len(s.ByKind) > 0 {
		var parts []string
		for _, c := range adaptertap.Sorted(s.ByKind) {
			parts = append(parts, fmt.Sprintf("%s %d", c.Name, c.Count))
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	if s.Dropped > 0 {
		fmt.Fprintf(&b, "; %d message(s) dropped: the output could not keep up", s.Dropped)
	}
	if s.Gaps > 0 {
		fmt.Fprintf(&b, "; %d gap(s): messages may be missing", s.Gaps)
	}
	if reason == adaptertap.EndCount || reason == adaptertap.EndDuration {
		fmt.Fprintf(&b, "; stopped by --%s", reason)
	}
	b.WriteString("\n")
	if len(s.ByEvent) > 0 {
		var parts []string
		sorted := adaptertap.Sorted(s.ByEvent)
		for i, c := range sorted {
			if i == 20 {
				parts = append(parts, fmt.Sprintf("and %d more", len(sorted)-20))
				break
			}
			parts = append(parts, fmt.Sprintf("%s %d", c.Name, c.Count))
		}
		fmt.Fprintf(&b, "  by event: %s\n", strings.Join(parts, ", "))
	}
	_, _ = io.WriteString(t.opts.IO.ErrOut, b.String())
}

// appendText renders one message as one line: time, namespace, what it is
// (event or request type), target rooms and excluded rooms, flags, origin,
// request id, then the arguments. On a terminal the line is cut to the
// width; elsewhere it is whole. --raw adds the payload in hex on the next
// line.
func (t *tailer) appendText(b []byte, m *socketio.Message) []byte {
	th := t.th
	var line strings.Builder
	if th.TTY {
		line.WriteString(paint(th, th.Muted, m.Time.Local().Format("15:04:05.000")))
	} else {
		line.WriteString(m.Time.UTC().Format(timeMillis))
	}
	line.WriteString(" ")
	ns := m.Namespace
	if ns == "" {
		ns = m.Channel
	}
	line.WriteString(paint(th, th.Key, ns))
	line.WriteString(" ")
	switch m.Kind {
	case socketio.KindBroadcast:
		line.WriteString(paint(th, th.Header, orDash(m.Event)))
	case socketio.KindUnknown:
		line.WriteString(paint(th, th.Warn, "unknown"))
	default:
		label := m.Type
		if label == "" {
			label = m.Kind
		}
		line.WriteString(paint(th, th.Muted, m.Kind) + " " + paint(th, th.Header, label))
		if m.Event != "" {
			line.WriteString(" " + paint(th, th.Header, m.Event))
		}
	}
	var attrs []string
	if m.Kind == socketio.KindBroadcast || m.Kind == socketio.KindRequest {
		switch {
		case len(m.Rooms) > 0:
			attrs = append(attrs, "to="+strings.Join(m.Rooms, ","))
		case m.Kind == socketio.KindBroadcast:
			attrs = append(attrs, "to=all")
		}
		if len(m.Except) > 0 {
			attrs = append(attrs, "except="+strings.Join(m.Except, ","))
		}
	}
	if len(m.Flags) > 0 {
		attrs = append(attrs, "flags="+summarizeFlags(m.Flags))
	}
	if m.Origin != "" {
		attrs = append(attrs, "from="+m.Origin)
	}
	if m.RequestID != "" {
		attrs = append(attrs, "id="+m.RequestID)
	}
	if m.Kind == socketio.KindUnknown {
		attrs = append(attrs, fmt.Sprintf("channel=%s size=%d", m.Channel, len(m.Raw)))
		if m.Problem != "" {
			attrs = append(attrs, "problem="+strconv.Quote(m.Problem))
		}
	}
	for _, a := range attrs {
		line.WriteString(" " + a)
	}
	var args []string
	for _, a := range m.Args {
		args = append(args, summarize(a, 0))
	}
	if d, ok := m.Data.(map[string]any); ok {
		for _, kv := range sortedKeys(d) {
			args = append(args, kv+"="+summarize(d[kv], 0))
		}
	} else if m.Data != nil {
		args = append(args, "data="+summarize(m.Data, 0))
	}
	if len(args) > 0 {
		line.WriteString("  " + strings.Join(args, " "))
	}
	s := line.String()
	if th.TTY && th.Width > 0 {
		s = truncateWidth(s, th.Width)
	}
	b = append(b, s...)
	b = append(b, '\n')
	if t.opts.Raw {
		b = append(b, "  raw "...)
		b = hex.AppendEncode(b, m.Raw)
		b = append(b, '\n')
	}
	return b
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// paint styles s, or leaves it alone when color is off (lipgloss would
// only spend time to change nothing).
func paint(th *output.Theme, st lipgloss.Style, s string) string {
	if !th.Color {
		return s
	}
	return st.Render(s)
}
