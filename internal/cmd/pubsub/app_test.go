package pubsub_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// run runs oxyctl through app.Run, the real entry point, with no config
// file and only the given environment.
func run(ctx context.Context, t *testing.T, env map[string]string, args ...string) clitest.Result {
	t.Helper()
	return clitest.Run(ctx, app.Run, clitest.Env(t, env), "", args...)
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
			r := run(ctx, t, tc.env, tc.args...)
			if r.Code != tc.code || !strings.Contains(r.Stderr, tc.err) {
				t.Errorf("exit %d, want %d; stderr %q, want %q in it", r.Code, tc.code, r.Stderr, tc.err)
			}
		})
	}

	// --count ends with 0 once N messages were shown.
	done := make(chan clitest.Result, 1)
	go func() { done <- run(ctx, t, env, "pubsub", "tail", "--count", "2", "-o", "json") }()
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
	case r := <-done:
		if r.Code != 0 || strings.Count(r.Stdout, `"event":"ev"`) != 2 {
			t.Errorf("--count 2: exit %d, stdout %q", r.Code, r.Stdout)
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
	go func() { done <- run(cctx, t, env, "pubsub", "tail") }()
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
	case r := <-done:
		if r.Code != 0 || !strings.Contains(r.Stderr, "tail: 1 message(s)") || !strings.Contains(r.Stderr, "by event: ev 1") {
			t.Errorf("Ctrl-C: exit %d, stderr %q", r.Code, r.Stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-C did not end the tail")
	}
}
