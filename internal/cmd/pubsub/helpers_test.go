package pubsub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/repo"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// fixedNow is the clock of text tests.
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

// testIO returns streams whose stdout and stderr can be read during a run.
func testIO() (*iostreams.IOStreams, *clitest.Buffer, *clitest.Buffer) {
	ios, _, _, _ := iostreams.Test()
	out, errOut := &clitest.Buffer{}, &clitest.Buffer{}
	ios.Out, ios.ErrOut = out, errOut
	return ios, out, errOut
}

// connector dials url with valkeyclient, as the Factory does.
func connector(url string) func(context.Context) (*valkeyclient.Conn, error) {
	return func(ctx context.Context) (*valkeyclient.Conn, error) {
		return valkeyclient.Connect(ctx, valkeyclient.Options{URL: url, Timeout: 5 * time.Second, ClientName: "oxyctl"})
	}
}

func settings(sio config.SocketIO) func() (*config.Settings, error) {
	if sio.Key == "" {
		sio.Key = "socket.io"
	}
	return func() (*config.Settings, error) {
		return &config.Settings{SocketIO: sio, Timeout: 5 * time.Second}, nil
	}
}

// newTail returns tail options against url, JSON by default.
func newTail(url string, format output.Format) (*tailOptions, *clitest.Buffer, *clitest.Buffer) {
	ios, out, errOut := testIO()
	return &tailOptions{
		IO: ios, Settings: settings(config.SocketIO{}), Valkey: connector(url), Format: format,
		Timeout: func() time.Duration { return 5 * time.Second }, Now: time.Now,
		ReconnectTimeout: time.Minute, backoffMin: 20 * time.Millisecond, backoffMax: 200 * time.Millisecond,
	}, out, errOut
}

// running is a tail started in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

// startTail runs tailRun in a goroutine and waits until it is subscribed.
func startTail(t *testing.T, opts *tailOptions) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	var once sync.Once
	opts.ready = func() { once.Do(func() { close(ready) }) }
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- tailRun(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Errorf("tail did not stop within 10s of its context ending")
		}
	})
	select {
	case <-ready:
	case err := <-r.done:
		r.done <- err
		t.Fatalf("tail ended before it was subscribed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatalf("tail not subscribed within 10s")
	}
	return r
}

// wait waits for the tail to end by itself (count, duration).
func (r *running) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(d):
		t.Fatalf("tail did not end within %s", d)
		return nil
	}
}

// stop cancels the tail as Ctrl-C does and returns its result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t, 10*time.Second)
}

// record is one JSON line of tail.
type record map[string]any

func parseRecords(t *testing.T, lines []string) []record {
	t.Helper()
	var out []record
	for _, l := range lines {
		if l == "" {
			continue
		}
		var r record
		dec := json.NewDecoder(strings.NewReader(l))
		dec.UseNumber()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("output line is not JSON: %v: %q", err, l)
		}
		out = append(out, r)
	}
	return out
}

func (r record) str(k string) string {
	s, _ := r[k].(string)
	return s
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func publish(t *testing.T, cl valkey.Client, channel string, payload []byte) {
	t.Helper()
	if err := cl.Do(tctx(t), cl.B().Publish().Channel(channel).Message(valkey.BinaryString(payload)).Build()).Error(); err != nil {
		t.Fatalf("PUBLISH %s: %v", channel, err)
	}
}

func spublish(t *testing.T, cl valkey.Client, channel string, payload []byte) {
	t.Helper()
	if err := cl.Do(tctx(t), cl.B().Spublish().Channel(channel).Message(valkey.BinaryString(payload)).Build()).Error(); err != nil {
		t.Fatalf("SPUBLISH %s: %v", channel, err)
	}
}

// numsub is PUBSUB NUMSUB of one channel.
func numsub(t *testing.T, cl valkey.Client, channel string) int64 {
	t.Helper()
	arr, err := cl.Do(tctx(t), cl.B().PubsubNumsub().Channel(channel).Build()).ToArray()
	if err != nil || len(arr) != 2 {
		t.Fatalf("PUBSUB NUMSUB %s: %v", channel, err)
	}
	n, _ := arr[1].AsInt64()
	return n
}

func shardnumsub(t *testing.T, cl valkey.Client, channel string) int64 {
	t.Helper()
	arr, err := cl.Do(tctx(t), cl.B().PubsubShardnumsub().Channel(channel).Build()).ToArray()
	if err != nil || len(arr) != 2 {
		t.Fatalf("PUBSUB SHARDNUMSUB %s: %v", channel, err)
	}
	n, _ := arr[1].AsInt64()
	return n
}

// clientList is CLIENT LIST.
func clientList(t *testing.T, cl valkey.Client) string {
	t.Helper()
	s, err := cl.Do(tctx(t), cl.B().ClientList().Build()).ToString()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	return s
}

// fixture is one captured adapter message.
type fixture struct {
	File    string         `json:"file"`
	Command string         `json:"command"`
	Channel string         `json:"channel"`
	Meaning map[string]any `json:"meaning"`
	key     string
	payload []byte
}

// loadFixtures reads testdata/fixtures/socketio-redis-adapter.
func loadFixtures(t testing.TB) []*fixture {
	t.Helper()
	dir := repo.Fixtures(t, "socketio-redis-adapter")
	raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatalf("fixtures: %v", err)
	}
	var doc struct {
		Cases []struct {
			ID             string         `json:"id"`
			AdapterOptions map[string]any `json:"adapterOptions"`
			Messages       []*fixture     `json:"messages"`
		} `json:"cases"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("cases.json: %v", err)
	}
	var out []*fixture
	for _, c := range doc.Cases {
		for _, m := range c.Messages {
			m.key = "socket.io"
			for _, k := range []string{"key", "channelPrefix"} {
				if v, ok := c.AdapterOptions[k].(string); ok {
					m.key = strings.TrimPrefix(v, "(default) ")
				}
			}
			if m.payload, err = os.ReadFile(filepath.Join(dir, m.File)); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	if len(out) < 50 {
		t.Fatalf("only %d fixture messages", len(out))
	}
	return out
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
