package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/standin/healthstub"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// leakRuns is how many times each command runs between the two counts: a
// command that leaves even one goroutine or connection behind per run ends
// above the slack.
const (
	leakRuns       = 3
	goroutineSlack = 2
)

// TestLeaks runs every command in-process several times and checks that
// afterwards the goroutines are back to their count before (within a small
// constant slack) and the server has exactly the connections it had: every
// Valkey connection a command opens is closed when it returns, on success
// and on failure.
func TestLeaks(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: password})
	do := dostub.Start(t, dostub.Options{Token: token})
	health := healthstub.Start(t, healthstub.Healthy())
	admin := newClient(t, srv)
	ctx := context.Background()
	seed := func() {
		for i, ip := range []string{"198.51.100.23", "203.0.113.7", "192.0.2.10"} {
			if err := admin.Do(ctx, admin.B().Set().Key("rl:"+ip).Value(fmt.Sprint(50+i*60)).Px(10*time.Minute).Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	seed()
	fakeInstance(t, srv)
	policy := writeFile(t, "policy.yaml", goodPolicy)
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL, "OXYCTL_REDIS_CA": srv.CAFile, "OXY_API_URL": health.URL,
		"DIGITALOCEAN_ACCESS_TOKEN": token, "DIGITALOCEAN_API_URL": do.URL}
	hole := blackhole(t)
	msg := fixture(t, "classic-broadcast-room.bin")

	// tail needs traffic: publish until the run ends.
	withTraffic := func(run func()) { publishDuring(admin, msg, run) }

	cases := []struct {
		name string
		args []string
		env  map[string]string
		code int
		pre  func()
		wrap func(func())
	}{
		{name: "limits list", args: []string{"limits", "list"}},
		{name: "limits list --pace", args: []string{"limits", "list", "--pace", "1000", "--top", "0"}},
		{name: "limits get", args: []string{"limits", "get", "198.51.100.23", "2001:db8::1"}},
		{name: "limits reset", args: []string{"limits", "reset", "203.0.113.7"}, pre: seed},
		{name: "limits reset --all", args: []string{"limits", "reset", "--all", "--yes"}, pre: seed},
		{name: "limits stats", args: []string{"limits", "stats"}},
		{name: "limits block", args: []string{"limits", "block", "203.0.113.7", "--for", "1m"}},
		{name: "limits list --watch", args: []string{"limits", "list", "--watch", "--interval", "50ms", "--rounds", "3"}},
		{name: "pubsub channels", args: []string{"pubsub", "channels"}},
		{name: "pubsub tail --count", args: []string{"pubsub", "tail", "--count", "2"}, wrap: withTraffic},
		{name: "pubsub tail --duration", args: []string{"pubsub", "tail", "--duration", "100ms"}},
		{name: "health", args: []string{"health"}},
		{name: "health --check valkey,pubsub", args: []string{"health", "--check", "valkey,pubsub"}},
		{name: "health --check ratelimit", args: []string{"health", "--check", "ratelimit"}},
		{name: "clients", args: []string{"clients"}},
		{name: "firewall list", args: []string{"firewall", "list"}},
		{name: "firewall audit", args: []string{"firewall", "audit", "--policy", policy}},
		// failures leave nothing behind either
		{name: "limits list, wrong password", args: []string{"limits", "list"}, code: 3,
			env: map[string]string{"OXYCTL_REDIS_URL": strings.Replace(srv.URL, password, "wrong", 1)}},
		{name: "limits stats, black-holed", args: []string{"--timeout", "300ms", "limits", "stats"}, code: 3,
			env: map[string]string{"OXYCTL_REDIS_URL": "redis://default:" + password + "@" + hole, "OXYCTL_REDIS_CA": ""}},
		{name: "pubsub tail, black-holed", args: []string{"--timeout", "300ms", "pubsub", "tail", "--count", "1"}, code: 3,
			env: map[string]string{"OXYCTL_REDIS_URL": "redis://default:" + password + "@" + hole, "OXYCTL_REDIS_CA": ""}},
		{name: "firewall audit, API failing", args: []string{"--timeout", "1s", "firewall", "audit", "--policy", policy}, code: 3,
			pre: func() { do.ClearFaults(); do.Inject(dostub.Fault{Op: "droplets_list", Status: 503}) }},
	}

	idle := func() {
		// Keep-alive connections in net/http's shared pool belong to the
		// process, not to a command (the next run reuses them).
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	}
	n := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := env
			if tc.env != nil {
				e = map[string]string{}
				for k, v := range env {
					e[k] = v
				}
				for k, v := range tc.env {
					e[k] = v
				}
			}
			runOnce := func() {
				if tc.pre != nil {
					tc.pre()
				}
				var r result
				run := func() { r = oxyctl(t, e, append([]string{"-o", "json"}, tc.args...)...) }
				if tc.wrap != nil {
					tc.wrap(run)
				} else {
					run()
				}
				if r.code != tc.code {
					t.Fatalf("exit %d, want %d\nstderr: %s", r.code, tc.code, r.stderr)
				}
			}
			defer do.ClearFaults()
			runOnce() // first use: lazy package state (sync.Once, pools) is not a leak
			idle()
			base := baseGoroutines()
			clients := clientList(t, admin)
			for i := 0; i < leakRuns; i++ {
				n++
				runOnce()
			}
			noGoroutineLeak(t, base)
			var now []string
			// A loaded machine (a cold CI run compiles beside the tests) may
			// take a few seconds to see a closed connection go.
			deadline := time.Now().Add(10 * time.Second)
			for {
				now = clientList(t, admin)
				if len(now) <= len(clients) || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if len(now) > len(clients) {
				t.Errorf("%d server connections after %d runs, %d before:\n%s", len(now), leakRuns, len(clients), strings.Join(now, "\n"))
			}
		})
	}
	do.TakeViolations()
	if t.Failed() {
		return
	}
	fmt.Fprintf(os.Stdout, "leaks: %d runs of %d commands, goroutines and connections back to their baseline\n", n, len(cases))
}

// fakeInstance subscribes like one classic redis-adapter instance (uid
// e2e001) on a raw connection that stays open until the test ends, so that
// pubsub channels and the pubsub check find an instance.
func fakeInstance(t *testing.T, s *valkeytest.Server) {
	t.Helper()
	c, err := tls.Dial("tcp", s.Addr, s.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cmd := func(args ...string) string {
		b := fmt.Sprintf("*%d\r\n", len(args))
		for _, a := range args {
			b += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
		}
		return b
	}
	req := cmd("AUTH", s.Password) + cmd("CLIENT", "SETNAME", "fake-adapter") +
		cmd("SUBSCRIBE", "socket.io-request#/#", "socket.io-response#/#", "socket.io-response#/#e2e001#") +
		cmd("PSUBSCRIBE", "socket.io#/#*")
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var got strings.Builder
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !strings.Contains(got.String(), "psubscribe") {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("fake adapter instance: %v (read %q)", err, got.String())
		}
		got.Write(buf[:n])
	}
	_ = c.SetReadDeadline(time.Time{})
}
