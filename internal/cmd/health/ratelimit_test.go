package health_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/nodeapp"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// ratelimitData is the data of the ratelimit check, as PRODUCT.md has it.
type ratelimitData struct {
	Scripting string `json:"scripting"`
	Scripts   []struct {
		SHA     string `json:"sha"`
		Library string `json:"library"`
		Version string `json:"version"`
		Role    string `json:"role"`
		Loaded  bool   `json:"loaded"`
	} `json:"scripts"`
	MaxMemoryPolicy string `json:"maxmemory_policy"`
	EvictedKeys     *int64 `json:"evicted_keys"`
	Errors          struct {
		OOM      *int64 `json:"OOM"`
		NOPERM   *int64 `json:"NOPERM"`
		NOSCRIPT *int64 `json:"NOSCRIPT"`
	} `json:"errors"`
}

// rateLimitCheck runs `health --check ratelimit -o json` and returns the
// exit code, the check and its data.
func rateLimitCheck(t *testing.T, env map[string]string, extra ...string) (result, string, string, ratelimitData) {
	t.Helper()
	r := run(t, env, append([]string{"-o", "json", "--check", "ratelimit"}, extra...)...)
	got := parse(t, r)
	if len(got.Checks) != 1 || got.Checks[0].Name != "ratelimit" {
		t.Fatalf("checks %s", got.statuses())
	}
	var d ratelimitData
	if err := json.Unmarshal(got.Checks[0].Data, &d); err != nil {
		t.Fatalf("data %s: %v", got.Checks[0].Data, err)
	}
	if d.EvictedKeys == nil || d.Errors.OOM == nil || d.Errors.NOPERM == nil || d.Errors.NOSCRIPT == nil || len(d.Scripts) != len(ratelimit.Scripts) {
		t.Fatalf("data lacks a field of the contract: %s", got.Checks[0].Data)
	}
	return r, got.Checks[0].Status, got.Checks[0].Detail, d
}

// On a server that refuses scripting (as DigitalOcean does unless support
// enables it), the real limiter cannot count: every limited request is an
// error. health fails the ratelimit check and says why and what to do.
func TestHealthRateLimitScriptingRefused(t *testing.T) {
	d := startDeployment(t, valkeytest.Options{Refused: true})
	api := nodeapp.StartRateLimit(t, nodeapp.Options{RedisURL: d.valkey.URL, RedisCA: d.valkey.CAFile})
	st, _, body := api.HitBody(t, "/api/x", "203.0.113.7")
	t.Logf("limited route: HTTP %d %s", st, body)
	if st != http.StatusInternalServerError {
		t.Fatalf("limited route on a server without scripting: HTTP %d, want 500", st)
	}
	if st, _ := api.Hit(t, "/healthz", ""); st != http.StatusOK {
		t.Fatalf("unlimited route: HTTP %d", st)
	}

	r, status, detail, data := rateLimitCheck(t, d.env)
	if r.code != 1 || status != "fail" || data.Scripting != "restricted" {
		t.Fatalf("exit %d, %s %q, scripting %q", r.code, status, detail, data.Scripting)
	}
	for _, want := range []string{"scripting is refused", "unknown command 'SCRIPT'", "errors on every limited route (HTTP 500)", "passOnStoreError", "ask DigitalOcean support to enable scripting"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail %q lacks %q", detail, want)
		}
	}
	for _, s := range data.Scripts {
		if s.Loaded {
			t.Errorf("script %+v loaded on a server that refuses SCRIPT", s)
		}
	}
	// INFO is not refused: the rest of the reading is there.
	if data.MaxMemoryPolicy != "noeviction" {
		t.Errorf("maxmemory_policy %q", data.MaxMemoryPolicy)
	}
	if r := run(t, d.env, "--check", "ratelimit"); r.code != 1 || !strings.Contains(r.stdout, "ratelimit  ✗ FAIL") {
		t.Fatalf("text: exit %d\n%s", r.code, r.stdout)
	}
}

// info reads one INFO field of srv.
func info(t *testing.T, cl valkey.Client, section, field string) string {
	t.Helper()
	s, err := cl.Do(context.Background(), cl.B().Info().Section(section).Build()).ToString()
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	return valkeyclient.ParseInfo(s)[field]
}

// infoInt reads a number, or an errorstat_X:count=N count.
func infoInt(t *testing.T, cl valkey.Client, section, field string) int64 {
	t.Helper()
	v := valkeyclient.Info{field: info(t, cl, section, field)}
	if n, ok := v.Int(field); ok {
		return n
	}
	return v.Count(field)
}

// fill writes n keys of size bytes under prefix and returns how many writes
// the server refused with OOM.
func fill(t *testing.T, cl valkey.Client, prefix string, n, size int) int {
	t.Helper()
	val := strings.Repeat("x", size)
	oom := 0
	for i := 0; i < n; i++ {
		err := cl.Do(context.Background(), cl.B().Set().Key(fmt.Sprintf("%s%d", prefix, i)).Value(val).Build()).Error()
		switch {
		case err != nil && strings.HasPrefix(err.Error(), "OOM"):
			oom++
		case err != nil:
			t.Fatalf("SET: %v", err)
		}
	}
	return oom
}

// pressure runs fn with maxmemory at 4 MiB, then gives memory room again
// (64 MiB), so that evicted_keys stays where fn left it while it is read.
func pressure(t *testing.T, cl valkey.Client, fn func()) {
	t.Helper()
	set := func(v string) {
		if err := cl.Do(context.Background(), cl.B().ConfigSet().ParameterValue().ParameterValue("maxmemory", v).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	set("4mb")
	fn()
	set("64mb")
}

// counters counts the keys under the limiter's prefix rl:.
func counters(t *testing.T, cl valkey.Client) int {
	t.Helper()
	n, cursor := 0, uint64(0)
	for {
		e, err := cl.Do(context.Background(), cl.B().Scan().Cursor(cursor).Match("rl:*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			t.Fatalf("SCAN: %v", err)
		}
		n += len(e.Elements)
		if cursor = e.Cursor; cursor == 0 {
			return n
		}
	}
}

// With allkeys-lru and memory full, real counters of the real limiter are
// evicted: the ratelimit check warns with the count (the valkey check no
// longer judges the policy, which alone lifts no limit). In --watch, a
// round reports only the evictions since the round before.
func TestHealthRateLimitCountersEvicted(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: "lru-pw", Args: []string{"--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"}})
	env := baseEnv(t)
	env["REDIS_URL"], env["OXYCTL_REDIS_CA"] = srv.URL, srv.CAFile
	cl := srv.Client(t)
	api := nodeapp.StartRateLimit(t, nodeapp.Options{RedisURL: srv.URL, RedisCA: srv.CAFile})

	// The policy alone: no warning from either check.
	r, status, detail, data := rateLimitCheck(t, env)
	if r.code != 0 || status != "ok" || !strings.Contains(detail, "rate-limit-redis 6.0.1") || data.MaxMemoryPolicy != "allkeys-lru" || *data.EvictedKeys != 0 {
		t.Fatalf("before any eviction: exit %d %s %q %+v", r.code, status, detail, data)
	}
	if r := run(t, env, "-o", "json", "--check", "valkey"); r.code != 0 || parse(t, r).Checks[0].Status != "ok" || !strings.Contains(parse(t, r).detail("valkey"), "allkeys-lru") {
		t.Fatalf("valkey with allkeys-lru and room: exit %d\n%s", r.code, r.stdout)
	}

	const clients = 200
	for i := 0; i < clients; i++ {
		if st, _ := api.Hit(t, "/api/x", fmt.Sprintf("198.51.100.%d", i)); st != http.StatusOK {
			t.Fatalf("request %d: HTTP %d", i, st)
		}
	}
	if n := counters(t, cl); n != clients {
		t.Fatalf("%d counters before the fill, want %d", n, clients)
	}
	pressure(t, cl, func() { fill(t, cl, "cache:", 300, 32<<10) })
	left := counters(t, cl)
	evicted := infoInt(t, cl, "stats", "evicted_keys")
	t.Logf("%d of %d counters left, %d keys evicted", left, clients, evicted)
	if left >= clients || evicted == 0 {
		t.Fatalf("no counter was evicted (%d left, evicted_keys %d)", left, evicted)
	}

	r, status, detail, data = rateLimitCheck(t, env)
	want := fmt.Sprintf("maxmemory-policy allkeys-lru evicts rate-limit counters, which silently lifts clients' limits (use noeviction with memory headroom): %d keys evicted since the server started", evicted)
	if r.code != 0 || status != "warn" || !strings.Contains(detail, want) || *data.EvictedKeys != evicted {
		t.Fatalf("after evictions: exit %d %s %q (want %q) evicted_keys %d", r.code, status, detail, want, *data.EvictedKeys)
	}
	if r := run(t, env, "--check", "ratelimit", "--strict"); r.code != 1 || !strings.Contains(r.stdout, "! warn") {
		t.Fatalf("strict: exit %d\n%s", r.code, r.stdout)
	}

	// --watch: each round reports only its own evictions.
	watchGrowth(t, env, "keys evicted", evicted, func() int64 {
		pressure(t, cl, func() { fill(t, cl, "cache2:", 100, 32<<10) })
		return infoInt(t, cl, "stats", "evicted_keys") - evicted
	})
}

// watchGrowth runs `health --watch --check ratelimit` for three rounds. The
// first reports total <what> since the server started; grow, run between
// the first and the second, returns how many it added, which the second
// reports as new since the last round; the third reports none.
func watchGrowth(t *testing.T, env map[string]string, what string, total int64, grow func() int64) {
	t.Helper()
	w := clitest.Start(t, app.Run, env, "health", "--watch", "--interval", "1s", "-o", "json", "--check", "ratelimit")
	first := watchRound(t, w, 1)
	more := grow()
	second := watchRound(t, w, 2)
	third := watchRound(t, w, 3)
	w.Cancel()
	if res := w.Wait(t, 10*time.Second); res.Code != 0 {
		t.Fatalf("watch: exit %d", res.Code)
	}
	t.Logf("watch rounds (%d more %s):\n1: %s\n2: %s\n3: %s", more, what, first, second, third)
	if !strings.Contains(first, fmt.Sprintf(": %d %s since the server started", total, what)) ||
		more == 0 || !strings.Contains(second, fmt.Sprintf(": %d %s since the last round", more, what)) ||
		strings.Contains(third, what) {
		t.Fatalf("the rounds do not report the %s of their own round", what)
	}
}

// watchRound waits for round n of a `health --watch -o json` run and
// returns the ratelimit check's detail.
func watchRound(t *testing.T, w *clitest.Running, n int) string {
	t.Helper()
	clitest.WaitFor(t, 20*time.Second, fmt.Sprintf("watch round %d", n), func() bool { return len(w.Stdout.Lines()) >= n })
	var round struct {
		Round  int `json:"round"`
		Checks []struct {
			Name, Detail string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(w.Stdout.Lines()[n-1]), &round); err != nil || round.Round != n || len(round.Checks) != 1 {
		t.Fatalf("round %d: %v: %s", n, err, w.Stdout.Lines()[n-1])
	}
	return round.Checks[0].Detail
}

// With noeviction and memory full, the server refuses the limiter's writes
// with OOM and the real app answers its limited routes with errors: the
// ratelimit check shows the OOM count in data.errors.OOM and its detail. In
// --watch, a round reports only the OOM errors since the round before.
func TestHealthRateLimitOOM(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: "oom-pw", Args: []string{"--maxmemory-policy", "noeviction"}})
	env := baseEnv(t)
	env["REDIS_URL"], env["OXYCTL_REDIS_CA"] = srv.URL, srv.CAFile
	cl := srv.Client(t)
	api := nodeapp.StartRateLimit(t, nodeapp.Options{RedisURL: srv.URL, RedisCA: srv.CAFile})
	if st, _ := api.Hit(t, "/api/x", "203.0.113.7"); st != http.StatusOK {
		t.Fatalf("before the fill: HTTP %d", st)
	}
	// Memory full: 3 MiB of data, then maxmemory 1 MiB below what is used.
	fill(t, cl, "cache:", 100, 32<<10)
	limit := infoInt(t, cl, "memory", "used_memory") - 1<<20
	if err := cl.Do(context.Background(), cl.B().ConfigSet().ParameterValue().ParameterValue("maxmemory", strconv.FormatInt(limit, 10)).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if refused := fill(t, cl, "more:", 1, 10); refused != 1 {
		t.Fatal("a write at maxmemory was not refused")
	}
	before := infoInt(t, cl, "errorstats", "errorstat_OOM")
	// A known client (INCR) and a new one (SET): both writes are refused.
	for _, ip := range []string{"203.0.113.7", "192.0.2.10", "192.0.2.11"} {
		if st, _ := api.Hit(t, "/api/x", ip); st != http.StatusInternalServerError {
			t.Fatalf("at maxmemory with noeviction, %s: HTTP %d, want 500", ip, st)
		}
	}
	oom := infoInt(t, cl, "errorstats", "errorstat_OOM")
	t.Logf("OOM errors: %d from the fill, %d in all after 3 limited requests", before, oom)
	if oom <= before {
		t.Fatalf("the app's refused writes were not counted: %d then %d", before, oom)
	}

	r, status, detail, data := rateLimitCheck(t, env)
	want := fmt.Sprintf("writes refused at maxmemory, which the limiter turns into errors (HTTP 500): %d OOM errors since the server started", oom)
	if r.code != 0 || status != "warn" || *data.Errors.OOM != oom || !strings.Contains(detail, want) || data.MaxMemoryPolicy != "noeviction" {
		t.Fatalf("exit %d %s %q (want %q), errors.OOM %d", r.code, status, detail, want, *data.Errors.OOM)
	}

	watchGrowth(t, env, "OOM errors", oom, func() int64 {
		for _, ip := range []string{"192.0.2.12", "192.0.2.13"} {
			if st, _ := api.Hit(t, "/api/x", ip); st != http.StatusInternalServerError {
				t.Fatalf("%s: HTTP %d", ip, st)
			}
		}
		return infoInt(t, cl, "errorstats", "errorstat_OOM") - oom
	})
}
