package policy

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/doapi"
)

var (
	appNames = []string{"oxy-api", "mention", "homiio", "alia", "allo"}
	k8sID    = "0ad2c1d4-9c6e-5c1f-8f7e-3f7a3c2b1d0e"
	goneK8s  = "11111111-2222-5333-8444-555555555555"
)

func appID(i int) string { return fmt.Sprintf("a0000000-0000-4000-8000-%012d", i) }

func inventory() *doapi.Inventory {
	inv := &doapi.Inventory{
		DropletsLoaded: true, AppsLoaded: true,
		Droplets: []doapi.Droplet{
			{ID: 549107286, Name: "oxy-api-backend", PublicIP: "146.190.20.41", PrivateIP: "10.110.0.5"},
			{ID: 549100001, Name: "web-01"},
			{ID: 549200001, Name: "worker"},
			{ID: 549200002, Name: "worker"},
		},
		K8s: map[string]*doapi.KubernetesCluster{
			k8sID:   {ID: k8sID, Name: "k8s-ams3-oxy", State: "running"},
			goneK8s: nil,
		},
		Tags: map[string]*doapi.Tag{
			"oxy-workers": {Name: "oxy-workers", Droplets: 5, Resources: 5},
			"gone-tag":    nil,
		},
	}
	for i, n := range appNames {
		inv.Apps = append(inv.Apps, doapi.App{ID: appID(i + 1), Name: n})
	}
	inv.Apps = append(inv.Apps, doapi.App{ID: appID(99), Name: "site-01"})
	return inv
}

const basePolicy = `firewall:
  allow:
    - droplet: oxy-api-backend
    - app: oxy-api
    - app: mention
    - app: homiio
    - app: alia
    - app: allo
`

var created = time.Date(2025, 3, 2, 11, 15, 0, 0, time.UTC)

func baseRules() []doapi.Rule {
	rules := []doapi.Rule{{UUID: "u-d", Type: "droplet", Value: "549107286", Description: "oxy-api-backend (production API)", CreatedAt: created}}
	for i := range appNames {
		rules = append(rules, doapi.Rule{UUID: fmt.Sprintf("u-a%d", i+1), Type: "app", Value: appID(i + 1), CreatedAt: created})
	}
	return rules
}

func mustParse(t *testing.T, body string) *Firewall {
	t.Helper()
	fw, err := Parse([]byte(body), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

func without(rules []doapi.Rule, value string) []doapi.Rule {
	var out []doapi.Rule
	for _, r := range rules {
		if r.Value != value {
			out = append(out, r)
		}
	}
	return out
}

func TestResolve(t *testing.T) {
	inv := inventory()
	fw := mustParse(t, `firewall:
  allow:
    - droplet: oxy-api-backend
    - droplet: OXY-API-BACKEND
    - droplet: 549100001
    - droplet: 1234
    - droplet: nope
    - droplet: worker
    - app: mention
    - app: `+appID(99)+`
    - app: `+strings.ToUpper(appID(3))+`
    - app: nope
    - app: a0000000-0000-4000-8000-000000000777
    - k8s: `+k8sID+`
    - k8s: k8s-ams3-oxy
    - k8s: `+goneK8s+`
    - k8s: some-name
    - tag: oxy-workers
    - tag: gone-tag
    - ip: 203.0.113.7/32
`)
	type row struct{ typ, value, name, problem string }
	var got []row
	for _, r := range Resolve(fw.Allow, inv) {
		got = append(got, row{r.Rule.Type, r.Rule.Value, r.Name, r.Problem})
	}
	want := []row{
		{"droplet", "549107286", "oxy-api-backend", ""},
		{"droplet", "549107286", "oxy-api-backend", ""},
		{"droplet", "549100001", "web-01", ""},
		{"", "", "", "no Droplet with id 1234"},
		{"", "", "", "no Droplet named nope (the account has 4 Droplets)"},
		{"", "", "", "2 Droplets are named worker (ids 549200001, 549200002): use the id"},
		{"app", appID(2), "mention", ""},
		{"app", appID(99), "site-01", ""},
		{"app", appID(3), "homiio", ""},
		{"", "", "", "no app named nope (the account has 6 apps)"},
		{"", "", "", "no app with id a0000000-0000-4000-8000-000000000777"},
		{"k8s", k8sID, "k8s-ams3-oxy", ""},
		{"k8s", k8sID, "k8s-ams3-oxy", ""},
		{"", "", "", "no Kubernetes cluster with id " + goneK8s},
		{"", "", "", "no known Kubernetes cluster named some-name: write the cluster id (oxyctl can look clusters up by id only)"},
		{"tag", "oxy-workers", "oxy-workers", ""},
		{"", "", "", "no tag named gone-tag exists"},
		{"ip_addr", "203.0.113.7", "203.0.113.7", ""},
	}
	if !reflect.DeepEqual(got, want) {
		for i := range max(len(got), len(want)) {
			var g, w row
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("entry %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
	}

	n := Needs(fw.Allow, []doapi.Rule{{Type: "k8s", Value: strings.ToUpper(goneK8s)}, {Type: "tag", Value: "web"}, {Type: "ip_addr", Value: "1.2.3.4"}})
	if !n.Droplets || !n.Apps || !reflect.DeepEqual(n.K8s, []string{k8sID, goneK8s}) ||
		!reflect.DeepEqual(n.Tags, []string{"gone-tag", "oxy-workers", "web"}) {
		t.Fatalf("needs: %+v", n)
	}
	if n := Needs([]Entry{{Kind: KindIP, Value: "1.2.3.4"}}, nil); n.Droplets || n.Apps || n.K8s != nil || n.Tags != nil {
		t.Fatalf("ip only needs nothing: %+v", n)
	}
}

type want struct{ sev, kind, rule, msg string }

func TestAuditScenarios(t *testing.T) {
	inv := inventory()
	for _, tc := range []struct {
		name   string
		policy string
		rules  []doapi.Rule
		want   []want
	}{
		{"clean account", basePolicy, baseRules(), nil},
		{"missing app", basePolicy, without(baseRules(), appID(5)), []want{
			{"error", "missing", "app:" + appID(5), "app allo (" + appID(5) + ") is declared at p.yaml:8 but has no rule"},
		}},
		{"extra public IP", basePolicy, append(baseRules(), doapi.Rule{Type: "ip_addr", Value: "203.0.113.9"}), []want{
			{"error", "public", "ip_addr:203.0.113.9", "203.0.113.9 is a public address that is not in the policy"},
			{"error", "unexpected", "ip_addr:203.0.113.9", "ip_addr 203.0.113.9 is not in the policy"},
		}},
		{"extra private IP", basePolicy, append(baseRules(), doapi.Rule{Type: "ip_addr", Value: "10.1.2.3"}), []want{
			{"error", "unexpected", "ip_addr:10.1.2.3", "ip_addr 10.1.2.3 is not in the policy"},
		}},
		{"open to the internet", basePolicy, append(baseRules(), doapi.Rule{Type: "ip_addr", Value: "0.0.0.0/0"}), []want{
			{"error", "public", "ip_addr:0.0.0.0/0", "0.0.0.0/0 admits every address on the internet (a policy may not declare it: apply removes it)"},
		}},
		{"stale Droplet id", basePolicy, append(baseRules(), doapi.Rule{Type: "droplet", Value: "549100099"}), []want{
			{"error", "stale", "droplet:549100099", "Droplet 549100099 no longer exists"},
		}},
		{"stale app and cluster", basePolicy, append(baseRules(),
			doapi.Rule{Type: "app", Value: appID(404)}, doapi.Rule{Type: "k8s", Value: goneK8s}), []want{
			{"error", "stale", "app:" + appID(404), "app " + appID(404) + " no longer exists"},
			{"error", "stale", "k8s:" + goneK8s, "Kubernetes cluster " + goneK8s + " no longer exists"},
		}},
		{"tag that does not exist", basePolicy, append(baseRules(), doapi.Rule{Type: "tag", Value: "gone-tag"}), []want{
			{"warning", "stale", "tag:gone-tag", "tag gone-tag does not exist, so the rule admits nothing"},
			{"error", "unexpected", "tag:gone-tag", "tag gone-tag is not in the policy"},
		}},
		{"policy name matching nothing", basePolicy + "    - app: oxy-apii\n", baseRules(), []want{
			{"error", "unresolved", "app:oxy-apii", "app: oxy-apii (p.yaml:9): no app named oxy-apii (the account has 6 apps)"},
		}},
		{"ambiguous Droplet name", basePolicy + "    - droplet: worker\n", baseRules(), []want{
			{"error", "unresolved", "droplet:worker", "droplet: worker (p.yaml:9): 2 Droplets are named worker (ids 549200001, 549200002): use the id"},
		}},
		{"duplicate rule", basePolicy, append(baseRules(), doapi.Rule{UUID: "u-x", Type: "droplet", Value: "549107286"}), []want{
			{"warning", "duplicate", "droplet:549107286", "droplet 549107286 (oxy-api-backend) appears more than once; apply keeps one"},
		}},
		{"duplicate policy entry", basePolicy + "    - droplet: 549107286\n", baseRules(), []want{
			{"warning", "duplicate", "droplet:549107286", "droplet: oxy-api-backend (p.yaml:3) is declared again at p.yaml:9"},
		}},
		{"declared public IP", basePolicy + "    - ip: 203.0.113.7\n", append(baseRules(), doapi.Rule{Type: "ip_addr", Value: "203.0.113.7/32"}), []want{
			{"warning", "public", "ip_addr:203.0.113.7/32", "203.0.113.7/32 is a public address, declared at p.yaml:9; prefer a Droplet, app or VPC rule"},
		}},
		{"declared tag and cluster", basePolicy + "    - tag: oxy-workers\n    - k8s: " + k8sID + "\n",
			append(baseRules(), doapi.Rule{Type: "k8s", Value: k8sID}, doapi.Rule{Type: "tag", Value: "oxy-workers"}), nil},
		{"empty firewall", basePolicy, []doapi.Rule{}, []want{
			{"error", "missing", "droplet:549107286", "Droplet oxy-api-backend (549107286) is declared at p.yaml:3 but has no rule"},
			{"error", "missing", "app:" + appID(1), "app oxy-api (" + appID(1) + ") is declared at p.yaml:4 but has no rule"},
			{"error", "missing", "app:" + appID(2), "app mention (" + appID(2) + ") is declared at p.yaml:5 but has no rule"},
			{"error", "missing", "app:" + appID(3), "app homiio (" + appID(3) + ") is declared at p.yaml:6 but has no rule"},
			{"error", "missing", "app:" + appID(4), "app alia (" + appID(4) + ") is declared at p.yaml:7 but has no rule"},
			{"error", "missing", "app:" + appID(5), "app allo (" + appID(5) + ") is declared at p.yaml:8 but has no rule"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fw := mustParse(t, tc.policy)
			rep := Audit(tc.rules, Resolve(fw.Allow, inv), inv)
			var got []want
			for _, f := range rep.Findings {
				got = append(got, want{f.Severity, f.Kind, f.Rule, f.Message})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("findings:\n%s\nwant\n%s", fmtWants(got), fmtWants(tc.want))
			}
			wantOK := true
			for _, w := range tc.want {
				if w.sev == "error" {
					wantOK = false
				}
			}
			if rep.OK != wantOK || (rep.Errors() == 0) != wantOK {
				t.Fatalf("ok %v, want %v", rep.OK, wantOK)
			}
			if len(rep.Rules) != len(tc.rules) || rep.Findings == nil {
				t.Fatalf("rules %d, findings nil %v", len(rep.Rules), rep.Findings == nil)
			}
			for _, f := range rep.Findings {
				if strings.Contains(f.Message, "\n") {
					t.Fatalf("multi-line message %q", f.Message)
				}
			}
		})
	}
}

func fmtWants(ws []want) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "  %s %s %s %q\n", w.sev, w.kind, w.rule, w.msg)
	}
	return b.String()
}

func TestDescribe(t *testing.T) {
	inv := inventory()
	rules := append(baseRules()[:2],
		doapi.Rule{Type: "k8s", Value: k8sID}, doapi.Rule{Type: "k8s", Value: goneK8s},
		doapi.Rule{Type: "tag", Value: "oxy-workers"}, doapi.Rule{Type: "tag", Value: "gone-tag"},
		doapi.Rule{Type: "ip_addr", Value: "0.0.0.0/0"}, doapi.Rule{Type: "ip_addr", Value: "10.0.0.1"},
		doapi.Rule{Type: "ip_addr", Value: "203.0.113.7"}, doapi.Rule{Type: "droplet", Value: "1"})
	var got []string
	for _, ri := range Describe(rules, inv) {
		got = append(got, fmt.Sprintf("%s|%s|%v|%v|%s", ri.Type, ri.Name, ri.Exists, ri.Public, ri.Detail))
	}
	want := []string{
		"droplet|oxy-api-backend|true|false|Droplet oxy-api-backend (146.190.20.41, private 10.110.0.5)",
		"app|oxy-api|true|false|app oxy-api",
		"k8s|k8s-ams3-oxy|true|false|Kubernetes cluster k8s-ams3-oxy (running)",
		"k8s||false|false|Kubernetes cluster " + goneK8s + " (not found)",
		"tag|oxy-workers|true|false|tag oxy-workers (5 Droplets)",
		"tag||false|false|tag gone-tag (no such tag)",
		"ip_addr|0.0.0.0/0|true|true|IP 0.0.0.0/0 (PUBLIC: every address)",
		"ip_addr|10.0.0.1|true|false|IP 10.0.0.1 (private)",
		"ip_addr|203.0.113.7|true|true|IP 203.0.113.7 (PUBLIC)",
		"droplet||false|false|Droplet 1 (not found)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ri := Describe(baseRules()[:1], inv)[0]
	if ri.CreatedAt != "2025-03-02T11:15:00Z" || ri.Description != "oxy-api-backend (production API)" || ri.UUID != "u-d" {
		t.Fatalf("%+v", ri)
	}
	// Lists not loaded (not needed): nothing is called stale.
	if ri := Describe([]doapi.Rule{{Type: "droplet", Value: "5"}}, &doapi.Inventory{})[0]; !ri.Exists {
		t.Fatal("unknown without an inventory must not read as gone")
	}
}

func TestMakePlan(t *testing.T) {
	inv := inventory()
	fw := mustParse(t, basePolicy+"    - ip: 203.0.113.7\n")
	actual := append(without(baseRules(), appID(5)), // allo missing
		doapi.Rule{UUID: "u-ip", Type: "ip_addr", Value: "198.51.100.4", Description: "someone's laptop"},
		doapi.Rule{UUID: "u-dup", Type: "droplet", Value: "549107286", Description: "again"},
		doapi.Rule{UUID: "u-stale", Type: "droplet", Value: "549100099"},
		doapi.Rule{UUID: "u-ip2", Type: "ip_addr", Value: "203.0.113.7/32", Description: "office"},
	)
	p, err := MakePlan(fw, Resolve(fw.Allow, inv), actual, inv)
	if err != nil {
		t.Fatal(err)
	}
	var adds, removes []string
	for _, c := range p.Add {
		adds = append(adds, fmt.Sprintf("%s %s %s", RuleString(c.Rule), c.Name, c.Where))
	}
	for _, c := range p.Remove {
		removes = append(removes, fmt.Sprintf("%s %s %s %s", RuleString(c.Rule), c.Rule.UUID, c.Name, c.Reason))
	}
	if !reflect.DeepEqual(adds, []string{"app:" + appID(5) + " allo p.yaml:8"}) {
		t.Fatalf("adds %q", adds)
	}
	if !reflect.DeepEqual(removes, []string{
		"ip_addr:198.51.100.4 u-ip 198.51.100.4 not in the policy",
		"droplet:549107286 u-dup oxy-api-backend duplicate",
		"droplet:549100099 u-stale  not in the policy",
	}) {
		t.Fatalf("removes %q", removes)
	}
	want := []doapi.Rule{
		{Type: "droplet", Value: "549107286", Description: "oxy-api-backend (production API)"},
		{Type: "app", Value: appID(1)}, {Type: "app", Value: appID(2)}, {Type: "app", Value: appID(3)}, {Type: "app", Value: appID(4)},
		{Type: "ip_addr", Value: "203.0.113.7/32", Description: "office"},
		{Type: "app", Value: appID(5)},
	}
	if !reflect.DeepEqual(p.Final, want) {
		t.Fatalf("final:\n%+v\nwant\n%+v", p.Final, want)
	}
	if len(p.Keep) != 6 || p.Empty() {
		t.Fatalf("keep %d", len(p.Keep))
	}
	if diffs := Verify(p.Final, p.Final); len(diffs) != 0 {
		t.Fatalf("verify same: %v", diffs)
	}

	// Already equal, whatever the uuids: an empty plan.
	clean := mustParse(t, basePolicy)
	same, err := MakePlan(clean, Resolve(clean.Allow, inv), baseRules(), inv)
	if err != nil || !same.Empty() || len(same.Final) != 6 {
		t.Fatalf("clean: %v %+v", err, same)
	}
}

func TestMakePlanRefuses(t *testing.T) {
	inv := inventory()
	for _, tc := range []struct{ name, policy, want string }{
		{"empty", "firewall:\n  allow: []\n", "firewall.allow is empty"},
		{"unresolved", basePolicy + "    - app: oxy-apii\n    - droplet: worker\n",
			"refusing to apply: 2 policy entries did not resolve: p.yaml:9: app: oxy-apii: no app named oxy-apii (the account has 6 apps); p.yaml:10: droplet: worker: 2 Droplets"},
		{"too wide", basePolicy + "    - ip: 0.0.0.0/0\n", "p.yaml:9: ip 0.0.0.0/0 admits every address; a policy may not"},
	} {
		fw := mustParse(t, tc.policy)
		_, err := MakePlan(fw, Resolve(fw.Allow, inv), baseRules(), inv)
		if code, kind := apperr.Classify(err); code != 2 || kind != "config" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// More than 100 rules once kept and added are counted.
	var b strings.Builder
	b.WriteString("firewall:\n  allow:\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "    - ip: 10.0.%d.%d\n", i/200, i%200+1)
	}
	fw := mustParse(t, b.String())
	_, err := MakePlan(fw, Resolve(fw.Allow, inv), nil, inv)
	if err != nil {
		t.Fatalf("100 rules: %v", err)
	}
	fw.Allow = append(fw.Allow, Entry{Kind: KindIP, Value: "10.9.9.9"})
	if _, err := MakePlan(fw, Resolve(fw.Allow, inv), nil, inv); err == nil {
		t.Fatal("101 rules accepted")
	}
}

func TestVerify(t *testing.T) {
	final := []doapi.Rule{{Type: "droplet", Value: "1", Description: "d"}, {Type: "ip_addr", Value: "10.0.0.1"}}
	after := []doapi.Rule{
		{UUID: "x", Type: "droplet", Value: "1", Description: ""},
		{UUID: "y", Type: "ip_addr", Value: "10.0.0.1/32"},
		{UUID: "z", Type: "tag", Value: "web"},
		{UUID: "w", Type: "tag", Value: "web"},
	}
	got := Verify(final, after)
	want := []string{`duplicate rule tag:web`, `rule droplet:1 has description "", want "d"`, `unexpected rule tag:web`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q", got)
	}
	if got := Verify(final, after[:1]); !reflect.DeepEqual(got, []string{`missing rule ip_addr:10.0.0.1`, `rule droplet:1 has description "", want "d"`}) {
		t.Fatalf("%q", got)
	}
}
