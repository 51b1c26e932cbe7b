package pubsub_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// lockedBuffer is written by the command while the test reads it.
type lockedBuffer struct {
	ch chan struct{}
	b  bytes.Buffer
}

func newLocked() *lockedBuffer {
	l := &lockedBuffer{ch: make(chan struct{}, 1)}
	l.ch <- struct{}{}
	return l
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	<-l.ch
	defer func() { l.ch <- struct{}{} }()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	<-l.ch
	defer func() { l.ch <- struct{}{} }()
	return l.b.String()
}

// run runs oxyctl through app.Run, the real entry point, with no config
// file and only the given environment.
func run(ctx context.Context, t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr *lockedBuffer) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	stdout, stderr = newLocked(), newLocked()
	ios.Out, ios.ErrOut = stdout, stderr
	home := t.TempDir()
	getenv := func(k string) string {
		switch k {
		case "HOME", "XDG_CONFIG_HOME":
			return home
		}
		return env[k]
	}
	return app.Run(ctx, args, ios, getenv), stdout, stderr
}

func numpat(t *testing.T, cl valkey.Client) int64 {
	n, err := cl.Do(context.Background(), cl.B().PubsubNumpat().Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExitCodes runs pubsub commands through app.Run and pins their exit
// codes: usage 2, findings 1, runtime 3, and 0 for a tail that --count,
// --duration or Ctrl-C ends.
func TestExitCodes(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL}
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		err  string // in stderr
	}{
		{"no URL", nil, []string{"pubsub", "tail"}, 2, "no Valkey URL is set"},
		{"bad count", env, []string{"pubsub", "tail", "--count", "-3"}, 2, "--count must not be negative"},
		{"unknown flag", env, []string{"pubsub", "tail", "--bogus"}, 2, "unknown flag"},
		{"unknown verb", env, []string{"pubsub", "nope"}, 2, "unknown command"},
		{"nothing listening", env, []string{"pubsub", "channels"}, 1, ""},
		{"refused", map[string]string{"OXYCTL_REDIS_URL": "redis://127.0.0.1:" + strconv.Itoa(valkeytest.FreePort(t))}, []string{"pubsub", "tail", "--timeout", "2s"}, 3, "connection refused"},
		{"refused json", map[string]string{"OXYCTL_REDIS_URL": "redis://127.0.0.1:" + strconv.Itoa(valkeytest.FreePort(t))}, []string{"pubsub", "channels", "-o", "json"}, 3, `{"error":{`},
		{"duration", env, []string{"pubsub", "tail", "--duration", "200ms"}, 0, "stopped by --duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(ctx, t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stderr.String(), tc.err) {
				t.Errorf("exit %d, want %d; stderr %q, want %q in it", code, tc.code, stderr.String(), tc.err)
			}
		})
	}

	// --count ends with 0 once N messages were shown.
	done := make(chan int, 1)
	var stdout *lockedBuffer
	go func() {
		code, out, _ := run(ctx, t, env, "pubsub", "tail", "--count", "2", "-o", "json")
		stdout = out
		done <- code
	}()
	for deadline := time.Now().Add(10 * time.Second); numpat(t, cl) < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the tail did not PSUBSCRIBE")
		}
	}
	payload := "\x93\xa6ABCDEF\x83\xa4type\x02\xa4data\x91\xa2ev\xa3nsp\xa1/\x83\xa5rooms\x90\xa6except\x90\xa5flags\x80"
	for range 2 {
		if err := cl.Do(ctx, cl.B().Publish().Channel("socket.io#/#").Message(payload).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case code := <-done:
		if code != 0 || strings.Count(stdout.String(), `"event":"ev"`) != 2 {
			t.Errorf("--count 2: exit %d, stdout %q", code, stdout.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("--count 2 did not end")
	}

	// Ctrl-C (the signal context ending) is a normal end: 0 and a summary.
	for deadline := time.Now().Add(5 * time.Second); numpat(t, cl) != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the ended tail still has its patterns")
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	var stderr *lockedBuffer
	go func() {
		code, _, errOut := run(cctx, t, env, "pubsub", "tail")
		stderr = errOut
		done <- code
	}()
	for deadline := time.Now().Add(10 * time.Second); numpat(t, cl) < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the tail did not PSUBSCRIBE")
		}
	}
	if err := cl.Do(ctx, cl.B().Publish().Channel("socket.io#/#").Message(payload).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(stderr.String(), "tail: 1 message(s)") || !strings.Contains(stderr.String(), "by event: ev 1") {
			t.Errorf("Ctrl-C: exit %d, stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-C did not end the tail")
	}
}
