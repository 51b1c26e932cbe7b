package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/repo"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// running is an oxyctl run in a goroutine, with streams readable meanwhile.
type running struct {
	r           *clitest.Running
	out, errOut *clitest.Buffer
}

// startOxyctl runs the real entry point in a goroutine under a context the
// test can cancel (Ctrl-C), with the same clean environment as oxyctl.
func startOxyctl(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	r := clitest.Start(t, app.Run, cleanEnv(t, env), args...)
	return &running{r: r, out: r.Stdout, errOut: r.Stderr}
}

// wait returns the result, failing the test when the run takes longer than d.
func (r *running) wait(t *testing.T, d time.Duration) result {
	t.Helper()
	return resultOf(r.r.Wait(t, d))
}

// finished reports whether the run has ended (without waiting).
func (r *running) finished() bool { return r.r.Finished() }

// cancel ends the run's context, as Ctrl-C does.
func (r *running) cancel() { r.r.Cancel() }

// persistent are server arguments that make a killed server come back with
// its data: every acknowledged write is in the append-only file (written
// before the reply is sent), which a restart loads.
var persistent = []string{"--appendonly", "yes", "--appendfsync", "no"}

// seedScript creates ARGV[1] counters under ARGV[2] server-side, one
// client per key (10.a.b.c), hits i % 300 with a 10-minute expiry: much
// faster than any client-side pipeline.
const seedScript = `
local n, prefix = tonumber(ARGV[1]), ARGV[2]
for i = 1, n do
  local k = prefix .. '10.' .. math.floor(i / 65536) .. '.' .. (math.floor(i / 256) % 256) .. '.' .. (i % 256)
  redis.call('SET', k, tostring(i % 300), 'PX', 600000)
end
return n`

// seedCounters creates n counters on a standalone server.
func seedCounters(t *testing.T, c valkey.Client, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	got, err := c.Do(ctx, c.B().Eval().Script(seedScript).Numkeys(0).Arg(strconv.Itoa(n), prefix).Build()).AsInt64()
	if err != nil || got != int64(n) {
		t.Fatalf("seeding %d counters: %d, %v", n, got, err)
	}
}

// seedCluster creates n counters through a cluster-aware client, pipelined.
func seedCluster(t *testing.T, c valkey.Client, n int) {
	t.Helper()
	ctx := context.Background()
	const batch = 5000
	for lo := 0; lo < n; lo += batch {
		cmds := make(valkey.Commands, 0, batch)
		for i := lo; i < min(lo+batch, n); i++ {
			k := fmt.Sprintf("rl:10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
			cmds = append(cmds, c.B().Set().Key(k).Value(strconv.Itoa(i%300)).Px(10*time.Minute).Build())
		}
		for _, r := range c.DoMulti(ctx, cmds...) {
			if err := r.Error(); err != nil {
				t.Fatalf("seeding the cluster: %v", err)
			}
		}
	}
}

// countKeys counts the keys matching pattern with SCAN.
func countKeys(t *testing.T, c valkey.Client, pattern string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(pattern).Count(5000).Build()).AsScanEntry()
		if err != nil {
			t.Fatalf("SCAN: %v", err)
		}
		n += len(e.Elements)
		if cursor = e.Cursor; cursor == 0 {
			return n
		}
	}
}

// existing returns which of keys exist.
func existing(t *testing.T, c valkey.Client, keys []string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	out := make(map[string]bool, len(keys))
	const batch = 5000
	for lo := 0; lo < len(keys); lo += batch {
		part := keys[lo:min(lo+batch, len(keys))]
		cmds := make(valkey.Commands, 0, len(part))
		for _, k := range part {
			cmds = append(cmds, c.B().Exists().Key(k).Build())
		}
		for i, r := range c.DoMulti(ctx, cmds...) {
			n, err := r.AsInt64()
			if err != nil {
				t.Fatalf("EXISTS: %v", err)
			}
			out[part[i]] = n == 1
		}
	}
	return out
}

// newClient is a plain client for the test's own checks, closed at cleanup.
func newClient(t *testing.T, s *valkeytest.Server) valkey.Client {
	t.Helper()
	c, err := s.SingleClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// checkFailed asserts a failed run's shape like checkError, except
// that text output may already hold what was printed before the failure
// (firewall apply prints its plan first): one "oxyctl: " line, the code,
// no panic.
func checkFailed(t *testing.T, r result, code int, kind string, jsonMode bool) {
	t.Helper()
	if !jsonMode && strings.TrimSpace(r.stdout) != "" {
		r.stdout = ""
	}
	checkError(t, r, code, kind, jsonMode)
}

// jsonError returns the message of the JSON error on the last stderr line.
func jsonError(r result) (kind, msg string) {
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	var e struct {
		Error struct{ Kind, Message string }
	}
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &e)
	return e.Error.Kind, e.Error.Message
}

// fixture returns a captured Socket.IO adapter message
// (testdata/fixtures/socketio-redis-adapter).
func fixture(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo.Fixtures(t, "socketio-redis-adapter"), file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---- leaks ----

// baseGoroutines is the number of goroutines once those that are already
// ending have ended: the lowest of a few readings over 150ms.
func baseGoroutines() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		time.Sleep(30 * time.Millisecond)
		n = min(n, runtime.NumGoroutine())
	}
	return n
}

// settledGoroutines waits up to d for the number of goroutines to fall to
// want, and returns it.
func settledGoroutines(want int, d time.Duration) int {
	deadline := time.Now().Add(d)
	n := runtime.NumGoroutine()
	for n > want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		runtime.GC()
		n = runtime.NumGoroutine()
	}
	return n
}

// goroutineDump is the goroutine profile grouped by stack.
func goroutineDump() string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	return b.String()
}

var clientLine = regexp.MustCompile(`(?m)^id=`)

// clientList returns the server's connections other than the one asking.
func clientList(t *testing.T, c valkey.Client) []string {
	t.Helper()
	ctx := context.Background()
	s, err := c.Do(ctx, c.B().ClientList().Build()).ToString()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	self, err := c.Do(ctx, c.B().ClientId().Build()).AsInt64()
	if err != nil {
		t.Fatalf("CLIENT ID: %v", err)
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		l := sc.Text()
		if !clientLine.MatchString(l) || strings.HasPrefix(l, "id="+strconv.FormatInt(self, 10)+" ") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// noGoroutineLeak fails the test when, after a settle wait, more than
// goroutineSlack goroutines remain above base.
func noGoroutineLeak(t *testing.T, base int) {
	t.Helper()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if got := settledGoroutines(base+goroutineSlack, 3*time.Second); got > base+goroutineSlack {
		t.Errorf("%d goroutines after the run, %d before (slack %d):\n%s", got, base, goroutineSlack, goroutineDump())
	}
}
