package limits_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/ratelimit"
	"github.com/oxyhq/oxyctl/internal/testutil/nodeapp"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// truth is what the app itself said about a client: ground truth from the
// library's own headers and request info.
type truth struct {
	query     string // the client address oxyctl is given (req.ip)
	key       string // the client key, identified by the draft-8 pk
	hits      int64
	remaining int64
	blocked   bool
	resetAt   time.Time // the library's resetTime (window end)
	pk        string
}

var pkRE = regexp.MustCompile(`pk=:([^:]+):`)

// pkOf is the draft-8 partition key: base64 of the first 12 hex characters
// of SHA-256 of the client key.
func pkOf(clientKey string) string {
	sum := sha256.Sum256([]byte(clientKey))
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(sum[:])[:12]))
}

type appBody struct {
	RateLimit struct {
		Used      int64   `json:"used"`
		Remaining int64   `json:"remaining"`
		ResetTime *string `json:"reset_time"`
		Key       *string `json:"key"`
	} `json:"rate_limit"`
}

// drive sends n requests as xff and returns what the app said.
func drive(t *testing.T, a *nodeapp.App, xff string, n int) truth {
	t.Helper()
	tr := truth{query: strings.TrimSpace(strings.Split(xff, ",")[0])}
	var after429 int64
	var lastUsed int64
	for i := 0; i < n; i++ {
		status, h, body := a.HitBody(t, "/api/ping", xff)
		q := nodeapp.ParseQuota(h)
		m := pkRE.FindStringSubmatch(q.Policy)
		if m == nil {
			t.Fatalf("%s: no pk in RateLimit-Policy %q", xff, q.Policy)
		}
		tr.pk = m[1]
		tr.remaining = int64(q.Remaining)
		switch status {
		case 200:
			var b appBody
			if err := json.Unmarshal(body, &b); err != nil {
				t.Fatalf("%s: body %q: %v", xff, body, err)
			}
			lastUsed, after429 = b.RateLimit.Used, 0
			if b.RateLimit.ResetTime == nil {
				t.Fatalf("%s: no reset_time", xff)
			}
			tr.resetAt, _ = time.Parse(time.RFC3339Nano, *b.RateLimit.ResetTime)
			if b.RateLimit.Key != nil { // erl 8 reports the key
				tr.key = *b.RateLimit.Key
			}
			tr.blocked = false
		case 429:
			after429++
			tr.blocked = true
		default:
			t.Fatalf("%s: status %d", xff, status)
		}
	}
	tr.hits = lastUsed + after429
	return tr
}

func TestInteropRateLimit(t *testing.T) {
	for _, v := range []int{8, 7} {
		t.Run(fmt.Sprintf("express-rate-limit-%d", v), func(t *testing.T) {
			t.Parallel()
			testInterop(t, v)
		})
	}
}

func testInterop(t *testing.T, version int) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	a := nodeapp.StartRateLimit(t, nodeapp.Options{
		Version:  version,
		RedisURL: srv.URL,
		Limiters: []nodeapp.Limiter{{Name: "api", StandardHeaders: "draft-8"}},
	})
	t.Logf("app versions: %v", a.Versions(t))
	c := newCLI(t, srv.URL, fmt.Sprintf("      - name: api\n        prefix: \"rl:\"\n        limit: 150\n        window: 15m\n        express_rate_limit: %d\n", version))

	// Clients from IPv4, IPv6 (two addresses of one /56), IPv4-mapped IPv6
	// in dotted and hex form, an X-Forwarded-For chain, and two that go over
	// the limit.
	plan := []struct {
		xff string
		n   int
	}{
		{"203.0.113.7", 3},
		{"2001:db8:abcd:12ff::1", 2},
		{"2001:DB8:ABCD:1234:5678::9", 1},
		{"2001:db8:abcd:ff00::1", 1},
		{"::ffff:192.0.2.10", 1},
		{"::ffff:c000:20b", 4},
		{"203.0.113.50, 10.0.0.1", 1},
		{"198.51.100.23", 152},
		{"2001:db8:beef::1", 153},
	}
	byPK := map[string]truth{} // the library's view, one entry per key
	var queries []string
	for _, p := range plan {
		tr := drive(t, a, p.xff, p.n)
		queries = append(queries, tr.query)
		if prev, ok := byPK[tr.pk]; ok && prev.query != tr.query { // same key via another address (v8 /56)
			if tr.hits <= prev.hits {
				t.Fatalf("%s shares a key with %s but hits did not grow", tr.query, prev.query)
			}
		}
		byPK[tr.pk] = tr
	}

	// limits get, for every address: the record must be the library's.
	var got ratelimit.GetResult
	if err := json.Unmarshal(c.mustRun(t, append([]string{"limits", "get", "-o", "json"}, queries...)...), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.NotFound) != 0 || len(got.Anomalies) != 0 {
		t.Fatalf("get: not_found %+v anomalies %+v", got.NotFound, got.Anomalies)
	}
	seen := map[string]bool{}
	for _, r := range got.Clients {
		want, ok := byPK[pkOf(r.Client)]
		if !ok {
			t.Errorf("get %s: oxyctl derived client %q, which the library does not use (its pk %s matches no response)", r.Query, r.Client, pkOf(r.Client))
			continue
		}
		checkTruth(t, "get "+r.Query, r, want)
		seen[r.Key] = true
	}
	if len(seen) != len(byPK) {
		t.Errorf("get found %d keys, the library used %d", len(seen), len(byPK))
	}

	// limits list: every key the library wrote, and nothing else.
	var list ratelimit.ListResult
	if err := json.Unmarshal(c.mustRun(t, "limits", "list", "--top", "0", "-o", "json"), &list); err != nil {
		t.Fatal(err)
	}
	if list.ScannedKeys != int64(len(byPK)) || len(list.Clients) != len(byPK) || len(list.Anomalies) != 0 {
		t.Fatalf("list: scanned %d, %d clients, %d anomalies; the library used %d keys", list.ScannedKeys, len(list.Clients), len(list.Anomalies), len(byPK))
	}
	for _, r := range list.Clients {
		want, ok := byPK[pkOf(r.Client)]
		if !ok {
			t.Errorf("list: client %q is not one the library wrote", r.Client)
			continue
		}
		checkTruth(t, "list "+r.Client, r, want)
	}
	var blocked ratelimit.ListResult
	if err := json.Unmarshal(c.mustRun(t, "limits", "list", "--blocked", "-o", "json"), &blocked); err != nil {
		t.Fatal(err)
	}
	if len(blocked.Clients) != 2 {
		t.Fatalf("list --blocked: %+v", blocked.Clients)
	}

	// reset one blocked client by name: the app answers 200 again.
	if status, _ := a.Hit(t, "/api/ping", "198.51.100.23"); status != 429 {
		t.Fatalf("198.51.100.23 before reset: status %d, want 429", status)
	}
	var res ratelimit.ResetResult
	if err := json.Unmarshal(c.mustRun(t, "limits", "reset", "198.51.100.23", "-o", "json"), &res); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Deleted) != "[rl:198.51.100.23]" {
		t.Fatalf("reset: %+v", res)
	}
	if tr := drive(t, a, "198.51.100.23", 1); tr.blocked || tr.hits != 1 || tr.remaining != 149 {
		t.Fatalf("after reset: %+v, want a new window with 1 hit", tr)
	}

	// reset the other one with --blocked --yes; the first one (1 hit now) stays.
	code, out, errOut := c.run(t, "limits", "reset", "--blocked", "--yes", "-o", "json")
	if code != 0 {
		t.Fatalf("reset --blocked: exit %d: %s", code, errOut)
	}
	beef := map[int]string{8: "rl:2001:db8:beef::/56", 7: "rl:2001:db8:beef::1"}[version]
	if err := json.Unmarshal([]byte(out), &res); err != nil || fmt.Sprint(res.Deleted) != "["+beef+"]" {
		t.Fatalf("reset --blocked: %s (%v)", out, err)
	}
	if tr := drive(t, a, "2001:db8:beef::1", 1); tr.blocked || tr.hits != 1 {
		t.Fatalf("after reset --blocked: %+v", tr)
	}

	// reset by another spelling of an address: v8 derives the same key as the
	// library (another address in the /56; the mapped address), v7 does not.
	resetOne := func(client string) ratelimit.ResetResult {
		var r ratelimit.ResetResult
		if err := json.Unmarshal(c.mustRun(t, "limits", "reset", client, "-o", "json"), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if version == 8 {
		if r := resetOne("2001:db8:abcd:12aa::7"); fmt.Sprint(r.Deleted) != "[rl:2001:db8:abcd:1200::/56]" {
			t.Fatalf("v8 reset of another address in the /56: %+v", r)
		}
		if tr := drive(t, a, "2001:db8:abcd:12ff::1", 1); tr.hits != 1 {
			t.Fatalf("after /56 reset: %+v", tr)
		}
	}
	if r := resetOne("::ffff:192.0.2.11"); len(r.Deleted) != 1 && version == 8 || len(r.Deleted) != 0 && version == 7 {
		t.Fatalf("v%d reset of ::ffff:192.0.2.11: %+v", version, r)
	}

	// What the store now holds agrees with oxyctl for every key.
	var final ratelimit.ListResult
	if err := json.Unmarshal(c.mustRun(t, "limits", "list", "--top", "0", "-o", "json"), &final); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range final.Clients {
		si := a.Store(t, "", r.Client)
		if si.TotalHits == nil || int64(*si.TotalHits) != r.Hits {
			t.Errorf("store.get(%q) = %+v, oxyctl says %d hits", r.Client, si, r.Hits)
		}
		keys = append(keys, r.Key)
	}
	sort.Strings(keys)
	t.Logf("v%d keys after the resets: %q", version, keys)
}

// checkTruth compares an oxyctl record with the library's view.
func checkTruth(t *testing.T, what string, r ratelimit.Record, want truth) {
	t.Helper()
	if want.key != "" && r.Client != want.key {
		t.Errorf("%s: client %q, the library's key is %q", what, r.Client, want.key)
	}
	if r.Key != "rl:"+r.Client {
		t.Errorf("%s: key %q", what, r.Key)
	}
	if r.Hits != want.hits || r.Remaining != want.remaining || r.Blocked != want.blocked {
		t.Errorf("%s: hits %d remaining %d blocked %v; the library said hits %d remaining %d blocked %v",
			what, r.Hits, r.Remaining, r.Blocked, want.hits, want.remaining, want.blocked)
	}
	if d := r.ResetsAt.Sub(want.resetAt); d < -time.Second || d > time.Second {
		t.Errorf("%s: resets_at %s, the library's window ends %s", what, r.ResetsAt, want.resetAt)
	}
	if r.ResetInMS <= 0 || r.ResetInMS > 900000 {
		t.Errorf("%s: reset_in_ms %d", what, r.ResetInMS)
	}
}
