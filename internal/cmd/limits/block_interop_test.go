package limits_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/nodeapp"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// rateLimitT is the t= (seconds to reset) of a draft-8 RateLimit header.
var rateLimitT = regexp.MustCompile(`t=(\d+)`)

// TestInteropBlock: the real apps (express-rate-limit 8 + rate-limit-redis
// 6, and 7 + 4) enforce a block at once, show its expiry in their headers,
// let the client through after limits reset or once it expires, and group
// IPv6 the way each version does.
func TestInteropBlock(t *testing.T) {
	for _, v := range []int{8, 7} {
		t.Run(fmt.Sprintf("express-rate-limit-%d", v), func(t *testing.T) {
			t.Parallel()
			testInteropBlock(t, v)
		})
	}
}

func testInteropBlock(t *testing.T, version int) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	a := nodeapp.StartRateLimit(t, nodeapp.Options{
		Version:  version,
		RedisURL: srv.URL,
		Limiters: []nodeapp.Limiter{{Name: "api", StandardHeaders: "draft-8"}},
	})
	c := newCLI(t, srv.URL, fmt.Sprintf("      - name: api\n        prefix: \"rl:\"\n        limit: 150\n        window: 15m\n        express_rate_limit: %d\n", version))
	status := func(xff string) (int, nodeapp.Quota) {
		s, h := a.Hit(t, "/api/ping", xff)
		return s, nodeapp.ParseQuota(h)
	}
	// 198.51.100.23 has no counter yet (a counter that expires later than
	// --for keeps its expiry: see the domain's tests).
	if s, _ := status("203.0.113.7"); s != 200 {
		t.Fatalf("before the block: %d", s)
	}

	var res ratelimit.BlockResult
	if err := json.Unmarshal(c.mustRun(t, "limits", "block", "198.51.100.23", "--for", "90s", "-o", "json"), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Blocked) != 1 || res.Blocked[0].Key != "rl:198.51.100.23" || res.Blocked[0].Hits != 151 ||
		res.Blocked[0].ResetInMS > 90000 || res.Blocked[0].ResetInMS < 85000 {
		t.Fatalf("block: %+v", res)
	}
	// Its very next request: 429, with the block's expiry in the headers.
	s, q := status("198.51.100.23")
	if s != 429 {
		t.Fatalf("blocked client: status %d, want 429", s)
	}
	if q.RetryAfter < 85 || q.RetryAfter > 90 {
		t.Errorf("Retry-After %d, want the block's ~90s", q.RetryAfter)
	}
	if m := rateLimitT.FindStringSubmatch(q.RateLimit); m == nil {
		t.Errorf("RateLimit header %q has no t=", q.RateLimit)
	} else if n, _ := strconv.Atoi(m[1]); n < 85 || n > 90 {
		t.Errorf("RateLimit %q: t=%d, want the block's ~90s", q.RateLimit, n)
	}
	if end := time.Unix(q.Reset, 0); time.Until(end) < 84*time.Second || time.Until(end) > 91*time.Second {
		t.Errorf("X-RateLimit-Reset %s is not the block's end", end)
	}
	if s, _ := status("203.0.113.7"); s != 200 {
		t.Errorf("another client: status %d, want 200", s)
	}
	// limits list shows it as blocked.
	var list ratelimit.ListResult
	if err := json.Unmarshal(c.mustRun(t, "limits", "list", "--blocked", "-o", "json"), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Clients) != 1 || list.Clients[0].Client != "198.51.100.23" {
		t.Errorf("list --blocked: %+v", list.Clients)
	}
	// limits reset lifts it.
	c.mustRun(t, "limits", "reset", "198.51.100.23")
	if s, _ := status("198.51.100.23"); s != 200 {
		t.Fatalf("after reset: status %d, want 200", s)
	}

	// IPv6: v8 groups the /56, v7 keys the exact address.
	if err := json.Unmarshal(c.mustRun(t, "limits", "block", "2001:db8:abcd:12ff::1", "--for", "90s", "-o", "json"), &res); err != nil {
		t.Fatal(err)
	}
	wantKey := map[int]string{8: "rl:2001:db8:abcd:1200::/56", 7: "rl:2001:db8:abcd:12ff::1"}[version]
	if len(res.Blocked) != 1 || res.Blocked[0].Key != wantKey {
		t.Fatalf("v%d IPv6 block: %+v", version, res)
	}
	neighbour := map[int]int{8: 429, 7: 200}[version]
	for ip, want := range map[string]int{"2001:db8:abcd:12ff::1": 429, "2001:db8:abcd:12aa::7": neighbour, "2001:db8:abcd:1300::1": 200} {
		if s, _ := status(ip); s != want {
			t.Errorf("v%d after blocking 2001:db8:abcd:12ff::1: %s answered %d, want %d", version, ip, s, want)
		}
	}

	// A short block expires and lets the client through again.
	c.mustRun(t, "limits", "block", "192.0.2.50", "--for", "1500ms")
	if s, _ := status("192.0.2.50"); s != 429 {
		t.Fatalf("short block: status %d, want 429", s)
	}
	time.Sleep(1700 * time.Millisecond)
	if s, q := status("192.0.2.50"); s != 200 || q.Remaining != 149 {
		t.Fatalf("after the short block expired: status %d remaining %d, want 200 and a new window", s, q.Remaining)
	}
}

// TestInteropWatch drives the real app at two known rates per client and
// checks the rates --watch reports against the requests the app answered
// between rounds (the ground truth), and against the driven rates (±20 %)
// whenever the machine kept the pace; --sort rate ranks the faster client
// first even though the slower one has more hits.
func TestInteropWatch(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	a := nodeapp.StartRateLimit(t, nodeapp.Options{
		Version:  8,
		RedisURL: srv.URL,
		Limiters: []nodeapp.Limiter{{Name: "api", Limit: 100000}},
	})
	c := newCLI(t, srv.URL, "      - name: api\n        prefix: \"rl:\"\n        limit: 100000\n        window: 15m\n")
	// The slow client starts with more hits, so only the rate ranks it second.
	for range 60 {
		a.Hit(t, "/api/ping", "203.0.113.5")
	}
	const fastIP, slowIP = "203.0.113.20", "203.0.113.5"
	driven := map[string]float64{fastIP: 20, slowIP: 5}
	var mu sync.Mutex
	answered := map[string][]time.Time{} // when the app answered each request
	stop := make(chan struct{})
	var wg sync.WaitGroup
	drive := func(ip string) {
		defer wg.Done()
		tick := time.NewTicker(time.Duration(float64(time.Second) / driven[ip]))
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if s, _ := a.Hit(t, "/api/ping", ip); s == 200 {
					mu.Lock()
					answered[ip] = append(answered[ip], time.Now())
					mu.Unlock()
				}
			}
		}
	}
	wg.Add(2)
	go drive(fastIP)
	go drive(slowIP)
	time.Sleep(500 * time.Millisecond)
	run := clitest.Start(t, app.Run, c.env, "limits", "list", "--watch", "--interval", "2s", "--sort", "rate", "-o", "json")
	deadline := time.Now().Add(60 * time.Second)
	for len(run.Stdout.Lines()) < 5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	run.Cancel()
	res := run.Wait(t, 30*time.Second)
	if res.Code != 0 || !strings.HasPrefix(res.Stderr, "watch: ") {
		t.Fatalf("exit %d, stderr %q", res.Code, res.Stderr)
	}
	// between counts the requests answered in (from, to].
	between := func(ip string, from, to time.Time) int {
		n := 0
		for _, at := range answered[ip] {
			if at.After(from) && !at.After(to) {
				n++
			}
		}
		return n
	}
	var prev ratelimit.WatchRound
	rated := 0
	for i, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var r ratelimit.WatchRound
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if r.Round != i+1 || r.Kind != "round" || len(r.Clients) != 2 {
			t.Fatalf("line %d: %s", i, line)
		}
		if r.Round > 1 {
			rated++
			secs := float64(r.ElapsedMS) / 1000
			truth := map[string]float64{}
			for _, rec := range r.Clients {
				// The counter was read during the scan: somewhere between
				// the round's start and its end.
				lo := between(rec.Client, prev.Time.Add(time.Duration(prev.ScanMS)*time.Millisecond), r.Time)
				hi := between(rec.Client, prev.Time, r.Time.Add(time.Duration(r.ScanMS+1)*time.Millisecond))
				got := *rec.RatePerS * secs
				if got < float64(lo)-1 || got > float64(hi)+1 {
					t.Errorf("round %d: %s rate %.2f/s = %.1f hits, the app answered %d to %d", r.Round, rec.Client, *rec.RatePerS, got, lo, hi)
				}
				truth[rec.Client] = float64(lo+hi) / 2 / secs
				if achieved := truth[rec.Client]; achieved >= 0.9*driven[rec.Client] {
					if d := *rec.RatePerS / driven[rec.Client]; d < 0.8 || d > 1.2 {
						t.Errorf("round %d: %s rate %.2f/s, driven at %.0f/s", r.Round, rec.Client, *rec.RatePerS, driven[rec.Client])
					}
				} else {
					t.Logf("round %d: the machine kept only %.1f/s of %s's %.0f/s", r.Round, achieved, rec.Client, driven[rec.Client])
				}
			}
			if truth[fastIP] > 1.2*truth[slowIP] && r.Clients[0].Client != fastIP {
				t.Errorf("round %d ranks %s first: %s", r.Round, r.Clients[0].Client, line)
			}
			t.Logf("round %d: %s %.2f/s, %s %.2f/s over %d ms (scan %d ms)", r.Round, r.Clients[0].Client, *r.Clients[0].RatePerS, r.Clients[1].Client, *r.Clients[1].RatePerS, r.ElapsedMS, r.ScanMS)
		}
		prev = r
	}
	if rated < 3 {
		t.Fatalf("only %d rounds with rates", rated)
	}
}

// TestWatchServerRestart: a restart between rounds gives a gap record, and
// the watch goes on (exit 0 at Ctrl-C).
func TestWatchServerRestart(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	c := newCLI(t, srv.URL, "")
	run := clitest.Start(t, app.Run, c.env, "limits", "list", "--watch", "--interval", "200ms", "-o", "json")
	waitLines := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for len(run.Stdout.Lines()) < n && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLines(2)
	srv.Stop()
	time.Sleep(time.Second)
	srv.Restart(t)
	before := len(run.Stdout.Lines())
	waitLines(before + 3)
	run.Cancel()
	res := run.Wait(t, 30*time.Second)
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var r struct{ Kind string }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if len(kinds) == 0 || kinds[len(kinds)-1] != r.Kind {
			kinds = append(kinds, r.Kind)
		}
	}
	if strings.Join(kinds, ",") != "round,gap,round" {
		t.Errorf("records: %v\n%s", kinds, res.Stdout)
	}
	if !strings.Contains(res.Stderr, "warning: a round failed") || !strings.Contains(res.Stderr, "1 gap(s)") {
		t.Errorf("stderr: %s", res.Stderr)
	}
}

// TestInteropBlockResetExpiryOnChange: what the help says of
// resetExpiryOnChange (rate-limit-redis 4): each request moves the expiry to
// one window, so a longer block shrinks to a window after the client's last
// request, and the client stays blocked while it keeps sending.
func TestInteropBlockResetExpiryOnChange(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	a := nodeapp.StartRateLimit(t, nodeapp.Options{
		Version:  7,
		RedisURL: srv.URL,
		Limiters: []nodeapp.Limiter{{Name: "api", ResetExpiryOnChange: true}},
	})
	c := newCLI(t, srv.URL, "      - name: api\n        prefix: \"rl:\"\n        limit: 150\n        window: 15m\n        express_rate_limit: 7\n")
	c.mustRun(t, "limits", "block", "198.51.100.77", "--for", "2h")
	get := func() ratelimit.Record {
		var g ratelimit.GetResult
		if err := json.Unmarshal(c.mustRun(t, "limits", "get", "198.51.100.77", "-o", "json"), &g); err != nil || len(g.Clients) != 1 {
			t.Fatalf("get: %+v %v", g, err)
		}
		return g.Clients[0]
	}
	if r := get(); r.ResetInMS < 7100000 {
		t.Fatalf("block: reset_in_ms %d, want ~2h", r.ResetInMS)
	}
	if s, _ := a.Hit(t, "/api/ping", "198.51.100.77"); s != 429 {
		t.Fatalf("status %d, want 429", s)
	}
	if r := get(); r.ResetInMS > 900000 || !r.Blocked {
		t.Fatalf("after a request: %+v, want the expiry cut to one window, still blocked", r)
	}
}
