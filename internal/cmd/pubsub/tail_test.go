package pubsub

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// fixtureByFile returns the captured message in file.
func fixtureByFile(t testing.TB, file string) *fixture {
	t.Helper()
	for _, f := range loadFixtures(t) {
		if f.File == file {
			return f
		}
	}
	t.Fatalf("fixture %s not found", file)
	return nil
}

// TestTailSurvivesRestart stops the server during a tail and starts it
// again on the same port: the tail reports the gap (a notice on stderr, a
// gap record on stdout) and decodes what is published after the restart.
func TestTailSurvivesRestart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sharded bool
		file    string
	}{
		{"psubscribe", false, "classic-broadcast-room.bin"},
		{"monitor", true, "sharded-broadcast-room.bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := valkeytest.Start(t, valkeytest.Options{})
			f := fixtureByFile(t, tc.file)
			send := func() {
				cl, err := srv.SingleClient()
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				if tc.sharded {
					spublish(t, cl, f.Channel, f.payload)
				} else {
					publish(t, cl, f.Channel, f.payload)
				}
			}
			opts, out, errOut := newTail(srv.URL, output.JSON)
			opts.Count, opts.Sharded, opts.ShardedSet = 2, tc.sharded, true
			r := startTail(t, opts)
			send()
			clitest.WaitFor(t, 5*time.Second, "the first message", func() bool { return len(out.Lines()) == 1 })

			stopped := time.Now()
			srv.Stop()
			clitest.WaitFor(t, 5*time.Second, "the lost-connection notice", func() bool {
				return strings.Contains(errOut.String(), "lost the connection to "+srv.Addr)
			})
			srv.Restart(t)
			restarted := time.Now()
			// The tail is back once the gap record is out.
			clitest.WaitFor(t, 10*time.Second, "the gap record", func() bool { return len(out.Lines()) == 2 })
			send()
			if err := r.wait(t, 10*time.Second); err != nil {
				t.Fatalf("tail: %v", err)
			}
			recs := parseRecords(t, out.Lines())
			if len(recs) != 3 {
				t.Fatalf("want message, gap, message; got:\n%s", out.String())
			}
			for _, i := range []int{0, 2} {
				if recs[i].str("kind") != "broadcast" || recs[i].str("event") != "roomEvent" || recs[i].str("channel") != f.Channel {
					t.Errorf("record %d is not the broadcast: %v", i, recs[i])
				}
			}
			gap := recs[1]
			from, err1 := time.Parse(time.RFC3339Nano, gap.str("from"))
			to, err2 := time.Parse(time.RFC3339Nano, gap.str("to"))
			if gap.str("kind") != "gap" || err1 != nil || err2 != nil {
				t.Fatalf("gap record: %v", gap)
			}
			// The server is back before Restart returns (it waits for the log
			// line), so the gap ends after the stop, not after Restart.
			if from.Before(stopped.Add(-time.Second)) || from.After(restarted) || !to.After(from) || to.After(time.Now()) {
				t.Errorf("gap %s..%s does not match the outage %s..%s", from, to, stopped, restarted)
			}
			if gap.str("node") != srv.Addr {
				t.Errorf("gap node = %q, want %s", gap.str("node"), srv.Addr)
			}
			if !strings.Contains(errOut.String(), "gap: messages from") || !strings.Contains(errOut.String(), "1 gap(s)") {
				t.Errorf("stderr lacks the gap notice or summary:\n%s", errOut.String())
			}
		})
	}
}

// TestTailGivesUp: a server that stays down longer than --reconnect-timeout
// ends the tail with a connect error (exit 3), after its summary.
func TestTailGivesUp(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	opts, _, errOut := newTail(srv.URL, output.JSON)
	opts.ReconnectTimeout = 300 * time.Millisecond
	r := startTail(t, opts)
	srv.Stop()
	err := r.wait(t, 10*time.Second)
	if code, kind := apperr.Classify(err); code != apperr.ExitRuntime || kind != apperr.KindConnect {
		t.Fatalf("err = %v (exit %d %s), want a connect error", err, code, kind)
	}
	if !strings.Contains(err.Error(), "could not reconnect within 300ms") {
		t.Errorf("error %q does not say what happened", err)
	}
	if !strings.Contains(errOut.String(), "tail: 0 message(s)") {
		t.Errorf("no summary: %q", errOut.String())
	}
}

// TestTailGivesUpOnTime: the last reconnect attempt comes at the deadline,
// not a backoff past it. (Before: --reconnect-timeout 3s gave up after 5.5s.)
func TestTailGivesUpOnTime(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	opts, _, _ := newTail(srv.URL, output.JSON)
	opts.ReconnectTimeout = 1500 * time.Millisecond
	opts.backoffMin, opts.backoffMax = time.Second, 5*time.Second
	r := startTail(t, opts)
	srv.Stop()
	stopped := time.Now()
	err := r.wait(t, 10*time.Second)
	if took := time.Since(stopped); took < 1400*time.Millisecond || took > 2500*time.Millisecond {
		t.Fatalf("gave up %s after the server stopped, want about 1.5s (err %v)", took.Round(time.Millisecond), err)
	}
	if code, kind := apperr.Classify(err); code != apperr.ExitRuntime || kind != apperr.KindConnect {
		t.Fatalf("err = %v, want a connect error", err)
	}
}

// TestTailConnectFails: no server at all is a connect error before any
// summary, within --timeout.
func TestTailConnectFails(t *testing.T) {
	port := valkeytest.FreePort(t)
	opts, out, errOut := newTail("redis://127.0.0.1:"+strconv.Itoa(port), output.JSON)
	start := time.Now()
	err := tailRun(context.Background(), opts)
	if code, _ := apperr.Classify(err); code != apperr.ExitRuntime {
		t.Fatalf("err = %v, want exit 3", err)
	}
	if time.Since(start) > 6*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	if out.String() != "" || strings.Contains(errOut.String(), "tail:") {
		t.Errorf("stdout %q stderr %q, want nothing", out.String(), errOut.String())
	}
}

// TestTailFilters: --event, --room, --namespace, and broadcasts only unless
// --requests; an undecodable message is always shown.
func TestTailFilters(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	files := []string{
		"classic-broadcast-all.bin",                 // news, /
		"classic-broadcast-room.bin",                // roomEvent to room1
		"classic-fetch-sockets-1-request.bin",       // request
		"classic-broadcast-namespace-chat-room.bin", // /chat lobbyMsg to lobby
		"classic-broadcast-with-ack-1-request.bin",  // ack broadcast "ask" (request type BROADCAST)
		"classic-broadcast-with-ack-2-response.bin", // response
		"classic-broadcast-socket-to-room.bin",      // toRoomFromSocket to room1
	}
	var fx []*fixture
	for _, name := range files {
		fx = append(fx, fixtureByFile(t, name))
	}
	for _, tc := range []struct {
		name   string
		set    func(o *tailOptions)
		events []string // the "event" (or "type") of each record, in order
	}{
		{"default: broadcasts and ack broadcasts", func(o *tailOptions) {}, []string{"news", "roomEvent", "lobbyMsg", "ask", "toRoomFromSocket"}},
		{"requests", func(o *tailOptions) { o.Requests = true }, []string{"news", "roomEvent", "REMOTE_FETCH", "lobbyMsg", "ask", "BROADCAST_CLIENT_COUNT", "toRoomFromSocket"}},
		{"event", func(o *tailOptions) { o.Events = []string{"roomEvent", "lobbyMsg"} }, []string{"roomEvent", "lobbyMsg"}},
		{"room", func(o *tailOptions) { o.Rooms = []string{"room1"} }, []string{"roomEvent", "toRoomFromSocket"}},
		{"namespace", func(o *tailOptions) { o.Namespaces = []string{"/chat"} }, []string{"lobbyMsg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, out, _ := newTail(srv.URL, output.JSON)
			tc.set(opts)
			r := startTail(t, opts)
			for _, f := range fx {
				publish(t, cl, f.Channel, f.payload)
			}
			// A message nobody can decode, on the last channel: never dropped.
			publish(t, cl, "socket.io#/chat#", []byte("\x01garbage"))
			clitest.WaitFor(t, 5*time.Second, "the undecodable message", func() bool {
				return strings.Contains(out.String(), `"kind":"unknown"`)
			})
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			recs := parseRecords(t, out.Lines())
			var got []string
			for _, rec := range recs {
				name := rec.str("event")
				if name == "" {
					name = rec.str("type")
				}
				if rec.str("kind") == "unknown" {
					name = "unknown"
				}
				got = append(got, name)
			}
			want := append(append([]string{}, tc.events...), "unknown")
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("records %v, want %v", got, want)
			}
		})
	}

	// --namespace subscribes to that namespace's patterns only.
	opts, _, _ := newTail(srv.URL, output.JSON)
	opts.Namespaces = []string{"chat"}
	opts.Count = 1
	r := startTail(t, opts)
	pats, err := cl.Do(tctx(t), cl.B().PubsubNumpat().Build()).AsInt64()
	if err != nil || pats != 3 {
		t.Errorf("NUMPAT = %d (%v), want the 3 patterns of /chat", pats, err)
	}
	if list := clientList(t, cl); !strings.Contains(list, "psub=3") || strings.Contains(list, "sub=1 ") {
		t.Errorf("CLIENT LIST:\n%s", list)
	}
	publish(t, cl, "socket.io#/chat#lobby#", fixtureByFile(t, "classic-broadcast-namespace-chat-room.bin").payload)
	if err := r.wait(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestTailEnds: --duration and Ctrl-C (the context ending) end the tail
// with no error and a summary on stderr, also in the middle of traffic.
func TestTailEnds(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	f := fixtureByFile(t, "classic-broadcast-all.bin")

	opts, _, errOut := newTail(srv.URL, output.Text)
	opts.Duration = 300 * time.Millisecond
	start := time.Now()
	r := startTail(t, opts)
	if err := r.wait(t, 5*time.Second); err != nil {
		t.Fatalf("--duration: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("--duration 300ms took %s", d)
	}
	if s := errOut.String(); !strings.Contains(s, "tail: 0 message(s)") || !strings.Contains(s, "stopped by --duration") {
		t.Errorf("stderr %q", s)
	}

	// Ctrl-C while messages flow.
	opts, out, errOut := newTail(srv.URL, output.JSON)
	r = startTail(t, opts)
	stop := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = cl.Do(context.Background(), cl.B().Publish().Channel(f.Channel).Message(string(f.payload)).Build()).Error()
		}
	}()
	clitest.WaitFor(t, 5*time.Second, "some messages", func() bool { return len(out.Lines()) > 50 })
	err := r.stop(t)
	close(stop)
	<-pubDone
	if err != nil {
		t.Fatalf("Ctrl-C: %v", err)
	}
	n := len(parseRecords(t, out.Lines()))
	if s := errOut.String(); !strings.Contains(s, "tail: "+strconv.Itoa(n)+" message(s)") || !strings.Contains(s, "by event: news "+strconv.Itoa(n)) {
		t.Errorf("summary does not match the %d records: %q", n, s)
	}
	if !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("output does not end with a whole line")
	}
}

// TestTailOutputError: a broken stdout ends the tail with an error.
func TestTailOutputError(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	opts, _, _ := newTail(srv.URL, output.JSON)
	opts.IO.Out = failWriter{}
	r := startTail(t, opts)
	f := fixtureByFile(t, "classic-broadcast-all.bin")
	publish(t, cl, f.Channel, f.payload)
	err := r.wait(t, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "writing output") {
		t.Fatalf("err = %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestTailTerminal: on a terminal each line is cut to the width (styles
// included), and colors show only when enabled.
func TestTailTerminal(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	f := fixtureByFile(t, "classic-broadcast-all.bin")
	for _, color := range []bool{false, true} {
		opts, out, _ := newTail(srv.URL, output.Text)
		opts.IO.SetStdoutTTY(true)
		opts.IO.SetColorEnabled(color)
		opts.IO.SetTerminalWidth(40)
		opts.Count = 1
		r := startTail(t, opts)
		publish(t, cl, f.Channel, f.payload)
		if err := r.wait(t, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		line := strings.TrimSuffix(out.String(), "\n")
		if w := ansi.StringWidth(line); w != 40 || !strings.HasSuffix(ansi.Strip(line), "…") {
			t.Errorf("color %v: width %d, want 40 ending in …: %q", color, w, line)
		}
		if hasEsc := strings.Contains(line, "\x1b["); hasEsc != color {
			t.Errorf("color %v: escape codes %v: %q", color, hasEsc, line)
		}
		if !strings.Contains(ansi.Strip(line), " / news to=all from=9UUkUo") {
			t.Errorf("color %v: %q", color, ansi.Strip(line))
		}
	}
}

// TestTailInterruptedWhileConnecting: Ctrl-C before the tail is subscribed
// still ends it normally.
func TestTailInterruptedWhileConnecting(t *testing.T) {
	opts, _, errOut := newTail("redis://127.0.0.1:1", output.JSON)
	ctx, cancel := context.WithCancel(context.Background())
	opts.Valkey = func(c context.Context) (*valkeyclient.Conn, error) {
		cancel()
		<-c.Done()
		return nil, apperr.ErrInterrupted
	}
	if err := tailRun(ctx, opts); err != nil {
		t.Fatalf("err = %v, want nil", err)
	}
	if !strings.Contains(errOut.String(), "tail: 0 message(s)") {
		t.Errorf("no summary: %q", errOut.String())
	}
}

// TestTailTLS: MONITOR (a raw connection) and PSUBSCRIBE over TLS with a
// password, verified against the test CA.
func TestTailTLS(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: "s3cret"})
	cl := srv.Client(t)
	for _, sharded := range []bool{false, true} {
		opts, out, errOut := newTail(srv.URL, output.JSON)
		opts.Valkey = func(ctx context.Context) (*valkeyclient.Conn, error) {
			return valkeyclient.Connect(ctx, valkeyclient.Options{URL: srv.URL, CAFile: srv.CAFile, Timeout: 5 * time.Second})
		}
		opts.Sharded, opts.ShardedSet, opts.Count = sharded, true, 1
		r := startTail(t, opts)
		f := fixtureByFile(t, "classic-broadcast-room.bin")
		if sharded {
			f = fixtureByFile(t, "sharded-broadcast-room.bin")
			spublish(t, cl, f.Channel, f.payload)
		} else {
			publish(t, cl, f.Channel, f.payload)
		}
		if err := r.wait(t, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if recs := parseRecords(t, out.Lines()); len(recs) != 1 || recs[0].str("event") != "roomEvent" {
			t.Errorf("sharded %v: %s", sharded, out.String())
		}
		if strings.Contains(errOut.String(), "s3cret") {
			t.Errorf("the password shows on stderr")
		}
	}
}

// TestTailNeverSubscribes watches the server with MONITOR while a classic
// tail (PSUBSCRIBE) and a sharded tail (MONITOR) run: neither sends
// SUBSCRIBE or SSUBSCRIBE, and the PSUBSCRIBE shows that MONITOR would see one.
func TestTailNeverSubscribes(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	conn, err := connector(srv.URL)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	prims, err := conn.Primaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := prims[0].Dial(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		for {
			l, err := c.R.ReadSimple()
			if err != nil {
				close(lines)
				return
			}
			lines <- "+" + string(l) + "\r\n"
		}
	}()
	if l := <-lines; !strings.HasPrefix(l, "+OK") {
		t.Fatalf("MONITOR: %q", l)
	}
	for _, sharded := range []bool{false, true} {
		opts, _, _ := newTail(srv.URL, output.JSON)
		opts.Sharded, opts.ShardedSet = sharded, true
		r := startTail(t, opts)
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	c.Close()
	var seen []string
	for l := range lines {
		if i := strings.Index(l, `] "`); i >= 0 {
			cmd, _, _ := strings.Cut(l[i+3:], `"`)
			seen = append(seen, strings.ToUpper(cmd))
		}
	}
	if !slices.Contains(seen, "PSUBSCRIBE") {
		t.Fatalf("MONITOR did not see the PSUBSCRIBE: %v", seen)
	}
	for _, cmd := range seen {
		if cmd == "SUBSCRIBE" || cmd == "SSUBSCRIBE" {
			t.Errorf("a tail sent %s (commands seen: %v)", cmd, seen)
		}
	}
}
