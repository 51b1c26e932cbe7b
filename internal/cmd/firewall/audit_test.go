package firewall

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func TestNewCmdAudit(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		policy  string
		wantErr bool
	}{
		{args: nil},
		{args: []string{"--policy", "deploy/fw.yaml"}, policy: "deploy/fw.yaml"},
		{args: []string{"--policy=p.yaml"}, policy: "p.yaml"},
		{args: []string{"--policy", ""}, wantErr: true},
		{args: []string{"--policy"}, wantErr: true},
		{args: []string{"p.yaml"}, wantErr: true},
		{args: []string{"--dry-run"}, wantErr: true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got *auditOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdAudit(f, func(_ context.Context, o *auditOptions) error { got = o; return nil })
			}, tc.args)
			if tc.wantErr {
				if !clitest.IsUsage(err) || got != nil {
					t.Fatalf("err = %v (run called: %v), want a UsageError", err, got != nil)
				}
				return
			}
			if err != nil || got == nil || got.PolicyFile != tc.policy {
				t.Fatalf("err %v, opts %+v", err, got)
			}
		})
	}
}

type finding struct{ Severity, Kind, Rule, Message string }

type auditDoc struct {
	Cluster  map[string]string `json:"cluster"`
	OK       bool              `json:"ok"`
	Rules    []map[string]any  `json:"rules"`
	Findings []finding         `json:"findings"`
}

func without(rules []dostub.Rule, value string) []dostub.Rule {
	var out []dostub.Rule
	for _, r := range rules {
		if r.Value != value {
			out = append(out, r)
		}
	}
	return out
}

// Every drift scenario: its findings in JSON, its lines in text, its exit code.
func TestAuditRun(t *testing.T) {
	allo := dostub.AppID("allo")
	for _, tc := range []struct {
		name   string
		setup  func(e *env)
		want   []finding
		code   int
		textIn []string // lines the text output contains
	}{
		{
			name: "clean account", code: 0,
			textIn: []string{"ok the firewall matches the policy"},
		},
		{
			name:  "missing app",
			setup: func(e *env) { e.stub.SetRules(dostub.OxyClusterID, without(dostub.DesiredRules(), allo)) },
			want: []finding{{"error", "missing", "app:" + allo,
				"app allo (" + allo + ") is declared at config.yaml:8 but has no rule"}},
			code:   1,
			textIn: []string{"error     missing  app:" + allo, "FAIL 1 error, 0 warnings: the firewall does not match the policy"},
		},
		{
			name:  "extra IP",
			setup: func(e *env) { e.stub.AddRule(dostub.OxyClusterID, dostub.Rule{Type: "ip_addr", Value: "203.0.113.9"}) },
			want: []finding{
				{"error", "public", "ip_addr:203.0.113.9", "203.0.113.9 is a public address that is not in the policy"},
				{"error", "unexpected", "ip_addr:203.0.113.9", "ip_addr 203.0.113.9 is not in the policy"},
			},
			code:   1,
			textIn: []string{"ip_addr  203.0.113.9", "IP 203.0.113.9 (PUBLIC)", "FAIL 2 errors, 0 warnings"},
		},
		{
			name: "open to the internet",
			setup: func(e *env) {
				e.stub.AddRule(dostub.OxyClusterID, dostub.Rule{Type: "ip_addr", Value: "0.0.0.0/0", Description: "temporary debugging"})
			},
			want: []finding{
				{"error", "public", "ip_addr:0.0.0.0/0", "0.0.0.0/0 admits every address on the internet (a policy may not declare it: apply removes it)"},
			},
			code: 1,
			textIn: []string{
				"ip_addr  0.0.0.0/0                             IP 0.0.0.0/0 (PUBLIC: every address)                         temporary debugging               no",
				"error     public  ip_addr:0.0.0.0/0  0.0.0.0/0 admits every address on the internet (a policy may not declare it: apply removes it)",
			},
		},
		{
			name:  "stale Droplet id",
			setup: func(e *env) { e.stub.RemoveDroplet(dostub.OxyDropletID) },
			want: []finding{
				{"error", "unresolved", "droplet:oxy-api-backend", "droplet: oxy-api-backend (config.yaml:3): no Droplet named oxy-api-backend (the account has 29 Droplets)"},
				{"error", "stale", "droplet:549107286", "Droplet 549107286 no longer exists"},
			},
			code:   1,
			textIn: []string{"Droplet 549107286 (not found)"},
		},
		{
			name: "policy name matching nothing",
			setup: func(e *env) {
				e.policy = strings.Replace(oxyPolicy, "app: allo", "app: alloo", 1)
			},
			want: []finding{
				{"error", "unresolved", "app:alloo", "app: alloo (config.yaml:8): no app named alloo (the account has 25 apps)"},
				{"error", "unexpected", "app:" + allo, "app " + allo + " (allo) is not in the policy"},
			},
			code: 1,
		},
		{
			name:  "duplicate rule",
			setup: func(e *env) { e.stub.AddRule(dostub.OxyClusterID, dostub.Rule{Type: "droplet", Value: "549107286"}) },
			want: []finding{{"warning", "duplicate", "droplet:549107286",
				"droplet 549107286 (oxy-api-backend) appears more than once; apply keeps one"}},
			code:   0,
			textIn: []string{"warn 0 errors, 1 warning"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			// JSON
			err := auditRun(context.Background(), &auditOptions{clusterOptions: e.c, Format: output.JSON})
			if got := exitCode(err); got != tc.code {
				t.Fatalf("exit %d (%v), want %d", got, err, tc.code)
			}
			if err != nil && err.Error() != "" {
				t.Fatalf("a findings error carries a message: %q", err)
			}
			var doc auditDoc
			if err := json.Unmarshal(e.out.Bytes(), &doc); err != nil {
				t.Fatalf("%v\n%s", err, e.out)
			}
			if doc.Findings == nil {
				t.Fatal(`"findings" is null`)
			}
			if len(doc.Findings) == 0 {
				doc.Findings = nil
			}
			if !reflect.DeepEqual(doc.Findings, tc.want) {
				t.Fatalf("findings:\n%+v\nwant\n%+v", doc.Findings, tc.want)
			}
			if doc.OK != (tc.code == 0) || doc.Cluster["id"] != dostub.OxyClusterID || doc.Cluster["name"] != dostub.OxyClusterName {
				t.Fatalf("ok %v cluster %v", doc.OK, doc.Cluster)
			}
			var top map[string]json.RawMessage
			_ = json.Unmarshal(e.out.Bytes(), &top)
			if len(top) != 4 {
				t.Fatalf("top-level keys: %d, want exactly cluster, ok, rules, findings", len(top))
			}
			// Text
			e.reset()
			err = auditRun(context.Background(), &auditOptions{clusterOptions: e.c, Format: output.Text})
			if got := exitCode(err); got != tc.code {
				t.Fatalf("text: exit %d, want %d", got, tc.code)
			}
			text := e.out.String()
			for _, f := range tc.want {
				if !strings.Contains(text, f.Message) {
					t.Errorf("text lacks %q", f.Message)
				}
			}
			for _, l := range tc.textIn {
				if !strings.Contains(text, l) {
					t.Errorf("text lacks %q", l)
				}
			}
			if t.Failed() {
				t.Logf("text:\n%s", text)
			}
			if e.errOut.Len() != 0 {
				t.Fatalf("stderr: %q", e.errOut)
			}
			if n := len(e.stub.Puts()); n != 0 {
				t.Fatalf("audit made %d PUTs", n)
			}
		})
	}
}

const auditOpenText = `Firewall of db-valkey-ams3-04785 (65b50240-6fca-5a08-b88b-5386644df3ec): 7 rules, policy %s (6 entries)
TYPE     VALUE                                 RESOLVES TO                                                  DESCRIPTION                       IN POLICY
droplet  549107286                             Droplet oxy-api-backend (146.190.20.41, private 10.110.0.5)  oxy-api-backend (production API)  yes
app      78cd073d-af87-56c5-a762-4f5ece433361  app oxy-api                                                  -                                 yes
app      fbede3aa-9f6e-526d-9d15-e1698b81c115  app mention                                                  -                                 yes
app      2187c353-cddc-5815-89c6-44ec89faa300  app homiio                                                   -                                 yes
app      f1a7b9ed-5251-5a96-a88d-447e14db53d1  app alia                                                     -                                 yes
app      91e3c6d8-eacb-5d17-8593-9a11eee3f2b0  app allo                                                     -                                 yes
ip_addr  0.0.0.0/0                             IP 0.0.0.0/0 (PUBLIC: every address)                         temporary debugging               no

SEVERITY  KIND    RULE               MESSAGE
error     public  ip_addr:0.0.0.0/0  0.0.0.0/0 admits every address on the internet (a policy may not declare it: apply removes it)
FAIL 1 error, 0 warnings: the firewall does not match the policy (` + "`oxyctl firewall apply`" + ` shows the fix)
`

func TestAuditRunPolicyFile(t *testing.T) {
	e := newEnv(t)
	e.policy = "" // the context has none: --policy is the only source
	e.stub.AddRule(dostub.OxyClusterID, dostub.Rule{Type: "ip_addr", Value: "0.0.0.0/0", Description: "temporary debugging"})
	p := writePolicy(t, oxyPolicy)
	err := auditRun(context.Background(), &auditOptions{clusterOptions: e.c, Format: output.Text, PolicyFile: p})
	if exitCode(err) != 1 {
		t.Fatalf("%v", err)
	}
	if want := fmt.Sprintf(auditOpenText, p); e.out.String() != want {
		t.Fatalf("stdout:\n%s\nwant\n%s", e.out, want)
	}

	for _, tc := range []struct {
		name, policy, file, want string
	}{
		{"no policy at all", "", "", "no firewall policy"},
		{"empty allow list", "firewall:\n  allow: []\n", "", "firewall.allow is empty"},
		{"unknown key", "firewall:\n  allow:\n    - vpc: x\n", "", `:3: unknown key "vpc"`},
		{"IPv6", "firewall:\n  allow:\n    - ip: 2001:db8::1\n", "", "is IPv6"},
		{"missing file", "", "/nonexistent/policy.yaml", "cannot read policy file /nonexistent/policy.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.reset()
			e.stub.ResetRequests()
			file := tc.file
			if tc.policy != "" {
				file = writePolicy(t, tc.policy)
			}
			err := auditRun(context.Background(), &auditOptions{clusterOptions: e.c, Format: output.JSON, PolicyFile: file})
			if code, kind := exitCodeKind(err); code != 2 || kind != "config" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v (%d %s)", err, code, kind)
			}
			if e.out.Len() != 0 || len(e.stub.Requests()) != 0 {
				t.Fatalf("stdout %q, %d requests: a bad policy is refused before any request", e.out, len(e.stub.Requests()))
			}
		})
	}
}

func TestAuditRunAPIErrors(t *testing.T) {
	e := newEnv(t)
	e.stub.Inject(dostub.Fault{Op: "apps_list", Status: 500})
	err := auditRun(context.Background(), &auditOptions{clusterOptions: e.c, Format: output.JSON})
	if code, kind := exitCodeKind(err); code != 3 || kind != "api" || !strings.Contains(err.Error(), "list apps") {
		t.Fatalf("%v", err)
	}
	if e.out.Len() != 0 {
		t.Fatalf("stdout on error: %q", e.out)
	}
	// A listing cut short must not make Droplets look stale.
	e.stub.ClearFaults()
	e.stub.Inject(dostub.Fault{Op: "droplets_list", EmptyPage: true})
	err = auditRun(context.Background(), &auditOptions{clusterOptions: e.c, Format: output.JSON})
	if code, _ := exitCodeKind(err); code != 3 || !strings.Contains(err.Error(), "got 0 of 30") {
		t.Fatalf("%v", err)
	}
}
