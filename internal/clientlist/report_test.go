package clientlist

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/oxyhq/oxyctl/internal/doapi"
)

func snapshot(t *testing.T, list string) *Snapshot {
	t.Helper()
	cs, err := Parse(list, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Snapshot{Nodes: []Node{{Addr: "127.0.0.1:6379", Clients: cs, SelfID: 10, Connected: int64(len(cs)), MaxClients: 10000, OutputBufferDisconnections: 0}}}
}

const twoInstances = `id=1 addr=10.0.0.2:1000 name=api-a-sub flags=P sub=6 psub=2 omem=0
id=2 addr=10.0.0.2:1001 name=api-a-pub flags=N
id=3 addr=10.0.0.3:1000 name=api-b-sub flags=P sub=4 psub=2 omem=0
id=4 addr=10.0.0.3:1001 name=api-b-pub flags=N
id=10 addr=10.0.0.9:5000 name=oxyctl flags=N
`

func TestStrays(t *testing.T) {
	chans := func(subs int64) []RequestChannel {
		return []RequestChannel{{Namespace: "/", Channel: "socket.io-request#/#", Subscribers: subs, Instances: 2, Known: true}}
	}
	// No surplus: nothing, whatever the shapes.
	if sr := Strays(snapshot(t, twoInstances+"id=5 addr=10.0.0.7:1 flags=P sub=1\n"), chans(2)); len(sr.Strays) != 0 || len(sr.Problems()) != 0 {
		t.Fatalf("no surplus: %+v", sr)
	}
	// One extra subscriber, one candidate: named.
	sr := Strays(snapshot(t, twoInstances+"id=5 addr=10.0.0.7:1 name=cli flags=P sub=1\nid=6 addr=10.0.0.8:1 name=tail flags=P psub=1\n"), chans(3))
	if len(sr.Strays) != 1 || sr.Strays[0].Addr != "10.0.0.7:1" || sr.Strays[0].Possible || !sr.Surplus[0].Named {
		t.Fatalf("one stray: %+v", sr)
	}
	if p := sr.Problems(); len(p) != 1 || !strings.HasPrefix(p[0], "stray subscriber 10.0.0.7:1 (client name cli): ") {
		t.Fatalf("problems %q", p)
	}
	// Two candidates for one extra subscriber (the other an app's own
	// SUBSCRIBE to an unrelated channel): nobody is accused, the channel is
	// reported once with both candidates.
	sr = Strays(snapshot(t, twoInstances+"id=5 addr=10.0.0.7:1 flags=P sub=1\nid=6 addr=10.0.0.8:1 name=app flags=P sub=2\n"), chans(3))
	if p := sr.Problems(); len(sr.Strays) != 0 || len(p) != 1 || len(sr.Surplus[0].Candidates) != 2 ||
		p[0] != "socket.io-request#/# has 3 subscribers but 2 adapter instances: 1 stray subscriber(s), among: 10.0.0.7:1 (no client name), 10.0.0.8:1 (client name app): fetchSockets() waits for an answer that never comes" {
		t.Fatalf("two candidates: %+v %q", sr, p)
	}
	if cs := sr.Clients(); len(cs) != 2 || !cs[0].Possible || !cs[1].Possible || cs[1].Addr != "10.0.0.8:1" {
		t.Fatalf("candidates as data: %+v", cs)
	}
	// Two extra subscribers, two candidates: both named.
	sr = Strays(snapshot(t, twoInstances+"id=5 addr=10.0.0.7:1 flags=P sub=1\nid=6 addr=10.0.0.8:1 flags=P sub=2\n"), chans(4))
	if len(sr.Strays) != 2 || len(sr.Problems()) != 2 || sr.Strays[0].Possible {
		t.Fatalf("two strays: %+v %q", sr, sr.Problems())
	}
	// An extra subscriber that looks like an instance: not named, but said.
	sr = Strays(snapshot(t, twoInstances), chans(3))
	if len(sr.Strays) != 0 || len(sr.Surplus[0].Candidates) != 0 || !strings.Contains(sr.Problems()[0], "has 3 subscribers but 2 adapter instances") {
		t.Fatalf("unnamed: %+v %q", sr, sr.Problems())
	}
	// No uid known (an adapter without per-instance response channels): not judged.
	if sr := Strays(snapshot(t, twoInstances), []RequestChannel{{Channel: "x", Subscribers: 5}}); len(sr.Surplus) != 0 {
		t.Fatalf("no uid: %+v", sr)
	}
	// No instance at all (known: no pattern subscription on the server): a
	// lone plain subscriber is the stray.
	lone := "id=5 addr=10.0.0.7:1 name=cli flags=P sub=1\nid=10 addr=10.0.0.9:5000 name=oxyctl flags=N\n"
	sr = Strays(snapshot(t, lone), []RequestChannel{{Channel: "socket.io-request#/#", Subscribers: 1, Known: true}})
	if len(sr.Strays) != 1 || sr.Strays[0].Addr != "10.0.0.7:1" {
		t.Fatalf("lone stray: %+v", sr)
	}
}

func TestBuild(t *testing.T) {
	snap := snapshot(t, twoInstances+"id=5 addr=10.0.0.7:1 name=cli flags=P sub=1 idle=40\nid=6 addr=10.0.0.2:1002 name=api-a-sub flags=P psub=1 omem=5000000 lib-name=ioredis lib-ver=5\n")
	resolve := func(h string) string {
		if h == "10.0.0.2" {
			return "droplet api-a"
		}
		return ""
	}
	r := Build(snap, Options{Soft: DefaultSoft, Resolve: resolve, Channels: []RequestChannel{{Channel: "socket.io-request#/#", Subscribers: 3, Instances: 2, Known: true}}})
	if r.Total != 7 || r.Cap != 10000 || len(r.Groups) != 4 || len(r.Clients) != 7 {
		t.Fatalf("%+v", r)
	}
	g := r.Groups[0]
	if g.Key != "10.0.0.2" || g.ResolvesTo != "droplet api-a" || g.Connections != 3 || g.PubSub != 2 || g.OMemBytes != 5000000 ||
		strings.Join(g.Names, ",") != "api-a-pub,api-a-sub" || strings.Join(g.Libs, ",") != "ioredis 5" {
		t.Fatalf("group %+v", g)
	}
	if g := r.Groups[3]; g.Key != "10.0.0.9" || g.ResolvesTo != Self {
		t.Fatalf("own group %+v", g)
	}
	if len(r.Findings) != 2 || r.Findings[0].Kind != KindStray || r.Findings[0].Client != "10.0.0.7:1" || r.Findings[1].Kind != KindBuffer || !r.HasError() {
		t.Fatalf("findings %+v", r.Findings)
	}

	// --type and --group.
	r = Build(snap, Options{Type: TypePubSub, Group: GroupName})
	if len(r.Clients) != 4 || len(r.Groups) != 3 || r.Groups[0].Key != "api-a-sub" || r.Groups[0].Connections != 2 || len(r.Findings) != 0 {
		t.Fatalf("pubsub by name: %+v", r)
	}
	r = Build(snap, Options{Type: TypeNormal, Group: GroupNone})
	if len(r.Clients) != 3 || len(r.Groups) != 0 {
		t.Fatalf("normal, no groups: %+v", r)
	}

	// Headroom: 80 % of maxclients.
	snap.Nodes[0].MaxClients = 9
	if r = Build(snap, Options{}); len(r.Findings) != 0 {
		t.Fatalf("7 of 9 is 77 %%: %+v", r.Findings)
	}
	snap.Nodes[0].MaxClients = 8
	if r = Build(snap, Options{}); len(r.Findings) != 1 || r.Findings[0].Kind != KindHeadroom || r.Findings[0].Severity != SevWarning ||
		!strings.Contains(r.Findings[0].Message, "7 connections, 87% of maxclients 8") || r.Cap != 8 || r.CapFrom != doapi.CapFromMaxclients {
		t.Fatalf("headroom: %+v", r.Findings)
	}
	// On DigitalOcean the plan's cap counts when it is the lower one.
	snap.Nodes[0].MaxClients = 65000
	plan := doapi.PlanOf("db-s-1vcpu-1gb")
	if r = Build(snap, Options{Plan: plan}); r.Cap != 10000 || r.CapFrom != doapi.CapFromPlan || len(r.Findings) != 0 {
		t.Fatalf("plan cap: cap %d from %q, findings %+v", r.Cap, r.CapFrom, r.Findings)
	}
	plan.ConnectionCap = 8 // a plan this small does not exist: the rule, not the numbers
	if r = Build(snap, Options{Plan: plan}); r.Cap != 8 || len(r.Findings) != 1 || !strings.Contains(r.Findings[0].Message, "87% of the plan's cap 8 (db-s-1vcpu-1gb") {
		t.Fatalf("plan headroom: %+v", r.Findings)
	}
	snap.Nodes[0].MaxClients = 8

	// CLIENT LIST refused: the note, and the total from INFO.
	snap.Nodes[0].Clients, snap.Nodes[0].Note, snap.Nodes[0].Connected = nil, RefusedNote, 3
	if r = Build(snap, Options{}); r.Total != 3 || len(r.Clients) != 0 || len(r.Notes) != 1 || r.Notes[0] != RefusedNote {
		t.Fatalf("refused: %+v", r)
	}
}

func TestSoftFromConfig(t *testing.T) {
	if l, ok := SoftFromConfig(doapi.Config{ConfigKey: float64(64)}); !ok || l.Bytes != 16<<20 || !strings.Contains(l.From, "64 MiB") {
		t.Fatalf("%+v %v", l, ok)
	}
	for _, cfg := range []doapi.Config{{}, {ConfigKey: "32"}, {ConfigKey: float64(0)}, {ConfigKey: float64(16)}, {ConfigKey: float64(31)}, {ConfigKey: float64(513)}} {
		if _, ok := SoftFromConfig(cfg); ok {
			t.Fatalf("%v: ok", cfg)
		}
	}
	if l, ok := SoftFromConfig(doapi.Config{ConfigKey: float64(DOHardMinMiB)}); !ok || l.Bytes != MinSoft {
		t.Fatalf("the least hard limit: %+v %v, want a soft limit of MinSoft", l, ok)
	}
}

type fakeConfig struct{ cfg doapi.Config }

func (f fakeConfig) FindCluster(_ context.Context, name string) (*doapi.Cluster, error) {
	return &doapi.Cluster{ID: name}, nil
}

func (f fakeConfig) GetConfig(context.Context, string) (doapi.Config, error) { return f.cfg, nil }

// A hard limit below the API's minimum (16 MiB would make the soft limit 4
// MiB, under MinSoft) is not believed: Valkey's default applies, with an
// error for the note. An unset one is the default without a note.
func TestSoftFromDO(t *testing.T) {
	ctx := context.Background()
	if l, err := SoftFromDO(ctx, fakeConfig{doapi.Config{ConfigKey: float64(16)}}, "c"); l != DefaultSoft || err == nil ||
		!strings.Contains(err.Error(), ConfigKey+" is 16, not a number of MiB from 32 to 512") {
		t.Fatalf("16 MiB: %+v %v", l, err)
	}
	if l, err := SoftFromDO(ctx, fakeConfig{doapi.Config{}}, "c"); l != DefaultSoft || err != nil {
		t.Fatalf("unset: %+v %v", l, err)
	}
	if l, err := SoftFromDO(ctx, fakeConfig{doapi.Config{ConfigKey: float64(128)}}, "c"); l.Bytes != 32<<20 || err != nil {
		t.Fatalf("128 MiB: %+v %v", l, err)
	}
}

// TestOverBuffer: the one buffer rule, for pattern and plain subscribers
// alike (the pubsub class limit cuts both); a normal client is never over.
func TestOverBuffer(t *testing.T) {
	soft := Limit{Bytes: 8 << 20}
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"id=1 addr=a:1 flags=P psub=1 omem=4194305", true},
		{"id=1 addr=a:1 flags=P sub=1 omem=4194305", true},
		{"id=1 addr=a:1 flags=P ssub=1 omem=4194305", true},
		{"id=1 addr=a:1 flags=P sub=1 omem=4194304", false},
		{"id=1 addr=a:1 flags=N omem=9000000", false},
	} {
		cs, err := Parse(tc.line, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := OverBuffer(&cs[0], soft); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.line, got, tc.want)
		}
		if got := CouldBeOverBuffer(&cs[0]); got != tc.want {
			t.Errorf("%s: could be over %v, want %v (MinSoft is 8 MiB)", tc.line, got, tc.want)
		}
	}
}

// TestAppendJSONMatchesEncodingJSON: the hand-written encoder writes what
// encoding/json writes (indent 2, no HTML escaping), for reports with
// every kind of string.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	odd := []string{"", "plain", `quote " and \ backslash`, "<html> & co", "tab\there\nnew\x01line", "é ü 日本", "\u2028\u2029", "bad \xff utf8", "\x7f"}
	snap := snapshot(t, twoInstances+"id=5 addr=10.0.0.7:1 name=cli flags=P sub=1 idle=40\n")
	for i, s := range odd {
		r := Build(snap, Options{Soft: DefaultSoft, Group: []string{GroupAddr, GroupName, GroupNone}[i%3],
			Resolve: func(string) string { return s }, Notes: odd[:i], Channels: []RequestChannel{{Channel: s, Subscribers: 3, Instances: 2, Known: true}}})
		if i%2 == 0 {
			r.Clients[0].Name, r.Clients[0].Lib = s, s
			r.Findings = append(r.Findings, Finding{Severity: s, Kind: s, Client: s, Name: s, Message: s})
		}
		if i == 4 {
			r.Clients, r.Findings = []ClientEntry{}, []Finding{}
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("case %d (%q):\ngot\n%s\nwant\n%s", i, s, got, want.Bytes())
		}
	}
}

type fakeInventory struct{ droplets []doapi.Droplet }

func (f fakeInventory) LoadInventory(_ context.Context, needs doapi.Needs) (*doapi.Inventory, error) {
	inv := &doapi.Inventory{K8s: map[string]*doapi.KubernetesCluster{}}
	if needs.Droplets {
		inv.Droplets, inv.DropletsLoaded = f.droplets, true
	}
	for _, id := range needs.K8s {
		if id == "bd5f5959-5e1e-4205-a714-a914373942af" {
			inv.K8s[id] = &doapi.KubernetesCluster{ID: id, Name: "k8s-ams3-oxy"}
		}
	}
	return inv, nil
}

func TestResolverFromDO(t *testing.T) {
	resolve, err := ResolverFromDO(context.Background(), fakeInventory{[]doapi.Droplet{
		{Name: "oxy-api-backend", PrivateIP: "10.110.0.5", PublicIP: "146.190.20.41"},
		{Name: "pool-1", PrivateIP: "10.110.0.6", Tags: []string{"k8s", "k8s:bd5f5959-5e1e-4205-a714-a914373942af"}},
		{Name: "pool-2", PrivateIP: "10.110.0.7", Tags: []string{"k8s:1d3b1a1c-0000-4000-8000-000000000000"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"10.110.0.5":    "droplet oxy-api-backend",
		"146.190.20.41": "droplet oxy-api-backend",
		"10.110.0.6":    "kubernetes node pool-1 (cluster k8s-ams3-oxy)",
		"10.110.0.7":    "kubernetes node pool-2 (cluster 1d3b1a1c-0000-4000-8000-000000000000)",
		"10.110.0.8":    "",
	} {
		if got := resolve(host); got != want {
			t.Errorf("%s: %q, want %q", host, got, want)
		}
	}
}

// The address oxyctl connects from may also hold others' connections (an
// API instance on the same machine): the group says so instead of calling
// every connection oxyctl's; the client rows still label only its own.
func TestBuildSelfShared(t *testing.T) {
	snap := snapshot(t, twoInstances+"id=11 addr=10.0.0.9:5001 name=api-c-pub flags=N\nid=12 addr=10.0.0.9:5002 name=api-c-sub flags=P sub=3 psub=1\n")
	r := Build(snap, Options{Soft: DefaultSoft})
	g := r.Groups[len(r.Groups)-1]
	if g.Key != "10.0.0.9" || g.Connections != 3 || g.ResolvesTo != Self+" and 2 other connections" {
		t.Fatalf("shared group %+v", g)
	}
	var self int
	for _, c := range r.Clients {
		if c.ResolvesTo == Self {
			self++
		}
	}
	if self != 1 {
		t.Fatalf("%d clients labelled as oxyctl's", self)
	}
}
