package e2e

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/hostile"
)

// valkeyCommands are every oxyctl command that reads from Valkey, with the
// exit code it ends with when Valkey answers badly: 3 (runtime error), or 1
// for health, whose failing check is a finding.
//
// ping says whether oxyctl itself sends PING (the valkey probe, the scan's
// own connection). Otherwise every PING on the wire is valkey-go's: its
// keep-alive on an idle connection, and the one it writes when a client
// closes; their replies reach no command, so they are not targets.
var valkeyCommands = []struct {
	args []string
	code int
	ping bool
}{
	{[]string{"health", "--check", "valkey"}, 1, true},
	{[]string{"health", "--check", "pubsub"}, 1, false},
	{[]string{"health", "--check", "ratelimit"}, 1, false},
	{[]string{"clients"}, 3, false},
	{[]string{"limits", "list"}, 3, true},
	{[]string{"limits", "get", "203.0.113.7"}, 3, false},
	{[]string{"limits", "reset", "203.0.113.7", "--yes"}, 3, false},
	{[]string{"limits", "reset", "--all", "--yes"}, 3, true},
	{[]string{"limits", "stats"}, 3, true},
	{[]string{"limits", "block", "203.0.113.7"}, 3, false},
	{[]string{"limits", "list", "--watch", "--interval", "100ms", "--rounds", "2"}, 3, true},
	{[]string{"pubsub", "channels"}, 3, false},
	{[]string{"pubsub", "tail", "--count", "1", "--duration", "3s"}, 3, false},
}

// hostileCase is one command answered badly: the reply to every occurrence
// of the Valkey command name is replaced.
type hostileCase struct {
	args  []string
	code  int
	name  string // the Valkey command whose replies are bad
	reply string
}

// hostileCases runs each oxyctl command once against a healthy scripted
// server to learn which Valkey commands it sends, and pairs each of them
// with each malformed reply.
func hostileCases(t *testing.T, malformed map[string]string) []hostileCase {
	t.Helper()
	var cases []hostileCase
	for _, vc := range valkeyCommands {
		s := hostile.Start(t, func([]string) string { return "" })
		oxyctl(t, map[string]string{"OXYCTL_REDIS_URL": "redis://" + s.Addr, "OXYCTL_TIMEOUT": "2s"}, vc.args...)
		names := map[string]bool{}
		for _, n := range s.Commands() {
			names[n] = n != "PING" || vc.ping
		}
		if len(names) == 0 {
			t.Fatalf("%v sent no command to the healthy server", vc.args)
		}
		var sorted []string
		for n, target := range names {
			if target {
				sorted = append(sorted, n)
			}
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			for _, reply := range malformed {
				cases = append(cases, hostileCase{args: vc.args, code: vc.code, name: n, reply: reply})
			}
		}
	}
	return cases
}

// Every Valkey-facing command, every command it sends, every malformed
// reply: the documented exit code within --timeout + 1 s, a one-line error
// (or a failing check) that names the problem, no panic, no stack trace.
func TestHostileServerMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the hostile matrix runs hundreds of commands")
	}
	cases := hostileCases(t, hostile.Malformed)
	perClass := map[string]int{}
	failed := map[string]int{}
	for _, hc := range cases {
		label := fmt.Sprintf("%s/%s=%q", strings.Join(hc.args[:min(2, len(hc.args))], " "), hc.name, clipReply(hc.reply))
		s := hostile.Start(t, func(args []string) string {
			if args[0] == hc.name {
				return hc.reply
			}
			return ""
		})
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := oxyctl(t, map[string]string{"OXYCTL_REDIS_URL": "redis://" + s.Addr, "OXYCTL_TIMEOUT": "2s"}, append(hc.args, "-o", "json")...)
		runtime.ReadMemStats(&after)
		class := strings.Join(hc.args[:min(2, len(hc.args))], " ")
		perClass[class]++
		problem := ""
		switch {
		case r.code != hc.code:
			problem = fmt.Sprintf("exit %d, want %d", r.code, hc.code)
		case r.elapsed > 3*time.Second:
			problem = fmt.Sprintf("took %s", r.elapsed)
		case after.TotalAlloc-before.TotalAlloc > 64<<20:
			// Everything the run allocated, not only what it held at once:
			// a bound on its peak memory whatever the reply declares.
			problem = fmt.Sprintf("allocated %d MiB", (after.TotalAlloc-before.TotalAlloc)>>20)
		case strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "internal error"):
			problem = "panic: " + r.stderr
		case hc.code == 3:
			var e struct {
				Error struct{ Kind, Message string }
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &e); err != nil || e.Error.Message == "" {
				problem = "no JSON error: " + r.stderr
			}
		case hc.code == 1:
			if !strings.Contains(r.stdout, `"fail"`) {
				problem = "no failing check: " + r.stdout
			}
		}
		if problem != "" {
			failed[class]++
			t.Errorf("%s: %s\nstdout: %.300s\nstderr: %.300s", label, problem, r.stdout, r.stderr)
		}
	}
	var summary []string
	for c, n := range perClass {
		summary = append(summary, fmt.Sprintf("%s %d/%d", c, n-failed[c], n))
	}
	sort.Strings(summary)
	t.Logf("hostile: %d cases; passed per command: %s", len(cases), strings.Join(summary, ", "))
}

func clipReply(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

// A server that says it is a cluster but lists no node in CLUSTER SLOTS
// serves no key: health fails the valkey check, and limits list fails.
// (Before: health said "cluster ok, 0 nodes".)
func TestHostileClusterWithoutNodes(t *testing.T) {
	s := hostile.Start(t, func(a []string) string {
		switch a[0] {
		case "INFO":
			return hostile.Bulk("# Server\r\nredis_version:7.2.4\r\n# Cluster\r\ncluster_enabled:1\r\n")
		case "CLUSTER":
			if len(a) > 1 && strings.EqualFold(a[1], "SLOTS") {
				return "*0\r\n"
			}
			return hostile.Bulk("cluster_state:ok\r\ncluster_slots_assigned:0\r\ncluster_known_nodes:0\r\n")
		}
		return ""
	})
	env := map[string]string{"OXYCTL_REDIS_URL": "redis://" + s.Addr, "OXYCTL_TIMEOUT": "2s"}
	r := oxyctl(t, env, "health", "--check", "valkey", "-o", "json")
	var rep struct {
		Status string
		Checks []struct{ Name, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 || rep.Status != "fail" || len(rep.Checks) != 1 ||
		!strings.Contains(rep.Checks[0].Detail, "no node") {
		t.Fatalf("health: exit %d, %+v (%v)\n%s", r.code, rep, err, r.stderr)
	}
	checkError(t, oxyctl(t, env, "limits", "list"), 3, "", false)
}

// A server that stops answering a command: the error says so in words
// (kind timeout) within the timeout, never a raw "context deadline
// exceeded". (Before: limits get and reset printed exactly that.)
func TestHostileSilentServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"GET", []string{"limits", "get", "203.0.113.7"}},
		{"TYPE", []string{"limits", "reset", "203.0.113.7", "--yes"}},
		{"SCAN", []string{"limits", "list"}},
		{"PUBSUB", []string{"pubsub", "channels"}},
		{"CLIENT", []string{"clients"}},
	} {
		s := hostile.Start(t, func(a []string) string {
			if a[0] == tc.name {
				return hostile.Hang
			}
			return ""
		})
		r := oxyctl(t, map[string]string{"OXYCTL_REDIS_URL": "redis://" + s.Addr, "OXYCTL_TIMEOUT": "1s"}, append(tc.args, "-o", "json")...)
		checkError(t, r, 3, "timeout", true)
		if strings.Contains(r.stderr, "context deadline exceeded") || r.elapsed > 2500*time.Millisecond {
			t.Errorf("%v: %s (%s)", tc.args, r.stderr, r.elapsed)
		}
	}
	// A health check whose reads hang is a failing check (exit 1) that says
	// it timed out, within the timeout.
	infoSection := func(a []string) bool { return a[0] == "INFO" && len(a) > 1 && a[1] != "cluster" } // not the connect step's
	for _, tc := range []struct {
		name  string
		hang  func(a []string) bool
		check string
	}{
		{"SCRIPT", func(a []string) bool { return a[0] == "SCRIPT" }, "ratelimit"},
		{"INFO memory", infoSection, "ratelimit"},
		{"CLIENT", func(a []string) bool { return a[0] == "CLIENT" && len(a) > 1 && strings.EqualFold(a[1], "LIST") }, "pubsub"},
	} {
		s := hostile.Start(t, func(a []string) string {
			if tc.hang(a) {
				return hostile.Hang
			}
			return ""
		})
		r := oxyctl(t, map[string]string{"OXYCTL_REDIS_URL": "redis://" + s.Addr, "OXYCTL_TIMEOUT": "1s"}, "health", "--check", tc.check, "-o", "json")
		var rep struct {
			Checks []struct{ Status, Detail string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 || len(rep.Checks) != 1 || rep.Checks[0].Status != "fail" ||
			!strings.Contains(rep.Checks[0].Detail, "timed out") || strings.Contains(r.stdout+r.stderr, "context deadline exceeded") || r.elapsed > 2500*time.Millisecond {
			t.Errorf("%s hangs, health --check %s: exit %d in %s: %s %s", tc.name, tc.check, r.code, r.elapsed, r.stdout, r.stderr)
		}
	}
}

// An error reply of half a megabyte becomes one short line, not half a
// megabyte of stderr. (Before: the whole reply was the error line.)
func TestHostileHugeErrorReply(t *testing.T) {
	s := hostile.Start(t, func(a []string) string {
		if a[0] == "GET" || a[0] == "PTTL" {
			return "-ERR " + strings.Repeat("x", 500<<10) + "\r\n"
		}
		return ""
	})
	for _, format := range []string{"text", "json"} {
		r := oxyctl(t, map[string]string{"OXYCTL_REDIS_URL": "redis://" + s.Addr}, "limits", "get", "203.0.113.7", "-o", format)
		checkError(t, r, 3, "", format == "json")
		if len(r.stderr) > 1500 {
			t.Errorf("%s: stderr is %d bytes", format, len(r.stderr))
		}
	}
}
