package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// TestFaults kills servers and breaks the DigitalOcean stand-in while
// commands run through the real entry point, and checks that each run ends
// in a documented state: a clear one-line error (exit 3), or a recovery
// with a complete result; never a partial result shown as complete, never a
// key deleted that was not targeted, never an empty firewall.
func TestFaults(t *testing.T) {
	n := 0
	run := func(name string, f func(t *testing.T)) {
		n++
		t.Run(name, f)
	}

	run("limits list: server killed and restarted mid-scan", faultListRestart)
	run("limits list: server restarted between two SCANs", faultListRestartBetweenScans)
	run("limits reset --all: server killed during the scan", faultResetDuringScan)
	run("limits reset --all: server killed during the deletes", faultResetDuringDeletes)
	run("pubsub tail: server killed and restarted", faultTailRestart)
	run("health --watch: server killed and restarted", faultHealthWatch)
	run("limits list: cluster node stopped", faultClusterNode)
	for _, c := range doFaultCases() {
		for _, format := range []string{"json", "text"} {
			run("firewall: "+c.name+"/"+format, func(t *testing.T) { c.run(t, format) })
		}
	}
	fmt.Fprintf(os.Stdout, "faults: %d cases\n", n)
}

// ---- limits ----

const listSeed = 100_000

// listDoc is the part of `limits list -o json` the fault tests look at.
type listDoc struct {
	ScannedKeys    int64 `json:"scanned_keys"`
	MatchedClients int64 `json:"matched_clients"`
	Clients        []struct {
		Key  string `json:"key"`
		Hits int64  `json:"hits"`
	} `json:"clients"`
}

// checkListOutcome accepts exit 3 with a one-line JSON error, or exit 0
// with every one of the want counters scanned and matched exactly once.
func checkListOutcome(t *testing.T, r result, want int64) string {
	t.Helper()
	noSecrets(t, r.stdout, r.stderr)
	switch r.code {
	case 3:
		checkError(t, r, 3, "", true)
		_, msg := jsonError(r)
		return "error: " + msg
	case 0:
		var doc listDoc
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("exit 0 but stdout is not the list document: %v\n%s", err, r.stdout)
		}
		if doc.ScannedKeys != want || doc.MatchedClients != want {
			t.Fatalf("exit 0 with a partial result: scanned_keys %d, matched_clients %d, want %d of each",
				doc.ScannedKeys, doc.MatchedClients, want)
		}
		return "complete"
	}
	t.Fatalf("exit %d, want 0 or 3\nstdout: %.500s\nstderr: %s", r.code, r.stdout, r.stderr)
	return ""
}

// waitScanning waits until the server has a client named oxyctl, then
// lets the command run a little longer.
func waitScanning(t *testing.T, c valkey.Client, r *running, settle time.Duration) {
	t.Helper()
	clitest.WaitFor(t, 10*time.Second, "oxyctl to connect", func() bool {
		return r.finished() || strings.Contains(strings.Join(clientList(t, c), "\n"), "name=oxyctl")
	})
	time.Sleep(settle)
	if r.finished() {
		t.Fatalf("the command ended before the fault: %+v", r.wait(t, 0))
	}
}

// faultListRestart: the server dies in the middle of a paced scan of
// 100,000 counters and comes back with its data.
func faultListRestart(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Password: password, Args: persistent})
	c := newClient(t, srv)
	seedCounters(t, c, "rl:", listSeed)
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL}

	base := baseGoroutines()
	r := startOxyctl(t, env, "-o", "json", "--timeout", "5s", "limits", "list", "--pace", "30000", "--top", "5")
	waitScanning(t, c, r, 400*time.Millisecond)
	stopped := time.Now()
	srv.Stop()
	time.Sleep(200 * time.Millisecond)
	srv.Restart(t)
	res := r.wait(t, 30*time.Second)
	outcome := checkListOutcome(t, res, listSeed)
	if res.code == 3 && time.Since(stopped) > 8*time.Second {
		t.Errorf("the error came %s after the stop (timeout 5s)", time.Since(stopped))
	}
	t.Logf("%s (%s)", outcome, res.elapsed.Round(time.Millisecond))
	noGoroutineLeak(t, base)

	// After the outage the same command gives the whole result.
	again := oxyctl(t, env, "-o", "json", "limits", "list", "--top", "5")
	if checkListOutcome(t, again, listSeed) != "complete" {
		t.Fatalf("after the restart: %s", again.stderr)
	}
}

// faultListRestartBetweenScans: a slow --pace leaves the connection idle
// between SCANs; the server restarts in such a pause. A client that quietly
// reconnected would continue the old cursor on the new process and miss
// keys or count them twice, so the scan must fail rather than finish.
func faultListRestartBetweenScans(t *testing.T) {
	// 40 keys at --pace 5 scan for 8 s: long enough for the restart to come
	// first on a loaded machine (12 keys, 2.4 s, sometimes ended before it).
	const keys = 40
	srv := valkeytest.Start(t, valkeytest.Options{Args: persistent})
	c := newClient(t, srv)
	seedCounters(t, c, "rl:", keys)
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL}
	for _, format := range []string{"json", "text"} {
		r := startOxyctl(t, env, "-o", format, "limits", "list", "--pace", "5", "--top", "0")
		waitScanning(t, c, r, 600*time.Millisecond)
		srv.Restart(t)
		res := r.wait(t, 30*time.Second)
		if format == "text" {
			checkError(t, res, 3, "", false)
			noSecrets(t, res.stdout, res.stderr)
			continue
		}
		outcome := checkListOutcome(t, res, keys)
		if res.code == 0 {
			t.Fatalf("a scan that spanned a restart ended as complete")
		}
		t.Logf("%s", outcome)
	}
}

// resetKeys are the keys a bulk reset must never touch: other prefixes,
// other types under the prefix, and anomalies (counters it cannot trust).
var resetKeys = []struct{ key, kind string }{
	{"rl-auth:203.0.113.7", "string"}, {"other:198.51.100.1", "string"}, {"rlx:10.0.0.1", "string"},
	{"RL:10.0.0.2", "string"}, {"rl:hash", "hash"}, {"rl:set", "set"}, {"rl:list", "list"},
	{"rl:zset", "zset"}, {"rl:stream", "stream"}, {"rl:no-expiry", "string"},
	{"rl:not-a-number", "string"}, {"rl:expiry-too-long", "string"},
}

func seedNonTargets(t *testing.T, c valkey.Client) {
	t.Helper()
	ctx := context.Background()
	b := c.B()
	cmds := valkey.Commands{
		b.Set().Key("rl-auth:203.0.113.7").Value("9").Px(10 * time.Minute).Build(),
		b.Set().Key("other:198.51.100.1").Value("9").Px(10 * time.Minute).Build(),
		b.Set().Key("rlx:10.0.0.1").Value("9").Px(10 * time.Minute).Build(),
		b.Set().Key("RL:10.0.0.2").Value("9").Px(10 * time.Minute).Build(),
		b.Hset().Key("rl:hash").FieldValue().FieldValue("hits", "9").Build(),
		b.Sadd().Key("rl:set").Member("a").Build(),
		b.Rpush().Key("rl:list").Element("a").Build(),
		b.Zadd().Key("rl:zset").ScoreMember().ScoreMember(1, "a").Build(),
		b.Xadd().Key("rl:stream").Id("*").FieldValue().FieldValue("f", "v").Build(),
		b.Set().Key("rl:no-expiry").Value("7").Build(),
		b.Set().Key("rl:not-a-number").Value("abc").Px(10 * time.Minute).Build(),
		b.Set().Key("rl:expiry-too-long").Value("5").Px(2 * time.Hour).Build(),
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			t.Fatalf("seeding: %v", err)
		}
	}
}

func checkNonTargets(t *testing.T, c valkey.Client) {
	t.Helper()
	ctx := context.Background()
	for _, k := range resetKeys {
		typ, err := c.Do(ctx, c.B().Type().Key(k.key).Build()).ToString()
		if err != nil {
			t.Fatalf("TYPE %s: %v", k.key, err)
		}
		if typ != k.kind {
			t.Errorf("%s is %q after the reset, want %q: a key that was not targeted was touched", k.key, typ, k.kind)
		}
	}
}

// counterKeys are the keys seedCounters made.
func counterKeys(prefix string, n int) []string {
	out := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s10.%d.%d.%d", prefix, i/65536, (i/256)%256, i%256))
	}
	return out
}

var stoppedAfter = regexp.MustCompile(`stopped after deleting (\d+) counters?(?:; (\d+) more)?`)

// checkResetOutcome compares what the run reported with what is gone.
func checkResetOutcome(t *testing.T, c valkey.Client, r result, targets []string) string {
	t.Helper()
	noSecrets(t, r.stdout, r.stderr)
	checkNonTargets(t, c)
	ex := existing(t, c, targets)
	var gone []string
	for _, k := range targets {
		if !ex[k] {
			gone = append(gone, k)
		}
	}
	switch r.code {
	case 0:
		var doc struct {
			DryRun   bool     `json:"dry_run"`
			Deleted  []string `json:"deleted"`
			NotFound []string `json:"not_found"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("exit 0 but stdout is not the reset document: %v\n%.300s", err, r.stdout)
		}
		sort.Strings(doc.Deleted)
		sort.Strings(gone)
		if !reflect.DeepEqual(doc.Deleted, gone) || len(gone) != len(targets) {
			t.Fatalf("exit 0: deleted lists %d keys, %d of %d targets are gone", len(doc.Deleted), len(gone), len(targets))
		}
		return fmt.Sprintf("complete: %d deleted", len(gone))
	case 3:
		checkError(t, r, 3, "", true)
		reported, unknown := 0, 0
		if m := stoppedAfter.FindStringSubmatch(r.stderr); m != nil {
			reported, _ = strconv.Atoi(m[1])
			unknown, _ = strconv.Atoi(m[2])
		}
		// Acknowledged deletions are all gone; a delete whose answer the
		// outage swallowed may be gone too, and the report must say how
		// many such outcomes are unknown.
		if len(gone) < reported || len(gone) > reported+unknown {
			t.Fatalf("the report says %d deleted (%d unknown) but %d targets are gone\nstderr: %s", reported, unknown, len(gone), r.stderr)
		}
		// The JSON error carries the same counts. (Before: only the text
		// warning had them.)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		var e struct {
			Error struct{ Deleted, Unknown *int }
		}
		_ = json.Unmarshal([]byte(lines[len(lines)-1]), &e)
		if reported+unknown > 0 && (e.Error.Deleted == nil || e.Error.Unknown == nil || *e.Error.Deleted != reported || *e.Error.Unknown != unknown) {
			t.Fatalf("the JSON error lacks deleted=%d unknown=%d: %s", reported, unknown, lines[len(lines)-1])
		}
		_, msg := jsonError(r)
		return fmt.Sprintf("error after %d of %d deletions (%d reported, %d unknown): %s", len(gone), len(targets), reported, unknown, msg)
	}
	t.Fatalf("exit %d, want 0 or 3\nstdout: %.300s\nstderr: %s", r.code, r.stdout, r.stderr)
	return ""
}

// faultResetDuringScan: the server dies while a bulk reset is still
// scanning (--pace). With --yes a bulk reset unlinks each batch as soon as
// the scan finds it, so some counters may be gone: the run must fail (exit
// 3), its report must match exactly what is gone, every non-target must
// survive (checkResetOutcome), and the counters the scan had not reached
// must still be there.
func faultResetDuringScan(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Password: password, Args: persistent})
	c := newClient(t, srv)
	const n = 20_000
	seedCounters(t, c, "rl:", n)
	seedNonTargets(t, c)
	targets := counterKeys("rl:", n)
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL}
	r := startOxyctl(t, env, "-o", "json", "limits", "reset", "--all", "--yes", "--pace", "10000")
	waitScanning(t, c, r, 300*time.Millisecond)
	srv.Stop()
	time.Sleep(100 * time.Millisecond)
	srv.Restart(t)
	res := r.wait(t, 30*time.Second)
	if res.code != 3 {
		t.Fatalf("exit %d, want 3 (the scan was interrupted)\nstderr: %s", res.code, res.stderr)
	}
	t.Log(checkResetOutcome(t, c, res, targets))
	if left := countKeys(t, c, "rl:10.*"); left == 0 || left > n {
		t.Fatalf("%d of %d counters left after a reset that failed while scanning", left, n)
	}
}

// faultResetDuringDeletes: the server dies while the UNLINKs are on the
// wire. Keys that were not targets survive; the report matches what is gone.
func faultResetDuringDeletes(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Password: password, Args: persistent})
	c := newClient(t, srv)
	seedCounters(t, c, "rl:", listSeed)
	seedNonTargets(t, c)
	targets := counterKeys("rl:", listSeed)
	total := int64(listSeed + len(resetKeys))
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL}
	base := baseGoroutines()
	r := startOxyctl(t, env, "-o", "json", "limits", "reset", "--all", "--yes")
	ctx := context.Background()
	clitest.WaitFor(t, 30*time.Second, "the deletes to start", func() bool {
		if r.finished() {
			return true
		}
		size, err := c.Do(ctx, c.B().Dbsize().Build()).AsInt64()
		return err == nil && size < total-2000
	})
	srv.Stop()
	srv.Restart(t)
	res := r.wait(t, 30*time.Second)
	t.Log(checkResetOutcome(t, c, res, targets))
	noGoroutineLeak(t, base)
}

// ---- pubsub tail ----

func faultTailRestart(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Password: password})
	c := newClient(t, srv)
	msg := fixture(t, "classic-broadcast-room.bin")
	const channel = "socket.io#/#room1#"
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL}
	ctx := context.Background()
	subscribed := func() bool {
		n, err := c.Do(ctx, c.B().PubsubNumpat().Build()).AsInt64()
		return err == nil && n > 0
	}
	publish := func() {
		if err := c.Do(ctx, c.B().Publish().Channel(channel).Message(valkey.BinaryString(msg)).Build()).Error(); err != nil {
			t.Fatalf("PUBLISH: %v", err)
		}
	}
	base := baseGoroutines()
	r := startOxyctl(t, env, "-o", "json", "pubsub", "tail", "--count", "2")
	clitest.WaitFor(t, 10*time.Second, "tail to subscribe", subscribed)
	publish()
	clitest.WaitFor(t, 10*time.Second, "the first message", func() bool { return len(r.out.Lines()) >= 1 })
	srv.Stop()
	clitest.WaitFor(t, 10*time.Second, "the lost-connection notice", func() bool {
		return strings.Contains(r.errOut.String(), "lost the connection")
	})
	srv.Restart(t)
	clitest.WaitFor(t, 15*time.Second, "tail to subscribe again", func() bool { return r.finished() || subscribed() })
	publish()
	res := r.wait(t, 15*time.Second)
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", res.code, res.stderr)
	}
	noSecrets(t, res.stdout, res.stderr)
	var kinds []string
	for i, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %q", i, line)
		}
		kind, _ := rec["kind"].(string)
		kinds = append(kinds, kind)
		switch kind {
		case "broadcast":
			if rec["event"] != "roomEvent" || rec["channel"] != channel || rec["namespace"] != "/" {
				t.Errorf("record %d is not the decoded broadcast: %v", i, rec)
			}
		case "gap":
			if rec["from"] == nil || rec["to"] == nil {
				t.Errorf("gap record without from/to: %v", rec)
			}
		}
	}
	if strings.Join(kinds, ",") != "broadcast,gap,broadcast" {
		t.Fatalf("records %v, want broadcast, gap, broadcast\n%s", kinds, res.stdout)
	}
	noGoroutineLeak(t, base)
}

// ---- health --watch ----

func faultHealthWatch(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: password})
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL, "OXYCTL_REDIS_CA": srv.CAFile}
	base := baseGoroutines()
	r := startOxyctl(t, env, "-o", "json", "--timeout", "2s", "health", "--check", "valkey", "--watch", "--interval", "1s")

	type round struct {
		Kind   string `json:"kind"`
		Round  int    `json:"round"`
		Status string `json:"status"`
		Checks []struct {
			Name, Status, Detail string
		} `json:"checks"`
	}
	rounds := func() []round {
		var out []round
		for _, l := range r.out.Lines() {
			var rd round
			if err := json.Unmarshal([]byte(l), &rd); err != nil {
				t.Fatalf("not a JSON line: %q", l)
			}
			out = append(out, rd)
		}
		return out
	}
	valkeyStatus := func(rd round) string {
		for _, c := range rd.Checks {
			if c.Name == "valkey" {
				return c.Status
			}
		}
		return ""
	}
	// waitRound waits for a round at index after or later whose valkey check is want.
	waitRound := func(after int, want string) int {
		var at int
		clitest.WaitFor(t, 15*time.Second, "a round with valkey "+want, func() bool {
			for i, rd := range rounds() {
				if i >= after && valkeyStatus(rd) == want {
					at = i
					return true
				}
			}
			return false
		})
		return at
	}
	first := waitRound(0, "ok")
	srv.Stop()
	down := waitRound(first+1, "fail")
	srv.Restart(t)
	up := waitRound(down+1, "ok")
	r.cancel()
	res := r.wait(t, 10*time.Second)
	if res.code != 0 {
		t.Fatalf("exit %d after Ctrl-C, want 0\nstderr: %s", res.code, res.stderr)
	}
	noSecrets(t, res.stdout, res.stderr)
	all := rounds()
	for i, rd := range all {
		if rd.Kind != "round" || rd.Round != i+1 {
			t.Errorf("line %d: kind %q round %d", i, rd.Kind, rd.Round)
		}
	}
	if !strings.Contains(res.stderr, fmt.Sprintf("health: %d rounds", len(all))) {
		t.Errorf("no summary of %d rounds on stderr: %q", len(all), res.stderr)
	}
	noGoroutineLeak(t, base)
	t.Logf("%d rounds: ok at %d, fail at %d, ok again at %d", len(all), first+1, down+1, up+1)
}

// ---- cluster ----

func faultClusterNode(t *testing.T) {
	cl := valkeytest.StartCluster(t, valkeytest.Options{Password: password})
	c := cl.Client(t)
	const n = 30_000
	seedCluster(t, c, n)
	env := map[string]string{"OXYCTL_REDIS_URL": cl.URL}
	victim := cl.Nodes[1]
	vc := newClient(t, victim)
	base := baseGoroutines()
	r := startOxyctl(t, env, "-o", "json", "--timeout", "5s", "limits", "list", "--pace", "4000")
	waitScanning(t, vc, r, 500*time.Millisecond)
	stopped := time.Now()
	victim.Stop()
	res := r.wait(t, 30*time.Second)
	took := time.Since(stopped)
	if res.code != 3 {
		t.Fatalf("exit %d, want 3 after a node stopped\nstdout: %.300s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	checkError(t, res, 3, "", true)
	noSecrets(t, res.stdout, res.stderr)
	_, msg := jsonError(res)
	if !strings.Contains(msg, victim.Addr) {
		t.Errorf("the error does not name the stopped node %s: %s", victim.Addr, msg)
	}
	if took > 7*time.Second {
		t.Errorf("the error came %s after the node stopped (timeout 5s)", took)
	}
	noGoroutineLeak(t, base)
	t.Logf("%s after %s", msg, took.Round(time.Millisecond))
}

// ---- DigitalOcean ----

type doCase struct {
	name string
	run  func(t *testing.T, format string)
}

// pageTrap arms a fault on an operation once its first page was served.
type pageTrap struct {
	mu    sync.Mutex
	stub  *dostub.Server
	after string // a request line prefix, e.g. "GET /v2/droplets?"
	fault dostub.Fault
	armed bool
}

func (p *pageTrap) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.after != "" && !p.armed && strings.Contains(line, p.after) {
		p.armed = true
		p.stub.Inject(p.fault)
	}
}

func (p *pageTrap) set(after string, f dostub.Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stub.ClearFaults()
	p.after, p.fault, p.armed = after, f, false
}

func (p *pageTrap) fired() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.armed
}

// newDO starts a stand-in with 10 items a page (the account's Droplets and
// apps span three pages) and a trap for faults in the middle of a listing.
func newDO(t *testing.T) (*dostub.Server, *pageTrap, map[string]string, string) {
	trap := &pageTrap{}
	stub := dostub.Start(t, dostub.Options{Token: token, MaxPerPage: 10, Logf: trap.logf})
	trap.stub = stub
	env := map[string]string{"DIGITALOCEAN_ACCESS_TOKEN": token, "DIGITALOCEAN_API_URL": stub.URL}
	return stub, trap, env, writeFile(t, "policy.yaml", goodPolicy)
}

func notEmpty(t *testing.T, stub *dostub.Server) {
	t.Helper()
	if len(stub.Rules(dostub.OxyClusterID)) == 0 {
		t.Fatal("the firewall was left empty")
	}
}

func doFaultCases() []doCase {
	// drift is the live firewall the apply cases start from: one app rule
	// missing and a public rule added, so the plan has one + and one −.
	drift := func() []dostub.Rule {
		return append(dostub.DesiredRules()[:5], dostub.Rule{Type: "ip_addr", Value: "0.0.0.0/0", Description: "debugging"})
	}
	return []doCase{
		{"audit: 500 on page 2 of the Droplets, persisting", func(t *testing.T, format string) {
			stub, trap, env, policy := newDO(t)
			trap.set("GET /v2/droplets?", dostub.Fault{Op: "droplets_list", Status: 500})
			r := oxyctl(t, env, "-o", format, "--timeout", "3s", "firewall", "audit", "--policy", policy)
			if !trap.fired() {
				t.Fatal("the fault was never armed: the Droplets list was not paged")
			}
			checkError(t, r, 3, "api", format == "json")
			if r.elapsed > 5*time.Second {
				t.Errorf("took %s with --timeout 3s", r.elapsed)
			}
			noSecrets(t, r.stdout, r.stderr)
			if len(stub.RequestsFor("GET", "droplets_list")) < 3 {
				t.Errorf("page 2 was not retried: %d Droplet list requests", len(stub.RequestsFor("GET", "droplets_list")))
			}
			notEmpty(t, stub)
		}},
		{"audit: 500 on page 2 of the apps, persisting", func(t *testing.T, format string) {
			stub, trap, env, policy := newDO(t)
			trap.set("GET /v2/apps?", dostub.Fault{Op: "apps_list", Status: 500})
			r := oxyctl(t, env, "-o", format, "--timeout", "3s", "firewall", "audit", "--policy", policy)
			if !trap.fired() {
				t.Fatal("the fault was never armed: the apps list was not paged")
			}
			checkError(t, r, 3, "api", format == "json")
			noSecrets(t, r.stdout, r.stderr)
			notEmpty(t, stub)
		}},
		{"audit: 429 once on page 2 of the apps, recovered", func(t *testing.T, format string) {
			stub, trap, env, policy := newDO(t)
			trap.set("GET /v2/apps?", dostub.Fault{Op: "apps_list", Status: 429, Times: 1, Headers: map[string]string{"retry-after": "0"}})
			r := oxyctl(t, env, "-o", format, "firewall", "audit", "--policy", policy)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0 after one 429\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			if !trap.fired() {
				t.Fatal("the fault was never armed")
			}
			var got int
			for _, req := range stub.RequestsFor("GET", "apps_list") {
				if req.Fault != "" {
					got++
				}
			}
			if got != 1 {
				t.Errorf("%d faulted apps requests, want 1", got)
			}
			if format == "json" {
				var doc struct {
					OK       bool  `json:"ok"`
					Findings []any `json:"findings"`
				}
				if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || !doc.OK || len(doc.Findings) != 0 {
					t.Fatalf("audit after a retried page: ok=%v findings=%v (%v)\n%s", doc.OK, doc.Findings, err, r.stdout)
				}
			}
		}},
		{"apply: 500 on the PUT, persisting", func(t *testing.T, format string) {
			stub, _, env, policy := newDO(t)
			stub.SetRules(dostub.OxyClusterID, drift())
			before := stub.Rules(dostub.OxyClusterID)
			stub.Inject(dostub.Fault{Op: "databases_update_firewall_rules", Status: 500})
			r := oxyctl(t, env, "-o", format, "--timeout", "3s", "firewall", "apply", "--policy", policy, "--yes")
			checkFailed(t, r, 3, "api", format == "json")
			noSecrets(t, r.stdout, r.stderr)
			if after := stub.Rules(dostub.OxyClusterID); !reflect.DeepEqual(before, after) {
				t.Fatalf("the rules changed although every PUT failed:\nbefore %v\nafter  %v", before, after)
			}
			if len(stub.Puts()) < 2 {
				t.Errorf("%d PUTs: a 500 should be retried", len(stub.Puts()))
			}
			notEmpty(t, stub)
		}},
		{"apply: 429 once on the PUT, retried", func(t *testing.T, format string) {
			stub, _, env, policy := newDO(t)
			stub.SetRules(dostub.OxyClusterID, drift())
			stub.Inject(dostub.Fault{Op: "databases_update_firewall_rules", Status: 429, Times: 1, Headers: map[string]string{"retry-after": "0"}})
			r := oxyctl(t, env, "-o", format, "firewall", "apply", "--policy", policy, "--yes")
			if r.code != 0 {
				t.Fatalf("exit %d, want 0 after one 429\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			noSecrets(t, r.stdout, r.stderr)
			puts := stub.Puts()
			if len(puts) != 2 || puts[0].Status != 429 || puts[1].Status >= 300 {
				t.Fatalf("PUTs %d, want a 429 and then a success", len(puts))
			}
			if !reflect.DeepEqual(puts[0].Body, puts[1].Body) {
				t.Errorf("the retried PUT sent another body:\n%s\n%s", puts[0].Body, puts[1].Body)
			}
			checkConverged(t, stub)
			if format == "json" {
				var doc struct {
					Changed bool  `json:"changed"`
					Add     []any `json:"add"`
					Remove  []any `json:"remove"`
				}
				if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || !doc.Changed || len(doc.Add) != 1 || len(doc.Remove) != 1 {
					t.Fatalf("apply document: %+v (%v)\n%s", doc, err, r.stdout)
				}
			}
		}},
		{"apply: read-back fails after the PUT", func(t *testing.T, format string) {
			stub, trap, env, policy := newDO(t)
			stub.SetRules(dostub.OxyClusterID, drift())
			trap.set("PUT /v2/databases/", dostub.Fault{Op: "databases_list_firewall_rules", Status: 500})
			r := oxyctl(t, env, "-o", format, "--timeout", "3s", "firewall", "apply", "--policy", policy, "--yes")
			checkFailed(t, r, 3, "api", format == "json")
			noSecrets(t, r.stdout, r.stderr)
			if !strings.Contains(r.stderr, "written but could not be read back") {
				t.Errorf("the error does not say the rules were written: %s", r.stderr)
			}
			checkConverged(t, stub)
		}},
		{"list: 500 on page 2 of the Droplets, persisting", func(t *testing.T, format string) {
			stub, trap, env, _ := newDO(t)
			trap.set("GET /v2/droplets?", dostub.Fault{Op: "droplets_list", Status: 500})
			r := oxyctl(t, env, "-o", format, "--timeout", "3s", "firewall", "list")
			if !trap.fired() {
				t.Fatal("the fault was never armed")
			}
			checkError(t, r, 3, "api", format == "json")
			noSecrets(t, r.stdout, r.stderr)
			notEmpty(t, stub)
		}},
	}
}

// checkConverged asserts the live rules are exactly the declared ones.
func checkConverged(t *testing.T, stub *dostub.Server) {
	t.Helper()
	notEmpty(t, stub)
	key := func(rs []dostub.Rule) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Type+" "+r.Value)
		}
		sort.Strings(out)
		return out
	}
	if got, want := key(stub.Rules(dostub.OxyClusterID)), key(dostub.DesiredRules()); !reflect.DeepEqual(got, want) {
		t.Fatalf("rules %v, want %v", got, want)
	}
}
