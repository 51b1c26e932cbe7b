package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// TestJQLimitsList: --jq on a real listing prints the client raw, and a
// number as JSON.
func TestJQLimitsList(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	ctx := context.Background()
	for _, c := range cl.DoMulti(ctx,
		cl.B().Set().Key("rl:203.0.113.7").Value("151").Ex(600*time.Second).Build(),
		cl.B().Set().Key("rl:198.51.100.2").Value("3").Ex(600*time.Second).Build(),
	) {
		if err := c.Error(); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL}
	for _, tc := range []struct{ expr, want string }{
		{".clients[0].client", "203.0.113.7\n"},
		{".clients[0].hits", "151\n"},
		{"[.clients[].client]", `["203.0.113.7","198.51.100.2"]` + "\n"},
		{".clients[] | select(.blocked) | .client", "203.0.113.7\n"},
	} {
		code, stdout, stderr := run(t, env, "limits", "list", "--jq", tc.expr)
		if code != 0 || stdout != tc.want || stderr != "" {
			t.Errorf("--jq %q: exit %d, stdout %q (want %q), stderr %q", tc.expr, code, stdout, tc.want, stderr)
		}
	}
}

// A bad expression is a usage error (exit 2), found before any network I/O:
// the server named by --redis-url is never dialled.
func TestJQBadExpressionBeforeIO(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	env := map[string]string{"OXYCTL_REDIS_URL": "redis://" + ln.Addr().String()}
	for _, args := range [][]string{
		{"limits", "list", "--jq", ".clients["},
		{"limits", "list", "--jq", ""},
		{"limits", "list", "--jq", "nosuchfunction"},
	} {
		code, stdout, stderr := run(t, env, args...)
		var e struct {
			Error struct{ Kind, Message string }
		}
		if code != 2 || stdout != "" || json.Unmarshal([]byte(stderr), &e) != nil || e.Error.Kind != "usage" || !strings.Contains(e.Error.Message, "--jq") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and a JSON usage error naming --jq", args, code, stdout, stderr)
		}
	}
	// -o text with --jq contradicts itself; the error is in the format asked for.
	code, stdout, stderr := run(t, env, "limits", "list", "-o", "text", "--jq", ".")
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "oxyctl: --jq filters JSON output") {
		t.Errorf("-o text --jq: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	time.Sleep(50 * time.Millisecond)
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connection(s) to the server before the expression was checked", n)
	}
}

// A runtime error of the expression is a one-line usage error (exit 2) and
// nothing on stdout; every command takes --jq.
func TestJQVersionAndRuntimeError(t *testing.T) {
	code, stdout, stderr := run(t, nil, "version", "--jq", ".go_version")
	if code != 0 || !strings.HasPrefix(stdout, "go") || strings.Count(stdout, "\n") != 1 || stderr != "" {
		t.Fatalf("version --jq: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = run(t, nil, "config", "path", "--jq", ".path")
	if code != 0 || !strings.HasSuffix(stdout, "/oxyctl/config.yaml\n") {
		t.Fatalf("config path --jq: exit %d, stdout %q", code, stdout)
	}
	code, stdout, stderr = run(t, nil, "version", "--jq", ".[0]")
	var e struct {
		Error struct{ Kind, Message string }
	}
	if code != 2 || stdout != "" || json.Unmarshal([]byte(stderr), &e) != nil || e.Error.Kind != "usage" || !strings.HasPrefix(e.Error.Message, "--jq: ") {
		t.Fatalf("runtime error: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// syncBuffer is stdout written by a running tail while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A stream is filtered line by line: each message of a tail shows as it
// arrives, before the tail ends.
func TestJQStream(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ios, _, _, _ := iostreams.Test()
	out := &syncBuffer{}
	ios.Out = out
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL, "HOME": t.TempDir()}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"pubsub", "tail", "--count", "3", "--jq", `.event + " " + .namespace`}, ios, func(k string) string { return env[k] })
	}()
	numpat := func() int64 {
		n, err := cl.Do(ctx, cl.B().PubsubNumpat().Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); numpat() < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the tail did not PSUBSCRIBE")
		}
	}
	payload := "\x93\xa6ABCDEF\x83\xa4type\x02\xa4data\x91\xa2ev\xa3nsp\xa1/\x83\xa5rooms\x90\xa6except\x90\xa5flags\x80"
	publish := func() {
		if err := cl.Do(ctx, cl.B().Publish().Channel("socket.io#/#").Message(payload).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	publish()
	for deadline := time.Now().Add(10 * time.Second); out.String() != "ev /\n"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first message was not shown while the tail runs: %q", out.String())
		}
	}
	publish()
	publish()
	select {
	case code := <-done:
		if code != 0 || out.String() != "ev /\nev /\nev /\n" {
			t.Fatalf("exit %d, stdout %q", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("--count 3 did not end")
	}
}
