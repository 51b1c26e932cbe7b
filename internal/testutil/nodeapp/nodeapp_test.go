package nodeapp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func scanAll(t *testing.T, cl valkey.Client) []string {
	t.Helper()
	var keys []string
	cursor := uint64(0)
	for {
		e, err := cl.Do(ctx(t), cl.B().Scan().Cursor(cursor).Count(1000).Build()).AsScanEntry()
		if err != nil {
			t.Fatalf("SCAN: %v", err)
		}
		keys = append(keys, e.Elements...)
		if e.Cursor == 0 {
			break
		}
		cursor = e.Cursor
	}
	slices.Sort(keys)
	return keys
}

func getPTTL(t *testing.T, cl valkey.Client, key string) (string, int64) {
	t.Helper()
	v, err := cl.Do(ctx(t), cl.B().Get().Key(key).Build()).ToString()
	if err != nil {
		t.Fatalf("GET %q: %v (keys: %q)", key, err, scanAll(t, cl))
	}
	ttl, err := cl.Do(ctx(t), cl.B().Pttl().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatalf("PTTL %q: %v", key, err)
	}
	return v, ttl
}

// TestRateLimit drives the real express-rate-limit 8 and 7 apps and checks
// the counters they leave in a real Valkey.
func TestRateLimit(t *testing.T) {
	for _, tc := range []struct {
		version int
		erl     string // major.minor prefix of express-rate-limit
		ipv6Key string // key for X-Forwarded-For 2001:DB8:ABCD:1234:5678::9
	}{
		{8, "8.", "rl:2001:db8:abcd:1200::/56"},
		{7, "7.", "rl:2001:DB8:ABCD:1234:5678::9"},
	} {
		t.Run("v"+strconv.Itoa(tc.version), func(t *testing.T) {
			t.Parallel()
			srv := valkeytest.Start(t, valkeytest.Options{})
			cl := srv.Client(t)
			app := StartRateLimit(t, Options{
				Version:  tc.version,
				RedisURL: srv.URL,
				Limiters: []Limiter{
					{Name: "api", Path: "/api", Prefix: "rl:", Limit: 3},
					{Name: "auth", Path: "/auth", Prefix: "rl-auth:", Limit: 5, StandardHeaders: "draft-8"},
				},
			})
			if v := app.Versions(t)["express-rate-limit"]; !strings.HasPrefix(v, tc.erl) {
				t.Fatalf("express-rate-limit version %q, want %s*", v, tc.erl)
			}

			// Three allowed, the fourth blocked, and every hit counted.
			var statuses, remaining []int
			var last Quota
			for range 4 {
				status, h := app.Hit(t, "/api/things", "203.0.113.7")
				last = ParseQuota(h)
				statuses = append(statuses, status)
				remaining = append(remaining, last.Remaining)
				if last.Limit != 3 {
					t.Fatalf("X-RateLimit-Limit = %d, want 3 (headers %v)", last.Limit, h)
				}
			}
			if !slices.Equal(statuses, []int{200, 200, 200, 429}) || !slices.Equal(remaining, []int{2, 1, 0, 0}) {
				t.Fatalf("statuses %v remaining %v, want [200 200 200 429] [2 1 0 0]", statuses, remaining)
			}
			if last.RetryAfter <= 0 || last.RetryAfter > 900 {
				t.Fatalf("Retry-After on the 429 = %d, want 1..900", last.RetryAfter)
			}
			if d := time.Until(time.Unix(last.Reset, 0)); d < 14*time.Minute || d > 16*time.Minute {
				t.Fatalf("X-RateLimit-Reset is %s away, want about 15m", d)
			}
			v, ttl := getPTTL(t, cl, "rl:203.0.113.7")
			if v != "4" || ttl <= 880000 || ttl > 900000 {
				t.Fatalf("rl:203.0.113.7 = %q PTTL %d, want \"4\" and PTTL in (880000, 900000]", v, ttl)
			}
			if info := app.Store(t, "api", "203.0.113.7"); info.TotalHits == nil || *info.TotalHits != 4 || info.Key != "rl:203.0.113.7" {
				t.Fatalf("store.get = %+v, want 4 hits on rl:203.0.113.7", info)
			}

			// IPv6: v8 masks to /56 and normalises; v7 keeps req.ip as written.
			if status, _ := app.Hit(t, "/api/x", "2001:DB8:ABCD:1234:5678::9"); status != 200 {
				t.Fatalf("IPv6 hit: status %d", status)
			}
			if v, ttl := getPTTL(t, cl, tc.ipv6Key); v != "1" || ttl <= 880000 {
				t.Fatalf("%s = %q PTTL %d, want \"1\" and a 15 min expiry", tc.ipv6Key, v, ttl)
			}

			// The second limiter has its own prefix and standard headers.
			status, h := app.Hit(t, "/auth/login", "198.51.100.7, 10.0.0.1")
			if status != 200 || !strings.Contains(h.Get("RateLimit"), `"5-in-15min"; r=4`) {
				t.Fatalf("auth: status %d RateLimit %q", status, h.Get("RateLimit"))
			}
			if v, _ := getPTTL(t, cl, "rl-auth:198.51.100.7"); v != "1" {
				t.Fatalf("rl-auth:198.51.100.7 = %q, want 1", v)
			}

			want := []string{"rl-auth:198.51.100.7", "rl:203.0.113.7", tc.ipv6Key}
			slices.Sort(want)
			if got := scanAll(t, cl); !slices.Equal(got, want) {
				t.Fatalf("keys %q, want %q", got, want)
			}

			// resetKey is a DEL; the next hit starts a new window at 1.
			app.ResetKey(t, "api", "203.0.113.7")
			if n, err := cl.Do(ctx(t), cl.B().Exists().Key("rl:203.0.113.7").Build()).AsInt64(); err != nil || n != 0 {
				t.Fatalf("after resetKey EXISTS = %d, %v", n, err)
			}
			if status, _ := app.Hit(t, "/api/things", "203.0.113.7"); status != 200 {
				t.Fatalf("after reset: status %d", status)
			}

			app.Stop()
			if !app.Exited() || app.StoppedBy() != "stdin" {
				t.Fatalf("after Stop: exited %v, stopped by %q; want exit on stdin close", app.Exited(), app.StoppedBy())
			}
		})
	}
}

// TestRateLimitTLSPassword checks the rediss:// + REDIS_CA + password path.
func TestRateLimitTLSPassword(t *testing.T) {
	t.Parallel()
	const pw = "s3cret-Pw-42"
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: pw})
	cl := srv.Client(t)
	app := StartRateLimit(t, Options{RedisURL: srv.URL, RedisCA: srv.CAFile})
	if status, _ := app.Hit(t, "/api/a", "192.0.2.44"); status != 200 {
		t.Fatalf("status %d", status)
	}
	if v, ttl := getPTTL(t, cl, "rl:192.0.2.44"); v != "1" || ttl <= 890000 || ttl > 900000 {
		t.Fatalf("rl:192.0.2.44 = %q PTTL %d", v, ttl)
	}
	if strings.Contains(app.Stderr(), pw) {
		t.Fatalf("the app logged the password: %s", app.Stderr())
	}
}

var hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)
var classicUID = regexp.MustCompile(`^[A-Za-z0-9_-]{6}$`)

// TestSocketIO starts the two-server harness with each adapter and checks
// that the servers reach each other through Valkey.
func TestSocketIO(t *testing.T) {
	for _, adapter := range []string{"classic", "sharded"} {
		t.Run(adapter, func(t *testing.T) {
			t.Parallel()
			srv := valkeytest.Start(t, valkeytest.Options{})
			cl := srv.Client(t)
			app := StartSocketIO(t, Options{Adapter: adapter, RedisURL: srv.URL, Key: "oxytest"})

			uids := app.UIDs(t)
			re := map[string]*regexp.Regexp{"classic": classicUID, "sharded": hex16}[adapter]
			all := append(uids.Of("/"), uids.Of("/chat")...)
			for _, u := range all {
				if !re.MatchString(u) {
					t.Fatalf("uid %q does not look like a %s adapter uid (all: %v)", u, adapter, uids)
				}
			}
			if len(slices.Compact(slices.Sorted(slices.Values(all)))) != 4 {
				t.Fatalf("uids not distinct: %v", uids)
			}
			if uids.Adapter != adapter || uids.Key != "oxytest" {
				t.Fatalf("harness runs adapter %q key %q", uids.Adapter, uids.Key)
			}

			// What Valkey sees: one subscriber per server, under our key.
			var count map[string]int64
			var err error
			if adapter == "classic" {
				count, err = cl.Do(ctx(t), cl.B().PubsubNumsub().Channel("oxytest-request#/#").Build()).AsIntMap()
			} else {
				count, err = cl.Do(ctx(t), cl.B().PubsubShardnumsub().Channel("oxytest#/#").Build()).AsIntMap()
			}
			if err != nil {
				t.Fatalf("NUMSUB: %v", err)
			}
			for ch, n := range count {
				if n != 2 {
					t.Fatalf("%s has %d subscribers, want 2 (one per server)", ch, n)
				}
			}
			var chans []string
			if adapter == "classic" {
				chans, err = cl.Do(ctx(t), cl.B().PubsubChannels().Pattern("oxytest-response#/#*").Build()).AsStrSlice()
			} else {
				chans, err = cl.Do(ctx(t), cl.B().PubsubShardchannels().Pattern("oxytest#/#*").Build()).AsStrSlice()
			}
			if err != nil {
				t.Fatalf("CHANNELS: %v", err)
			}
			for _, u := range uids.Of("/") {
				want := "oxytest#/#" + u + "#"
				if adapter == "classic" {
					want = "oxytest-response#/#" + u + "#"
				}
				if !slices.Contains(chans, want) {
					t.Fatalf("channels %q lack %q", chans, want)
				}
			}

			r := app.Emit(t, "fetch-sockets")
			if !r.OK || r.Count != 6 || len(r.Sockets) != 6 {
				t.Fatalf("fetch-sockets: ok %v count %d error %q", r.OK, r.Count, r.Error)
			}

			r = app.Emit(t, "all")
			got := r.ReceivedBy()
			slices.Sort(got)
			if want := []string{"a1", "a2", "a3", "b1", "b2", "b3"}; !slices.Equal(got, want) {
				t.Fatalf("news received by %v, want %v", got, want)
			}
			if r.OriginUID != uids.A["/"] || r.Event != "news" || r.Namespace != "/" {
				t.Fatalf("all: origin %q event %q nsp %q", r.OriginUID, r.Event, r.Namespace)
			}

			r = app.EmitRequest(t, EmitRequest{Scenario: "binary", From: "B"})
			if len(r.Args) != 2 || string(r.Args[0]) != `{"binary":"3q2+7w==","size":4}` {
				t.Fatalf("binary args %s", r.Raw)
			}
			var onA bool
			for _, d := range r.Received {
				if d.Server == "A" {
					onA = true
					if len(d.Args) != 2 || string(d.Args[0]) != string(r.Args[0]) {
						t.Fatalf("client %s got %s", d.Client, d.Args)
					}
				}
			}
			if !onA || r.OriginUID != uids.B["/"] {
				t.Fatalf("binary from B: no client on A got it, or wrong origin: %s", r.Raw)
			}

			r = app.Emit(t, "server-side-emit-ack")
			if !r.OK || len(r.Responses) != 1 || len(r.ServerEvents) != 1 || r.ServerEvents[0].Server != "B" {
				t.Fatalf("server-side-emit-ack: %s", r.Raw)
			}
		})
	}
}

func TestBadLimitersFailsStart(t *testing.T) {
	t.Parallel()
	node, dir, err := locate("ratelimit-v8")
	if err != nil {
		if RequireNode() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	start := time.Now()
	_, err = launch(node, dir, "ratelimit-v8", "server.js", []string{"REDIS_URL=redis://127.0.0.1:1", "LIMITERS={nope"}, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "LIMITERS is not JSON") || !strings.Contains(err.Error(), "exited before READY") {
		t.Fatalf("launch with bad LIMITERS: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("a bad config took %s to report", time.Since(start))
	}
}

func TestCheckInstalled(t *testing.T) {
	dir := t.TempDir()
	lock := []byte(`{"lockfileVersion":3}`)
	if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), lock, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkInstalled(dir); err == nil || !strings.Contains(err.Error(), "install.sh") {
		t.Fatalf("no node_modules: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "node_modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	stamp := filepath.Join(dir, "node_modules", StampFile)
	if err := os.WriteFile(stamp, []byte("0000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkInstalled(dir); err == nil || !strings.Contains(err.Error(), "older than package-lock.json") {
		t.Fatalf("stale stamp: %v", err)
	}
	sum := sha256.Sum256(lock)
	if err := os.WriteFile(stamp, []byte(hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkInstalled(dir); err != nil {
		t.Fatalf("good stamp: %v", err)
	}
}

func TestLimiterJSON(t *testing.T) {
	b, err := json.Marshal([]Limiter{{Name: "api", Limit: 3, NoLegacyHeaders: true}, {Prefix: "rl-auth:"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"name":"api","limit":3,"legacyHeaders":false},{"prefix":"rl-auth:"}]`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}

func TestRedact(t *testing.T) {
	got := redact("connect redis://default:hunter2@127.0.0.1:6379 failed: hunter2", "redis://default:hunter2@127.0.0.1:6379")
	if strings.Contains(got, "hunter2") {
		t.Fatalf("redact left the password: %s", got)
	}
}
