package probe

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
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
