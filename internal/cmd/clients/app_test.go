package clients_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/clientlist"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/nodeapp"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// These tests drive the real entry point against a real valkey-server, the
// real Socket.IO harness (@socket.io/redis-adapter on ioredis) and the
// DigitalOcean stand-in. They run one after another: app.Run sets cobra's
// process-wide hooks.

func run(t *testing.T, env map[string]string, args ...string) clitest.Result {
	t.Helper()
	r := clitest.Run(context.Background(), app.Run, clitest.Env(t, env), "", args...)
	t.Logf("oxyctl %s: exit %d in %s\n%s%s", strings.Join(args, " "), r.Code, r.Elapsed.Round(time.Millisecond), r.Stdout, r.Stderr)
	return r
}

func report(t *testing.T, r clitest.Result) clientlist.Report {
	t.Helper()
	var rep clientlist.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("stdout is not the clients document: %v\n%s", err, r.Stdout)
	}
	return rep
}

type healthDoc struct {
	Status string `json:"status"`
	Checks []struct {
		Name   string          `json:"name"`
		Status string          `json:"status"`
		Detail string          `json:"detail"`
		Data   json.RawMessage `json:"data"`
	} `json:"checks"`
}

type pubsubData struct {
	OutputBufferDisconnections int64 `json:"output_buffer_disconnections"`
	Subscribers                []struct {
		Addr      string `json:"addr"`
		Name      string `json:"name"`
		Sub       int64  `json:"sub"`
		PSub      int64  `json:"psub"`
		OMemBytes int64  `json:"omem_bytes"`
		Instance  bool   `json:"instance"`
	} `json:"subscribers"`
	Stray []clientlist.Stray `json:"stray"`
}

func health(t *testing.T, env map[string]string) (int, string, string, pubsubData) {
	t.Helper()
	r := run(t, env, "health", "--check", "pubsub", "-o", "json")
	var d healthDoc
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil || len(d.Checks) != 1 {
		t.Fatalf("health document: %v\n%s", err, r.Stdout)
	}
	var pd pubsubData
	if err := json.Unmarshal(d.Checks[0].Data, &pd); err != nil {
		t.Fatalf("pubsub data: %v", err)
	}
	return r.Code, d.Checks[0].Status, d.Checks[0].Detail, pd
}

func group(rep clientlist.Report, key string) *clientlist.Group {
	for i := range rep.Groups {
		if rep.Groups[i].Key == key {
			return &rep.Groups[i]
		}
	}
	return nil
}

// TestClientsRealAdapter: two real socket.io instances, each with its
// Valkey connections bound to its own source address, one of them a
// Droplet's private address and the other a Kubernetes node's. Then a plain
// SUBSCRIBE on the request channel: fetchSockets() times out, clients and
// health name it, and the instances are not flagged.
func TestClientsRealAdapter(t *testing.T) {
	// maxclients above the 1 GiB plan's cap: with a token the plan's 10000 is the cap.
	srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--maxclients", "15000"}})
	harness := nodeapp.StartSocketIO(t, nodeapp.Options{RedisURL: srv.URL, RequestsTimeout: time.Second,
		LocalAddressA: "127.0.0.2", LocalAddressB: "127.0.0.3"})
	do := dostub.Start(t)
	do.AddDroplet(dostub.Droplet{ID: 549300001, Name: "oxy-api-a", PrivateIP: "127.0.0.2", PublicIP: "203.0.113.20", Tags: []string{"oxy"}})
	do.AddDroplet(dostub.Droplet{ID: 549300002, Name: "pool-oxy-x1", PrivateIP: "127.0.0.3", PublicIP: "203.0.113.21",
		Tags: []string{"k8s", "k8s:" + dostub.K8sClusterID, "k8s:worker"}})
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL, "DIGITALOCEAN_ACCESS_TOKEN": do.Token(), "DIGITALOCEAN_API_URL": do.URL}

	r := run(t, env, "clients", "-o", "json")
	rep := report(t, r)
	if r.Code != 0 || len(rep.Findings) != 0 {
		t.Fatalf("exit %d, findings %+v", r.Code, rep.Findings)
	}
	if rep.Cap != 10000 || rep.CapFrom != "plan" || rep.Total < 5 || rep.SoftLimitBytes != 8<<20 || !strings.Contains(rep.SoftLimitFrom, "DigitalOcean") {
		t.Fatalf("total %d cap %d (%s) soft %d (%s)", rep.Total, rep.Cap, rep.CapFrom, rep.SoftLimitBytes, rep.SoftLimitFrom)
	}
	for _, want := range []struct{ key, server, resolves string }{
		{"127.0.0.2", "A", "droplet oxy-api-a"},
		{"127.0.0.3", "B", "kubernetes node pool-oxy-x1 (cluster " + dostub.K8sClusterName + ")"},
	} {
		g := group(rep, want.key)
		if g == nil {
			t.Fatalf("no group %s: %+v", want.key, rep.Groups)
		}
		names := "oxyctl-interop-sio-" + want.server + "-pub,oxyctl-interop-sio-" + want.server + "-sub"
		if g.ResolvesTo != want.resolves || g.Connections != 2 || g.PubSub != 1 || strings.Join(g.Names, ",") != names ||
			len(g.Libs) != 1 || !strings.HasPrefix(g.Libs[0], "ioredis") {
			t.Fatalf("group %s: %+v", want.key, *g)
		}
		for _, c := range rep.Clients {
			if strings.HasPrefix(c.Addr, want.key+":") && strings.HasSuffix(c.Name, "-sub") && (c.PSub != 2 || c.Sub != 6) {
				t.Fatalf("%s: an instance's subscriber holds 1 pattern and 3 plain subscriptions per namespace (2 namespaces): %+v", want.key, c)
			}
		}
	}
	self := 0
	for _, c := range rep.Clients {
		if c.ResolvesTo == clientlist.Self {
			self++
			if c.Name != "oxyctl" || !strings.HasPrefix(c.Addr, "127.0.0.1:") {
				t.Fatalf("own connection: %+v", c)
			}
		}
	}
	if self != 1 || group(rep, "127.0.0.1") == nil || group(rep, "127.0.0.1").ResolvesTo != clientlist.Self {
		t.Fatalf("own connection labelled %d times; groups %+v", self, rep.Groups)
	}
	if res := harness.Emit(t, "fetch-sockets"); !res.OK || res.Count != 6 {
		t.Fatalf("fetch-sockets before the stray: ok %v count %d %s", res.OK, res.Count, res.Error)
	}
	if code, status, detail, _ := health(t, env); code != 0 || status != "ok" || !strings.Contains(detail, "/ 2, /chat 2") {
		t.Fatalf("health before the stray: exit %d %s %q", code, status, detail)
	}

	stray := srv.Subscriber(t, valkeytest.SubscriberOptions{LocalAddr: "127.0.0.9", Name: "stray-listener", Channels: []string{"socket.io-request#/#"}})
	strayAddr := stray.LocalAddr().String()
	if res := harness.Emit(t, "fetch-sockets"); res.OK || !strings.Contains(res.Error, "timeout") {
		t.Fatalf("fetch-sockets with the stray: ok %v count %d error %q, want a timeout", res.OK, res.Count, res.Error)
	}

	r = run(t, env, "clients", "-o", "json")
	rep = report(t, r)
	if r.Code != 1 || len(rep.Findings) != 1 {
		t.Fatalf("with the stray: exit %d, findings %+v", r.Code, rep.Findings)
	}
	contractFields(t, r.Stdout)
	f := rep.Findings[0]
	if f.Severity != "error" || f.Kind != clientlist.KindStray || f.Client != strayAddr || f.Name != "stray-listener" ||
		!strings.Contains(f.Message, strayAddr+" (client name stray-listener)") || strings.Contains(f.Message, "possible") {
		t.Fatalf("finding %+v, want the stray %s", f, strayAddr)
	}
	r = run(t, env, "clients")
	if r.Code != 1 || !strings.Contains(r.Stdout, "error  stray_subscriber  stray subscriber "+strayAddr+" (client name stray-listener)") ||
		!strings.Contains(r.Stdout, "droplet oxy-api-a") {
		t.Fatalf("text: exit %d\n%s", r.Code, r.Stdout)
	}

	code, status, detail, pd := health(t, env)
	if code != 1 || status != "fail" || !strings.Contains(detail, "stray subscriber "+strayAddr+" (client name stray-listener)") ||
		!strings.Contains(detail, "/ 2, /chat 2") || len(pd.Stray) != 1 || pd.Stray[0].Addr != strayAddr {
		t.Fatalf("health with the stray: exit %d %s %q %+v", code, status, detail, pd.Stray)
	}
	instances := 0
	for _, s := range pd.Subscribers {
		if s.Instance {
			instances++
		}
	}
	if instances != 2 || len(pd.Subscribers) != 3 {
		t.Fatalf("subscribers %+v, want the two instances and the stray", pd.Subscribers)
	}

	// Without a token nothing is resolved and the DigitalOcean API is not asked.
	do.ResetRequests()
	r = run(t, map[string]string{"OXYCTL_REDIS_URL": srv.URL}, "clients", "-o", "json")
	rep = report(t, r)
	if r.Code != 1 || rep.SoftLimitFrom != clientlist.DefaultSoft.From || len(do.Requests()) != 0 {
		t.Fatalf("no token: exit %d, soft from %q, %d API requests", r.Code, rep.SoftLimitFrom, len(do.Requests()))
	}
	for _, g := range rep.Groups {
		if g.ResolvesTo != "" && g.ResolvesTo != clientlist.Self {
			t.Fatalf("no token, yet group %s resolves to %q", g.Key, g.ResolvesTo)
		}
	}

	// An app's own SUBSCRIBE to an unrelated channel looks the same in
	// CLIENT LIST: two candidates for one extra subscriber. Nobody is
	// accused; the request channel is one finding naming both.
	app := srv.Subscriber(t, valkeytest.SubscriberOptions{LocalAddr: "127.0.0.8", Name: "notifier", Channels: []string{"notifications"}})
	appAddr := app.LocalAddr().String()
	among := "socket.io-request#/# has 3 subscribers but 2 adapter instances: 1 stray subscriber(s), among: "
	r = run(t, env, "clients", "-o", "json")
	rep = report(t, r)
	if r.Code != 1 || len(rep.Findings) != 1 {
		t.Fatalf("stray and unrelated subscriber: exit %d, findings %+v", r.Code, rep.Findings)
	}
	f = rep.Findings[0]
	if f.Severity != "error" || f.Kind != clientlist.KindStray || f.Client != "" || f.Name != "" || !strings.HasPrefix(f.Message, among) ||
		!strings.Contains(f.Message, appAddr+" (client name notifier)") || !strings.Contains(f.Message, strayAddr+" (client name stray-listener)") {
		t.Fatalf("finding %+v, want one naming %s and %s as candidates", f, strayAddr, appAddr)
	}
	code, status, detail, pd = health(t, env)
	if code != 1 || status != "fail" || !strings.HasPrefix(detail, among) || strings.Contains(detail, "stray subscriber "+strayAddr) ||
		!strings.Contains(detail, appAddr) || len(pd.Stray) != 2 || !pd.Stray[0].Possible || !pd.Stray[1].Possible {
		t.Fatalf("health with two candidates: exit %d %s %q %+v", code, status, detail, pd.Stray)
	}
}

// TestClientsBufferAndCut: a pattern subscriber that stops reading while
// the real adapter floods broadcasts. clients flags its omem before the
// server cuts it off; after the cut health warns with the count.
func TestClientsBufferAndCut(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--client-output-buffer-limit", "pubsub 32mb 8mb 60"}})
	harness := nodeapp.StartSocketIO(t, nodeapp.Options{RedisURL: srv.URL})
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL}
	slow := srv.Subscriber(t, valkeytest.SubscriberOptions{LocalAddr: "127.0.0.7", Name: "slow-reader",
		Patterns: []string{"socket.io#*"}, ReadBuffer: 4096})
	slowAddr := slow.LocalAddr().String()
	cl := srv.Client(t)
	omem := func() (int64, bool) {
		list, err := cl.Do(context.Background(), cl.B().ClientList().Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		cs, err := clientlist.Parse(strings.TrimPrefix(list, "txt:"), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.Addr == slowAddr {
				return c.OMem, true
			}
		}
		return 0, false
	}
	flood := func() {
		harness.EmitRequest(t, nodeapp.EmitRequest{Scenario: "flood", Count: 16, Size: 64 << 10, WaitMs: 50})
	}

	// Half the soft limit (8 MiB) is 4 MiB; the hard cut is at 32 MiB.
	for i := 0; ; i++ {
		n, ok := omem()
		if !ok {
			t.Fatalf("the slow reader was cut before its buffer reached 5 MiB (%d floods)", i)
		}
		if n > 5<<20 {
			t.Logf("omem %d after %d floods", n, i)
			break
		}
		if i > 100 {
			t.Fatalf("omem %d after %d floods", n, i)
		}
		flood()
	}
	r := run(t, env, "clients", "--type", "pubsub", "-o", "json")
	rep := report(t, r)
	var buf *clientlist.Finding
	for i := range rep.Findings {
		if rep.Findings[i].Kind == clientlist.KindBuffer {
			if buf != nil {
				t.Fatalf("two buffer findings: %+v", rep.Findings)
			}
			buf = &rep.Findings[i]
		}
	}
	if r.Code != 0 || buf == nil || buf.Client != slowAddr || buf.Severity != "warning" || !strings.Contains(buf.Message, "over half the pub/sub soft limit of 8.0 MiB") {
		t.Fatalf("exit %d, buffer finding %+v", r.Code, buf)
	}
	for _, c := range rep.Clients {
		if c.Flags != "P" {
			t.Fatalf("--type pubsub listed %+v", c)
		}
	}
	if code, status, detail, pd := health(t, env); code != 0 || status != "warn" || !strings.Contains(detail, "slow-reader") || pd.OutputBufferDisconnections != 0 {
		t.Fatalf("health before the cut: exit %d %s %q disconnections %d", code, status, detail, pd.OutputBufferDisconnections)
	}

	// With DigitalOcean's hard limit at 64 MiB the soft limit is 16 MiB:
	// the same buffer is under half of it.
	do := dostub.Start(t)
	cfg := dostub.DefaultValkeyConfig()
	cfg[clientlist.ConfigKey] = 64
	do.SetConfig(dostub.OxyClusterID, cfg)
	doEnv := map[string]string{"OXYCTL_REDIS_URL": srv.URL, "DIGITALOCEAN_ACCESS_TOKEN": do.Token(), "DIGITALOCEAN_API_URL": do.URL}
	if code, status, detail, _ := health(t, doEnv); code != 0 || status != "ok" || strings.Contains(detail, "slow-reader") {
		t.Fatalf("health, soft limit 16 MiB: exit %d %s %q", code, status, detail)
	}
	r = run(t, doEnv, "clients", "-o", "json")
	if rep := report(t, r); r.Code != 0 || len(rep.Findings) != 0 || rep.SoftLimitBytes != 16<<20 {
		t.Fatalf("clients, soft limit 16 MiB: exit %d %+v", r.Code, rep.Findings)
	}

	for i := 0; ; i++ {
		if _, ok := omem(); !ok {
			break
		}
		if i > 200 {
			t.Fatal("the slow reader was never cut off")
		}
		flood()
	}
	code, status, detail, pd := health(t, env)
	if code != 0 || status != "warn" || !strings.Contains(detail, "1 clients cut off at the output-buffer limit") || pd.OutputBufferDisconnections != 1 {
		t.Fatalf("health after the cut: exit %d %s %q disconnections %d", code, status, detail, pd.OutputBufferDisconnections)
	}
	for _, s := range pd.Subscribers {
		if !s.Instance {
			t.Fatalf("after the cut: %+v", s)
		}
	}
}

// TestClientsRefused: a server that refuses what DigitalOcean refuses, and
// one whose ACL refuses CLIENT LIST: clients and health's pubsub still
// work, the second with a note, and nothing refused is ever sent.
func TestClientsRefused(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Refused: true})
	srv.Subscriber(t, valkeytest.SubscriberOptions{Name: "inst", Channels: []string{"socket.io-request#/#", "socket.io-response#/#", "socket.io-response#/#AAAAAA#"}})
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL}
	r := run(t, env, "clients", "-o", "json")
	if rep := report(t, r); r.Code != 0 || rep.Total != 2 || len(rep.Notes) != 0 {
		t.Fatalf("refused server: exit %d %+v", r.Code, rep)
	}
	if code, status, _, pd := health(t, env); code != 0 || status != "ok" || len(pd.Subscribers) != 1 {
		t.Fatalf("refused server, health: exit %d %s %+v", code, status, pd)
	}
	cl, err := srv.SingleClient() // no CLUSTER probe: that would be an error of its own
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	stats, err := cl.Do(context.Background(), cl.B().Info().Section("errorstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stats, "errorstat_") {
		t.Fatalf("oxyctl got errors from the server:\n%s", stats)
	}

	acl := valkeytest.Start(t, valkeytest.Options{Args: []string{"--user", "default", "on", "nopass", "~*", "&*", "+@all", "-client|list"}})
	env = map[string]string{"OXYCTL_REDIS_URL": acl.URL}
	r = run(t, env, "clients", "-o", "json")
	rep := report(t, r)
	if r.Code != 0 || len(rep.Notes) != 1 || rep.Notes[0] != clientlist.RefusedNote || rep.Total != 1 || rep.Cap != 10000 ||
		!strings.Contains(r.Stderr, clientlist.RefusedNote) {
		t.Fatalf("CLIENT LIST refused: exit %d %+v", r.Code, rep)
	}
	acl.Subscriber(t, valkeytest.SubscriberOptions{Channels: []string{"socket.io-request#/#", "socket.io-response#/#", "socket.io-response#/#AAAAAA#"}, Patterns: []string{"socket.io#/#*"}})
	if code, status, detail, _ := health(t, env); code != 0 || status != "ok" || !strings.Contains(detail, clientlist.RefusedNote) {
		t.Fatalf("CLIENT LIST refused, health: exit %d %s %q", code, status, detail)
	}

	// An ACL without PUBSUB: only the stray check needs it; it says it
	// could not look, and the listing and its exit code stand.
	noPubSub := valkeytest.Start(t, valkeytest.Options{Args: []string{"--user", "default", "on", "nopass", "~*", "&*", "+@all", "-pubsub"}})
	noPubSub.Subscriber(t, valkeytest.SubscriberOptions{Name: "inst", Channels: []string{"socket.io-request#/#", "socket.io-response#/#AAAAAA#"}})
	r = run(t, map[string]string{"OXYCTL_REDIS_URL": noPubSub.URL}, "clients", "-o", "json")
	rep = report(t, r)
	if r.Code != 0 || len(rep.Notes) != 1 || rep.Notes[0] != "could not look for stray subscribers: PUBSUB is refused by the server" ||
		rep.Total != 2 || len(rep.Clients) != 2 || !strings.Contains(r.Stderr, rep.Notes[0]) {
		t.Fatalf("PUBSUB refused: exit %d %+v", r.Code, rep)
	}
}

// contractFields checks the field names PRODUCT.md gives `clients -o json`
// (scripts rely on them), read from the document itself, not through the
// struct that wrote it.
func contractFields(t *testing.T, doc string) {
	t.Helper()
	var d struct {
		Top      map[string]json.RawMessage
		Groups   []map[string]json.RawMessage `json:"groups"`
		Clients  []map[string]json.RawMessage `json:"clients"`
		Findings []map[string]json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal([]byte(doc), &d.Top); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil || len(d.Groups) == 0 || len(d.Clients) == 0 || len(d.Findings) == 0 {
		t.Fatalf("%v: want groups, clients and findings:\n%s", err, doc)
	}
	for _, want := range []struct {
		what   string
		obj    map[string]json.RawMessage
		fields string
	}{
		{"document", d.Top, "total cap groups clients findings"},
		{"group", d.Groups[0], "key resolves_to connections pubsub omem_bytes max_idle_s names libs"},
		{"client", d.Clients[0], "id addr name lib age_s idle_s sub psub ssub omem_bytes flags resolves_to"},
		{"finding", d.Findings[0], "severity kind client message"},
	} {
		for _, f := range strings.Fields(want.fields) {
			if _, ok := want.obj[f]; !ok {
				t.Errorf("%s has no %q field (PRODUCT.md's contract)", want.what, f)
			}
		}
	}
}
