package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/probe"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// The refused-commands fixture: a server that refuses what DigitalOcean's
// managed Valkey refuses (every command of the first two rows of
// reference/managed-valkey.md §1 renamed away, as valkeytest's Refused
// does), with TLS and a password as there. Every Valkey-facing command runs
// against it and must exit as documented, and afterwards the server's own
// counters must show that oxyctl never sent a refused command.
//
// oxyctl reaches the server through valkeytest's Recorder, which records
// every command name sent. Three readings are asserted:
//   - the recorded commands: each is on refusedAllowed, and the refused ones
//     among them are exactly those the checks send on purpose
//     (refusedOnPurpose);
//   - INFO commandstats: every command that ran is on refusedAllowed;
//   - INFO stats/commandstats: the error replies that no known command
//     accounts for (total_error_replies minus every command's failed_calls
//     and rejected_calls) are the "unknown command" replies (a command
//     renamed away leaves no cmdstat_ line), as many as were sent on purpose.

// refusedAllowed are the commands oxyctl may send to a server that refuses
// DigitalOcean's list: what it needs, all outside that list. A container
// command (CLIENT, PUBSUB, ...) is allowed with every subcommand, as the
// third row of §1 says.
var refusedAllowed = map[string]bool{
	"hello": true, "auth": true, "select": true, "ping": true, "info": true, "client": true,
	"scan": true, "type": true, "get": true, "mget": true, "pttl": true, "ttl": true, "dbsize": true, "memory": true,
	"unlink": true, "del": true, "set": true, "incrby": true, "pexpire": true, "watch": true, "unwatch": true, "multi": true, "exec": true, "discard": true,
	"pubsub": true, "subscribe": true, "psubscribe": true, "ssubscribe": true, "unsubscribe": true, "punsubscribe": true, "sunsubscribe": true,
	"slowlog": true, "latency": true, "object": true,
}

// refusedOnPurpose is, per health check, how many refused commands one run
// of it sends knowingly: the ratelimit check asks SCRIPT EXISTS, and a
// refusal is how it learns that scripting is restricted.
var refusedOnPurpose = map[string]int64{"ratelimit": 1}

// refusedCheckCode is the exit code of `health --check <name>` on the
// fixture when it is not 0: ratelimit fails (scripting refused).
var refusedCheckCode = map[string]int{"ratelimit": 1}

type refusedRun struct {
	args    []string
	code    int
	traffic bool // publish broadcasts while it runs
	check   string
	purpose int64 // refused commands it sends on purpose (refusedOnPurpose)
	// readOnly: every command it sends is in handshake or readCommands
	// (it changes nothing on the server).
	readOnly bool
}

// handshake is what a connection sends before oxyctl's own commands, and
// valkey-go's keep-alive.
var handshake = []string{"hello", "auth", "select", "ping", "client|setinfo", "client|setname", "client|no-touch"}

// readCommands are the reads of the commands that only look: none of them
// writes, kills a client or changes a setting.
var readCommands = []string{"info", "client|id", "client|list", "script|exists", "pubsub|channels", "pubsub|numsub", "pubsub|numpat",
	"pubsub|shardchannels", "pubsub|shardnumsub", "scan", "get", "mget", "pttl", "type", "dbsize", "memory|usage"}

// refusedRuns is every Valkey-facing command: adding one is one line.
func refusedRuns() []refusedRun {
	runs := []refusedRun{
		{args: []string{"limits", "list"}, readOnly: true},
		{args: []string{"limits", "list", "--blocked", "--top", "0"}, readOnly: true},
		{args: []string{"limits", "get", "198.51.100.23", "2001:db8::1"}, readOnly: true},
		{args: []string{"limits", "stats"}, readOnly: true},
		{args: []string{"limits", "block", "203.0.113.7", "--for", "1m"}},
		{args: []string{"limits", "reset", "203.0.113.7"}},
		{args: []string{"limits", "reset", "--all", "--yes"}},
		{args: []string{"pubsub", "channels"}, readOnly: true},
		{args: []string{"pubsub", "tail", "--count", "2"}, traffic: true},
		{args: []string{"pubsub", "tail", "--duration", "200ms", "--requests"}},
		{args: []string{"pubsub", "tail", "--sharded-subscribe", "--duration", "200ms"}},
		{args: []string{"clients"}, readOnly: true},
		{args: []string{"clients", "--type", "pubsub", "--group", "name"}, readOnly: true},
	}
	// Every health check that talks to Valkey, one run each (a new check
	// joins by itself; its exit code and refusals go in the maps above).
	all := refusedRun{args: []string{"health"}, readOnly: true} // and all of them at once (api and do are not configured)
	for _, name := range probe.Names {
		if name == probe.NameAPI || name == probe.NameDO {
			continue
		}
		runs = append(runs, refusedRun{args: []string{"health", "--check", name}, code: refusedCheckCode[name], check: name, purpose: refusedOnPurpose[name], readOnly: true})
		all.code = max(all.code, refusedCheckCode[name])
		all.purpose += refusedOnPurpose[name]
	}
	return append(runs, all)
}

func TestRefusedCommands(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Refused: true, TLS: true, Password: password})
	admin := newClient(t, srv)
	ctx := context.Background()
	for i, ip := range []string{"198.51.100.23", "203.0.113.7", "192.0.2.10"} {
		if err := admin.Do(ctx, admin.B().Set().Key("rl:"+ip).Value(fmt.Sprint(50+i*60)).Px(10*time.Minute).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	fakeInstance(t, srv)
	rec := srv.Record(t)
	env := map[string]string{"OXYCTL_REDIS_URL": rec.URL, "OXYCTL_REDIS_CA": srv.CAFile}
	msg := fixture(t, "classic-broadcast-room.bin")

	before := serverCounts(t, admin)
	var onPurpose, published int64
	for _, run := range refusedRuns() {
		for _, format := range []string{"text", "json"} {
			name := strings.Join(run.args, " ") + " -o " + format
			sent := len(rec.Commands())
			var r result
			do := func() { r = oxyctl(t, env, append([]string{"-o", format}, run.args...)...) }
			if run.traffic {
				published += publishDuring(admin, msg, do) // the test's own PUBLISHes, not oxyctl's
			} else {
				do()
			}
			checkError(t, r, run.code, "", format == "json")
			if strings.TrimSpace(r.stdout+r.stderr) == "" { // a tail that saw nothing only sums up on stderr
				t.Fatalf("%s: no output", name)
			}
			if run.check != "" && format == "json" {
				var rep probe.Report
				if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Checks) != 1 || rep.Checks[0].Status == probe.Skip {
					t.Fatalf("%s: %v %s", name, err, r.stdout)
				}
			}
			noSecrets(t, r.stdout, r.stderr)
			if run.readOnly {
				for _, c := range rec.Commands()[sent:] {
					if !slices.Contains(handshake, c) && !slices.Contains(readCommands, c) {
						t.Errorf("%s sent %s: it only reads", name, c)
					}
				}
			}
			onPurpose += run.purpose
		}
	}
	after := serverCounts(t, admin)
	after.cmds["publish"] = subtract(after.cmds["publish"], published)
	checkNothingRefused(t, before, after, onPurpose)
	checkRecorded(t, rec.Commands(), onPurpose)
}

// The sharded tail reads SPUBLISH traffic through MONITOR, which the
// fixture refuses: it ends at once with one runtime error that names the
// refusal, and MONITOR is the only refused command it sent.
func TestRefusedMonitor(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Refused: true, TLS: true, Password: password})
	admin := newClient(t, srv)
	rec := srv.Record(t)
	env := map[string]string{"OXYCTL_REDIS_URL": rec.URL, "OXYCTL_REDIS_CA": srv.CAFile}
	before := serverCounts(t, admin)
	for _, format := range []string{"text", "json"} {
		r := oxyctl(t, env, "-o", format, "pubsub", "tail", "--sharded")
		checkError(t, r, 3, "connect", format == "json")
		if !strings.Contains(r.stderr, "MONITOR refused by "+rec.Addr) || !strings.Contains(r.stderr, "unknown command") {
			t.Fatalf("-o %s: stderr does not say the server refuses MONITOR: %q", format, r.stderr)
		}
		if r.elapsed > 5*time.Second {
			t.Fatalf("-o %s: took %s to give up", format, r.elapsed)
		}
	}
	checkNothingRefused(t, before, serverCounts(t, admin), 2) // one MONITOR per run
	checkRecorded(t, rec.Commands(), 2)                       // MONITOR, once per run
}

// checkRecorded asserts that every command sent is on the allow list but
// the refused ones sent on purpose, and that there are exactly want of those.
func checkRecorded(t *testing.T, cmds []string, want int64) {
	t.Helper()
	var refused int64
	seen := map[string]int{}
	for _, c := range cmds {
		seen[c]++
		if slices.ContainsFunc(valkeytest.RefusedCommands, func(r string) bool { return strings.EqualFold(r, family(c)) }) {
			refused++
			continue
		}
		if !refusedAllowed[family(c)] {
			t.Errorf("oxyctl sent %s, which is not on the allow list", strings.ToUpper(c))
		}
	}
	t.Logf("recorded %d commands: %v", len(cmds), seen)
	if refused != want {
		t.Errorf("oxyctl sent %d refused commands, want %d: %v", refused, want, seen)
	}
}

// publishDuring runs run while admin publishes msg as a broadcast every
// 20ms (tail needs traffic); it returns how many PUBLISHes it sent.
func publishDuring(admin valkey.Client, msg []byte, run func()) int64 {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var n int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			n++
			_ = admin.Do(context.Background(), admin.B().Publish().Channel("socket.io#/#room1#").Message(valkey.BinaryString(msg)).Build()).Error()
		}
	}()
	run()
	close(stop)
	wg.Wait()
	return n
}

// counts are a server's per-command counters and its error total.
type counts struct {
	cmds   map[string][3]int64 // name -> calls, rejected_calls, failed_calls
	errors int64               // total_error_replies
}

func serverCounts(t *testing.T, admin valkey.Client) counts {
	t.Helper()
	s, err := admin.Do(context.Background(), admin.B().Info().Section("commandstats").Section("stats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	c := counts{cmds: map[string][3]int64{}, errors: -1}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "total_error_replies:"); ok {
			c.errors, _ = strconv.ParseInt(v, 10, 64)
		}
		name, fields, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		var v [3]int64
		for _, kv := range strings.Split(fields, ",") {
			k, n, _ := strings.Cut(kv, "=")
			i := slices.Index([]string{"calls", "rejected_calls", "failed_calls"}, k)
			if i >= 0 {
				v[i], _ = strconv.ParseInt(n, 10, 64)
			}
		}
		c.cmds[name] = v
	}
	if c.errors < 0 {
		t.Fatalf("INFO stats has no total_error_replies:\n%s", s)
	}
	return c
}

// checkNothingRefused asserts that between before and after only allowed
// commands ran and that exactly want error replies belong to no known
// command (the refused ones).
func checkNothingRefused(t *testing.T, before, after counts, want int64) {
	t.Helper()
	var attributed int64
	var ran []string
	for name, a := range after.cmds {
		b := before.cmds[name]
		if a == b {
			continue
		}
		ran = append(ran, name)
		if !refusedAllowed[family(name)] {
			t.Errorf("oxyctl sent %s, which is not on the allow list", strings.ToUpper(name))
		}
		for _, c := range valkeytest.RefusedCommands {
			if strings.EqualFold(family(name), c) {
				t.Errorf("the server ran %s, which the fixture should refuse", c)
			}
		}
		attributed += (a[1] - b[1]) + (a[2] - b[2])
	}
	slices.Sort(ran)
	unknown := after.errors - before.errors - attributed
	t.Logf("commands run: %s; error replies %d, of them to unknown (refused) commands %d", strings.Join(ran, " "), after.errors-before.errors, unknown)
	if unknown != want {
		t.Errorf("%d error replies to refused commands, want %d", unknown, want)
	}
}

// subtract takes n calls off a command's counters.
func subtract(c [3]int64, n int64) [3]int64 {
	c[0] -= n
	return c
}

func family(cmd string) string {
	f, _, _ := strings.Cut(cmd, "|")
	return f
}
