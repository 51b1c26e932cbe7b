package probe

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/ratelimit"
	"github.com/oxyhq/oxyctl/internal/testutil/nodeapp"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

func rateLimitProbe(url string) *RateLimitProbe {
	return &RateLimitProbe{Connect: func(ctx context.Context) (*valkeyclient.Conn, error) {
		return valkeyclient.Connect(ctx, valkeyclient.Options{URL: url, Timeout: 5 * time.Second, ClientName: "oxyctl-test"})
	}}
}

func runRateLimit(t *testing.T, ctx context.Context, p *RateLimitProbe) (Outcome, *RateLimitData) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out := p.Run(ctx)
	t.Logf("%s: %s", out.Status, out.Detail)
	return out, out.Data.(*RateLimitData)
}

// shasOf lists the SHA1s of version's scripts, and those of the other
// versions that version does not load.
func shasOf(version string) (own, others []string) {
	mine := map[string]bool{}
	for _, s := range ratelimit.Scripts {
		if s.Version == version {
			mine[s.SHA1] = true
			own = append(own, s.SHA1)
		}
	}
	for _, s := range ratelimit.Scripts {
		if !mine[s.SHA1] {
			others = append(others, s.SHA1)
		}
	}
	return own, others
}

func scriptExists(t *testing.T, cl valkey.Client, shas []string) []int64 {
	t.Helper()
	got, err := cl.Do(context.Background(), cl.B().ScriptExists().Sha1(shas...).Build()).AsIntSlice()
	if err != nil {
		t.Fatalf("SCRIPT EXISTS: %v", err)
	}
	return got
}

func TestRateLimitScriptTable(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range ratelimit.Scripts {
		sum := sha1.Sum([]byte(s.Text))
		if got := hex.EncodeToString(sum[:]); got != s.SHA1 {
			t.Errorf("%s %s %s: SHA1 of the text is %s, the table says %s", s.Library, s.Version, s.Role, got, s.SHA1)
		}
		key := s.Version + "/" + s.Role
		if seen[key] || s.Library != ratelimit.Library || (s.Role != ratelimit.RoleIncrement && s.Role != ratelimit.RoleGet) {
			t.Errorf("bad or duplicate entry %+v", s)
		}
		seen[key] = true
	}
	if got := ratelimit.ScriptSHAs(); len(got) != 3 {
		t.Errorf("distinct SHA1s %q, want 3 (4.3.1 and 6.0.1 share the get script)", got)
	}
}

// The table is what the real libraries load: after the real app served one
// limited request, SCRIPT EXISTS answers 1 for each of that version's
// scripts and 0 for the other version's; the check names that version.
// After SCRIPT FLUSH (as a restart or failover leaves it) it warns; the next
// limited request meets NOSCRIPT, loads the increment script again and
// retries (both versions), which the check reports.
func TestRateLimitScriptsOfTheRealLibrary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		app     int
		version string
	}{{8, "6.0.1"}, {7, "4.3.1"}} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := valkeytest.Start(t, valkeytest.Options{})
			cl := srv.Client(t)
			app := nodeapp.StartRateLimit(t, nodeapp.Options{Version: tc.app, RedisURL: srv.URL})
			if v := app.Versions(t)["rate-limit-redis"]; v != tc.version {
				t.Fatalf("the app runs rate-limit-redis %s, want %s", v, tc.version)
			}
			if st, _ := app.Hit(t, "/api/x", "203.0.113.7"); st != http.StatusOK {
				t.Fatalf("limited request: HTTP %d", st)
			}
			own, others := shasOf(tc.version)
			for i, v := range scriptExists(t, cl, own) {
				if v != 1 {
					t.Errorf("%s: SCRIPT EXISTS %s = %d after a limited request, want 1", tc.version, own[i], v)
				}
			}
			for i, v := range scriptExists(t, cl, others) {
				if v != 0 {
					t.Errorf("%s: another version's script %s is loaded", tc.version, others[i])
				}
			}
			out, d := runRateLimit(t, ctx, rateLimitProbe(srv.URL))
			if out.Status != OK || d.Scripting != ScriptingEnabled || !strings.Contains(out.Detail, "rate-limit-redis "+tc.version+" (increment, get)") {
				t.Fatalf("after a limited request: %s %q", out.Status, out.Detail)
			}
			for _, s := range d.Scripts {
				if want := s.Version == tc.version || s.Role == ratelimit.RoleGet; s.Loaded != want {
					t.Errorf("script %+v: loaded %v, want %v", s, s.Loaded, want)
				}
			}
			if d.MaxMemoryPolicy != "noeviction" || d.Errors != (RateLimitErrors{}) {
				t.Errorf("data %+v", d)
			}

			if err := cl.Do(ctx, cl.B().ScriptFlush().Build()).Error(); err != nil {
				t.Fatal(err)
			}
			out, d = runRateLimit(t, ctx, rateLimitProbe(srv.URL))
			if out.Status != Warn || !strings.Contains(out.Detail, "no known rate-limit-redis script is loaded") || d.Scripting != ScriptingEnabled {
				t.Fatalf("after SCRIPT FLUSH: %s %q", out.Status, out.Detail)
			}
			for _, s := range d.Scripts {
				if s.Loaded {
					t.Errorf("after SCRIPT FLUSH: %+v loaded", s)
				}
			}

			st, _ := app.Hit(t, "/api/x", "203.0.113.7")
			out, d = runRateLimit(t, ctx, rateLimitProbe(srv.URL))
			if st != http.StatusOK || out.Status != Warn || d.Errors.NOSCRIPT != 1 ||
				!strings.Contains(out.Detail, "rate-limit-redis "+tc.version+" (increment)") || !strings.Contains(out.Detail, "1 NOSCRIPT errors since the server started") {
				t.Fatalf("after the flush and a request: HTTP %d, %s %q %+v", st, out.Status, out.Detail, d.Errors)
			}
		})
	}
}

func configSet(t *testing.T, cl valkey.Client, k, v string) {
	t.Helper()
	if err := cl.Do(context.Background(), cl.B().ConfigSet().ParameterValue().ParameterValue(k, v).Build()).Error(); err != nil {
		t.Fatal(err)
	}
}

// Evictions warn under any policy that evicts keys with an expiry (every
// counter has one), counted through Counters: a watch round reports only
// the evictions since the round before. noeviction never does.
func TestRateLimitEviction(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"allkeys-lru", "volatile-ttl"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--maxmemory-policy", policy}})
			cl := srv.Client(t)
			for _, s := range ratelimit.Scripts[:1] {
				if err := cl.Do(ctx, cl.B().ScriptLoad().Script(s.Text).Build()).Error(); err != nil {
					t.Fatal(err)
				}
			}
			out, d := runRateLimit(t, ctx, rateLimitProbe(srv.URL))
			if out.Status != OK || d.MaxMemoryPolicy != policy || strings.Contains(out.Detail, "evict") {
				t.Fatalf("the policy alone: %s %q", out.Status, out.Detail)
			}
			evict := func(prefix string) int64 {
				used := infoField(t, cl, "memory", "used_memory")
				configSet(t, cl, "maxmemory", strconv.FormatInt(used+(1<<20), 10))
				val := strings.Repeat("v", 16<<10)
				for i := 0; i < 200; i++ { // 3 MiB of counters-to-be with a window
					cl.Do(ctx, cl.B().Set().Key(prefix+strconv.Itoa(i)).Value(val).Px(time.Hour).Build())
				}
				configSet(t, cl, "maxmemory", "0")
				return infoField(t, cl, "stats", "evicted_keys")
			}
			c := NewCounters()
			wctx := WithCounters(ctx, c)
			total := evict("rl:a")
			out, d = runRateLimit(t, wctx, rateLimitProbe(srv.URL))
			want := "maxmemory-policy " + policy + " evicts rate-limit counters, which silently lifts clients' limits (use noeviction with memory headroom): " +
				strconv.FormatInt(total, 10) + " keys evicted since the server started"
			if total == 0 || out.Status != Warn || !strings.Contains(out.Detail, want) || d.EvictedKeys != total {
				t.Fatalf("round 1 after %d evictions: %s %q, want %q", total, out.Status, out.Detail, want)
			}
			c.Next()
			if out, _ = runRateLimit(t, wctx, rateLimitProbe(srv.URL)); out.Status != OK {
				t.Fatalf("round 2, nothing new: %s %q", out.Status, out.Detail)
			}
			c.Next()
			more := evict("rl:b") - total
			out, d = runRateLimit(t, wctx, rateLimitProbe(srv.URL))
			if more == 0 || out.Status != Warn || !strings.Contains(out.Detail, ": "+strconv.FormatInt(more, 10)+" keys evicted since the last round") || d.EvictedKeys != total+more {
				t.Fatalf("round 3 after %d more: %s %q", more, out.Status, out.Detail)
			}
		})
	}
}

func infoField(t *testing.T, cl valkey.Client, section, field string) int64 {
	t.Helper()
	s, err := cl.Do(context.Background(), cl.B().Info().Section(section).Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := valkeyclient.ParseInfo(s).Int(field)
	return n
}

// A user whose ACL refuses INFO (but INFO cluster, which connecting needs) still gets the scripting verdict; each
// unreadable section is a note, not a failure.
func TestRateLimitInfoRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--user", "api", "on", "nopass", "~*", "&*", "+@all", "-info", "+info|cluster"}})
	out, d := runRateLimit(t, ctx, rateLimitProbe("redis://api@"+srv.Addr))
	if out.Status != Warn || d.Scripting != ScriptingEnabled || !strings.Contains(out.Detail, "no known rate-limit-redis script is loaded") {
		t.Fatalf("%s %q %+v", out.Status, out.Detail, d)
	}
	for _, s := range []string{"memory", "stats", "errorstats"} {
		if !strings.Contains(out.Detail, "could not read INFO "+s+": NOPERM") {
			t.Errorf("detail %q lacks the note for INFO %s", out.Detail, s)
		}
	}
	if d.MaxMemoryPolicy != "" || d.EvictedKeys != 0 {
		t.Fatalf("data %+v", d)
	}
}

// In a cluster every primary is asked; a script loaded on any one counts.
func TestRateLimitCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := valkeytest.StartCluster(t, valkeytest.Options{})
	out, _ := runRateLimit(t, ctx, rateLimitProbe(c.URL))
	if out.Status != Warn || !strings.Contains(out.Detail, "no known rate-limit-redis script is loaded") {
		t.Fatalf("nothing loaded: %s %q", out.Status, out.Detail)
	}
	last := c.Nodes[2]
	cl, err := last.SingleClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	inc := ratelimit.Scripts[2] // 4.3.1 increment
	if err := cl.Do(ctx, cl.B().ScriptLoad().Script(inc.Text).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	out, d := runRateLimit(t, ctx, rateLimitProbe(c.URL))
	if out.Status != OK || !strings.Contains(out.Detail, "rate-limit-redis 4.3.1 (increment)") {
		t.Fatalf("loaded on %s: %s %q", last.Addr, out.Status, out.Detail)
	}
	for _, s := range d.Scripts {
		if s.Loaded != (s.SHA == inc.SHA1) {
			t.Errorf("%+v", s)
		}
	}
}

// INFO errorstats, provoked for real: a user whose ACL refuses SET gets
// NOPERM, a write at maxmemory under noeviction gets OOM, an EVALSHA of an
// unloaded script gets NOSCRIPT. Each count is in data.errors and warns in
// the detail; a watch round reports only the new ones.
func TestRateLimitErrorStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--user", "limited", "on", "nopass", "~*", "&*", "+@all", "-set"}})
	cl := srv.Client(t)
	limited, err := valkeyclient.Connect(ctx, valkeyclient.Options{URL: "redis://limited@" + srv.Addr, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Close()
	lc := limited.Nodes()[0].Client
	deny := func(n int) {
		for i := 0; i < n; i++ {
			err := lc.Do(ctx, lc.B().Set().Key("rl:203.0.113.7").Value("1").Build()).Error()
			if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
				t.Fatalf("SET as the limited user: %v, want NOPERM", err)
			}
		}
	}
	deny(3)
	configSet(t, cl, "maxmemory", "1")
	for i := 0; i < 2; i++ {
		if err := cl.Do(ctx, cl.B().Set().Key("rl:198.51.100.1").Value("1").Build()).Error(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
			t.Fatalf("SET at maxmemory: %v, want OOM", err)
		}
	}
	configSet(t, cl, "maxmemory", "0")
	if err := cl.Do(ctx, cl.B().Evalsha().Sha1(strings.Repeat("0", 40)).Numkeys(0).Build()).Error(); err == nil || !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		t.Fatalf("EVALSHA of no script: %v, want NOSCRIPT", err)
	}

	c := NewCounters()
	wctx := WithCounters(ctx, c)
	out, d := runRateLimit(t, wctx, rateLimitProbe(srv.URL))
	if d.Errors != (RateLimitErrors{OOM: 2, NOPERM: 3, NOSCRIPT: 1}) {
		t.Fatalf("errors %+v, want OOM 2, NOPERM 3, NOSCRIPT 1", d.Errors)
	}
	for _, want := range []string{
		"commands refused by an ACL: 3 NOPERM errors since the server started",
		"writes refused at maxmemory, which the limiter turns into errors (HTTP 500): 2 OOM errors since the server started",
		": 1 NOSCRIPT errors since the server started",
	} {
		if out.Status != Warn || !strings.Contains(out.Detail, want) {
			t.Fatalf("round 1: %s %q, want warn with %q", out.Status, out.Detail, want)
		}
	}
	c.Next()
	if out, _ := runRateLimit(t, wctx, rateLimitProbe(srv.URL)); strings.Contains(out.Detail, "NOPERM") || strings.Contains(out.Detail, "OOM") {
		t.Fatalf("round 2, nothing new: %s %q", out.Status, out.Detail)
	}
	c.Next()
	deny(1)
	out, d = runRateLimit(t, wctx, rateLimitProbe(srv.URL))
	if d.Errors.NOPERM != 4 || out.Status != Warn || !strings.Contains(out.Detail, "commands refused by an ACL: 1 NOPERM errors since the last round") || strings.Contains(out.Detail, "OOM errors") {
		t.Fatalf("round 3, one more NOPERM: %s %q %+v", out.Status, out.Detail, d.Errors)
	}
}
