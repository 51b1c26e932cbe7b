package adaptertap

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/repo"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

func TestParseMonitorLine(t *testing.T) {
	for _, tc := range []struct {
		line   string
		client string
		args   []string
		ts     time.Time
		err    string
	}{
		{`+1712345678.123456 [0 127.0.0.1:54321] "SPUBLISH" "socket.io#/#" "\x93\xa6a\"b\\c\n\r\t\a\b"`,
			"0 127.0.0.1:54321", []string{"SPUBLISH", "socket.io#/#", "\x93\xa6a\"b\\c\n\r\t\a\b"}, time.Unix(1712345678, 123456000), ""},
		{`1712345678.5 [0 [::1]:6379] "spublish" "a b" ""`, "0 [::1]:6379", []string{"spublish", "a b", ""}, time.Unix(1712345678, 500000000), ""},
		{`+1712345678.000001 [0 lua] "PUBLISH" "x" "\xFF\x00"`, "0 lua", []string{"PUBLISH", "x", "\xff\x00"}, time.Unix(1712345678, 1000), ""},
		{`+1712345678 [0 unix:/tmp/v.sock] "PING"`, "0 unix:/tmp/v.sock", []string{"PING"}, time.Unix(1712345678, 0), ""},
		{`+OK`, "", nil, time.Time{}, "no timestamp"},
		{`+x.1 [0 a] "PING"`, "", nil, time.Time{}, "bad timestamp"},
		{`+1.1 0 a] "PING"`, "", nil, time.Time{}, "no [db client]"},
		{`+1.1 [0 a]`, "", nil, time.Time{}, "no arguments"},
		{`+1.1 [0 a] "unterminated`, "", nil, time.Time{}, "unterminated"},
		{`+1.1 [0 a] "bad\q"`, "", nil, time.Time{}, "unknown escape"},
		{`+1.1 [0 a] "bad\x4`, "", nil, time.Time{}, "truncated"},
		{`+1.1 [0 a] "bad\xzz"`, "", nil, time.Time{}, "bad \\x"},
		{`+1.1 [0 a] "ok" bare`, "", nil, time.Time{}, "does not start with a quote"},
	} {
		ml, err := ParseMonitorLine([]byte(tc.line + "\r\n"))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		var args []string
		for _, a := range ml.Args {
			args = append(args, string(a))
		}
		if ml.Client != tc.client || strings.Join(args, "|") != strings.Join(tc.args, "|") || !ml.Time.Equal(tc.ts) {
			t.Errorf("%q: got %q %q %s", tc.line, ml.Client, args, ml.Time)
		}
	}
	if !monitorCommandIs([]byte(`+1.1 [0 a] "spublish" "x"`), "SPUBLISH") || monitorCommandIs([]byte(`+1.1 [0 a] "SPUBLISHX" "x"`), "SPUBLISH") ||
		monitorCommandIs([]byte(`+1.1 [0 a] "PUBLISH" "x"`), "SPUBLISH") || monitorCommandIs([]byte(`+1.1 [0 a]`), "SPUBLISH") {
		t.Error("monitorCommandIs")
	}
}

func FuzzParseMonitorLine(f *testing.F) {
	f.Add([]byte(`+1712345678.123456 [0 127.0.0.1:54321] "SPUBLISH" "socket.io#/#" "\x93\xa6"`))
	f.Add([]byte(`+1.1 [0 [::1]:1] "a\\\"" "\x"`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ml, err := ParseMonitorLine(line)
		if err == nil && len(ml.Args) == 0 {
			t.Fatalf("no error and no arguments for %q", line)
		}
		_ = monitorCommandIs(line, "SPUBLISH")
	})
}

// TestMonitorByteExact SPUBLISHes every captured payload and every byte
// value into a real server and reads them back through MONITOR: each
// payload must come out byte for byte.
func TestMonitorByteExact(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Password: "pw"})
	cl := srv.Client(t)
	payloads := [][]byte{}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	payloads = append(payloads, all, []byte{}, []byte(`"\"\\x41`))
	dir := repo.Fixtures(t, "socketio-redis-adapter")
	bins, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
	if len(bins) < 50 {
		t.Fatalf("fixtures: %d .bin files", len(bins))
	}
	for _, b := range bins {
		p, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, p)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := make(chan Event, len(payloads)+4)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Mode: ModeMonitor, Conn: connect(t, srv.URL, "oxyctl-test"), Timeout: 5 * time.Second}, out)
	}()
	if ev := <-out; ev.Kind != EventReady || !ev.AllReady || ev.Node != srv.Addr {
		t.Fatalf("first event %+v", ev)
	}
	if list, err := cl.Do(ctx, cl.B().ClientList().Build()).ToString(); err != nil || !strings.Contains(list, "name=oxyctl-test") || !strings.Contains(list, "cmd=monitor") {
		t.Errorf("CLIENT LIST:\n%s (%v)", list, err)
	}
	for i, p := range payloads {
		// Another key's channel first: it must be skipped.
		if err := cl.Do(ctx, cl.B().Spublish().Channel("other#/#").Message(valkey.BinaryString(p)).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if err := cl.Do(ctx, cl.B().Spublish().Channel("socket.io#/#").Message(valkey.BinaryString(p)).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-out:
			if ev.Kind != EventMessage || ev.Channel != "socket.io#/#" || !bytes.Equal([]byte(ev.Payload), p) {
				t.Fatalf("payload %d: got %+v, want %q", i, ev, p)
			}
			if d := time.Since(ev.Time); d < 0 || d > 10*time.Second {
				t.Errorf("MONITOR time %s is off by %s", ev.Time, d)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("payload %d not seen", i)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestMonitorRefused: a wrong password is a fatal authentication error.
func TestMonitorRefused(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Password: "pw"})
	wrong := *connect(t, srv.URL, "")
	wrong.Target.Password = "wrong"
	err := Run(context.Background(), Config{Mode: ModeMonitor, Conn: &wrong, Timeout: 5 * time.Second}, make(chan Event, 4))
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("err = %v", err)
	}
}

// connect connects to url as the Factory does, named name.
func connect(t testing.TB, url, name string) *valkeyclient.Conn {
	t.Helper()
	conn, err := valkeyclient.Connect(context.Background(), valkeyclient.Options{URL: url, Timeout: 5 * time.Second, ClientName: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}
