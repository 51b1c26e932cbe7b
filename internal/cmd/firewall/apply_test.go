package firewall

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/backup"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func TestNewCmdApply(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		check   func(o *applyOptions) bool
		wantErr bool
	}{
		{args: nil, check: func(o *applyOptions) bool { return !o.DryRun && !o.Yes && o.PolicyFile == "" }},
		{args: []string{"--dry-run"}, check: func(o *applyOptions) bool { return o.DryRun && !o.Yes }},
		{args: []string{"--yes", "--policy", "fw.yaml"}, check: func(o *applyOptions) bool { return o.Yes && o.PolicyFile == "fw.yaml" }},
		{args: []string{"-y"}, check: func(o *applyOptions) bool { return o.Yes }},
		{args: []string{"--policy", " "}, wantErr: true},
		{args: []string{"fw.yaml"}, wantErr: true},
		{args: []string{"--force"}, wantErr: true},
		{args: []string{"--yes=maybe"}, wantErr: true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got *applyOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdApply(f, func(_ context.Context, o *applyOptions) error { got = o; return nil })
			}, tc.args)
			if tc.wantErr {
				if !clitest.IsUsage(err) || got != nil {
					t.Fatalf("err = %v (run called: %v), want a UsageError", err, got != nil)
				}
				return
			}
			if err != nil || got == nil || !tc.check(got) {
				t.Fatalf("err %v, opts %+v", err, got)
			}
		})
	}
}

// drift makes the stand-in differ from the policy: allo's rule is gone, the
// internet is allowed (with a description), and the Droplet appears twice.
func drift(e *env) {
	rules := without(dostub.DesiredRules(), dostub.AppID("allo"))
	rules = append(rules,
		dostub.Rule{Type: "ip_addr", Value: "0.0.0.0/0", Description: "temporary debugging"},
		dostub.Rule{Type: "droplet", Value: "549107286", Description: "again"},
	)
	e.stub.SetRules(dostub.OxyClusterID, rules)
}

const planText = `Plan for the firewall of db-valkey-ams3-04785 (Valkey): 7 rules now, 6 after
  + app 91e3c6d8-eacb-5d17-8593-9a11eee3f2b0 (allo)  declared at config.yaml:8
  - ip_addr 0.0.0.0/0  not in the policy, description "temporary debugging"
  - droplet 549107286 (oxy-api-backend)  duplicate, description "again"
  = 5 rules kept as they are
`

func TestApplyRun(t *testing.T) {
	ctx := context.Background()

	t.Run("converges, one PUT, descriptions kept, then audit is clean", func(t *testing.T) {
		e := newEnv(t)
		drift(e)
		noErr(t, applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, Yes: true}))
		want := planText + "ok applied: 1 added, 2 removed, 5 kept; read back 6 rules matching the policy\n"
		if e.out.String() != want {
			t.Fatalf("stdout:\n%s\nwant\n%s", e.out, want)
		}
		if e.errOut.String() != e.backupLine(7) {
			t.Fatalf("stderr: %q", e.errOut)
		}
		puts := e.stub.Puts()
		if len(puts) != 1 {
			t.Fatalf("%d PUTs", len(puts))
		}
		var body struct {
			Rules []map[string]string `json:"rules"`
		}
		if err := json.Unmarshal(puts[0].Body, &body); err != nil {
			t.Fatal(err)
		}
		wantBody := []map[string]string{{"type": "droplet", "value": "549107286", "description": "oxy-api-backend (production API)"}}
		for _, n := range []string{"oxy-api", "mention", "homiio", "alia", "allo"} {
			wantBody = append(wantBody, map[string]string{"type": "app", "value": dostub.AppID(n)})
		}
		if !reflect.DeepEqual(body.Rules, wantBody) {
			t.Fatalf("PUT body %s", puts[0].Body)
		}
		after := e.stub.Rules(dostub.OxyClusterID)
		if after[0].Description != "oxy-api-backend (production API)" || after[0].UUID != dostub.UUIDFor("rule:droplet") {
			t.Fatalf("the kept rule lost its description or uuid: %+v", after[0])
		}
		e.reset()
		if err := auditRun(ctx, &auditOptions{clusterOptions: e.c, Format: output.JSON}); err != nil {
			t.Fatalf("audit after apply: %v\n%s", err, e.out)
		}
		if !strings.Contains(e.out.String(), `"findings": []`) {
			t.Fatalf("audit after apply:\n%s", e.out)
		}
	})

	t.Run("json: one document on stdout, the plan on stderr", func(t *testing.T) {
		e := newEnv(t)
		drift(e)
		noErr(t, applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.JSON, Yes: true}))
		if e.errOut.String() != planText+e.backupLine(7) {
			t.Fatalf("stderr:\n%s", e.errOut)
		}
		var doc struct {
			Backup  string
			Cluster map[string]string
			DryRun  bool `json:"dry_run"`
			Changed bool
			Add     []map[string]string
			Remove  []map[string]string
			Kept    int
			Rules   []map[string]any
		}
		dec := json.NewDecoder(strings.NewReader(e.out.String()))
		if err := dec.Decode(&doc); err != nil || dec.More() {
			t.Fatalf("not one JSON document: %v\n%s", err, e.out)
		}
		if doc.DryRun || !doc.Changed || doc.Kept != 5 || len(doc.Add) != 1 || len(doc.Remove) != 2 || len(doc.Rules) != 6 ||
			doc.Add[0]["name"] != "allo" || doc.Add[0]["where"] != "config.yaml:8" ||
			doc.Remove[0]["value"] != "0.0.0.0/0" || doc.Remove[0]["reason"] != "not in the policy" || doc.Remove[0]["uuid"] == "" ||
			doc.Remove[1]["reason"] != "duplicate" || doc.Backup != e.backupFiles()[0] {
			t.Fatalf("%+v", doc)
		}
	})

	t.Run("dry run makes no PUT", func(t *testing.T) {
		e := newEnv(t)
		drift(e)
		before := e.stub.Rules(dostub.OxyClusterID)
		noErr(t, applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, DryRun: true}))
		if want := planText + "dry run: nothing was changed\n"; e.out.String() != want {
			t.Fatalf("stdout:\n%s", e.out)
		}
		if len(e.stub.Puts()) != 0 || !reflect.DeepEqual(before, e.stub.Rules(dostub.OxyClusterID)) {
			t.Fatal("dry run changed the firewall")
		}
		e.reset()
		noErr(t, applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.JSON, DryRun: true}))
		if !strings.Contains(e.out.String(), `"dry_run": true`) || !strings.Contains(e.out.String(), `"changed": false`) || len(e.stub.Puts()) != 0 {
			t.Fatalf("%s", e.out)
		}
	})

	t.Run("already equal: nothing to do", func(t *testing.T) {
		e := newEnv(t)
		noErr(t, applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text}))
		want := "Plan for the firewall of db-valkey-ams3-04785 (Valkey): 6 rules now, 6 after\n  = 6 rules kept as they are\nok nothing to do: the firewall already matches the policy\n"
		if e.out.String() != want || len(e.stub.Puts()) != 0 {
			t.Fatalf("stdout:\n%s", e.out)
		}
	})

	t.Run("no terminal and no --yes: refused, nothing changed", func(t *testing.T) {
		e := newEnv(t)
		drift(e)
		err := applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text})
		if !clitest.IsUsage(err) || exitCode(err) != 2 || !strings.Contains(err.Error(), "pass --yes") {
			t.Fatalf("%v", err)
		}
		if e.out.String() != planText || len(e.stub.Puts()) != 0 {
			t.Fatalf("stdout %q, %d PUTs", e.out, len(e.stub.Puts()))
		}
	})

	t.Run("terminal: yes applies, no cancels", func(t *testing.T) {
		e := newEnv(t)
		e.tty(true)
		drift(e)
		e.in.WriteString("n\n")
		err := applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text})
		if !clitest.IsUsage(err) || !strings.Contains(err.Error(), "cancelled") || len(e.stub.Puts()) != 0 {
			t.Fatalf("%v, %d PUTs", err, len(e.stub.Puts()))
		}
		if e.errOut.String() != "Replace the firewall of db-valkey-ams3-04785 with these 6 rules? [y/N]: " {
			t.Fatalf("prompt %q", e.errOut)
		}
		e.reset()
		e.in.WriteString("y\n")
		noErr(t, applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text}))
		if len(e.stub.Puts()) != 1 || !strings.Contains(e.out.String(), "applied: 1 added, 2 removed") {
			t.Fatalf("%d PUTs\n%s", len(e.stub.Puts()), e.out)
		}
	})

	t.Run("refusals: empty policy, unresolved entry, too wide, IPv6", func(t *testing.T) {
		e := newEnv(t)
		drift(e)
		for _, tc := range []struct{ name, policy, want string }{
			{"empty", "firewall:\n  allow: []\n", "firewall.allow is empty"},
			{"no allow", "firewall:\n", "firewall.allow is empty"},
			{"unresolved", oxyPolicy + "    - droplet: worker\n    - app: nope\n",
				"refusing to apply: 2 policy entries did not resolve: config.yaml:9: droplet: worker: 2 Droplets are named worker"},
			{"too wide", oxyPolicy + "    - ip: 0.0.0.0/0\n", "config.yaml:9: ip 0.0.0.0/0 admits every address"},
			{"ipv6", oxyPolicy + "    - ip: 2001:db8::5\n", "config.yaml:9: ip \"2001:db8::5\" is IPv6"},
		} {
			e.reset()
			e.policy = tc.policy
			err := applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, Yes: true})
			if code, kind := exitCodeKind(err); code != 2 || kind != "config" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s: %v (%d %s)", tc.name, err, code, kind)
			}
			if len(e.stub.Puts()) != 0 || e.out.Len() != 0 {
				t.Fatalf("%s: %d PUTs, stdout %q", tc.name, len(e.stub.Puts()), e.out)
			}
		}
	})

	t.Run("a 429 during apply is retried", func(t *testing.T) {
		e := newEnv(t)
		drift(e)
		e.stub.Inject(dostub.Fault{Op: "databases_update_firewall_rules", Status: 429, Headers: map[string]string{"retry-after": "0"}, Times: 2})
		noErr(t, applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, Yes: true}))
		puts := e.stub.Puts()
		if len(puts) != 3 || puts[0].Status != 429 || puts[2].Status != 204 || string(puts[0].Body) != string(puts[2].Body) {
			t.Fatalf("PUTs: %+v", puts)
		}
		e.reset()
		if err := auditRun(ctx, &auditOptions{clusterOptions: e.c, Format: output.Text}); err != nil {
			t.Fatalf("audit after a retried apply: %v\n%s", err, e.out)
		}
	})

	t.Run("a persistent 500 is a runtime error and changes nothing", func(t *testing.T) {
		e := newEnv(t)
		drift(e)
		before := e.stub.Rules(dostub.OxyClusterID)
		e.stub.Inject(dostub.Fault{Op: "databases_update_firewall_rules", Status: 500})
		err := applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, Yes: true})
		if code, kind := exitCodeKind(err); code != 3 || kind != "api" || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "after 4 attempts") {
			t.Fatalf("%v (%d %s)", err, code, kind)
		}
		if !reflect.DeepEqual(before, e.stub.Rules(dostub.OxyClusterID)) {
			t.Fatal("rules changed")
		}
		if strings.Contains(e.out.String(), "applied") {
			t.Fatalf("stdout claims success:\n%s", e.out)
		}
		// The backup stays, private, and the error says where it is.
		files := e.backupFiles()
		if len(files) != 1 || !strings.Contains(err.Error(), "the previous state is saved in "+files[0]) ||
			apperr.FieldsOf(err)["backup"] != files[0] {
			t.Fatalf("%v %v", files, err)
		}
		for p, mode := range map[string]os.FileMode{files[0]: 0o600, filepath.Dir(files[0]): 0o700, e.backups: 0o700} {
			if st, err := os.Stat(p); err != nil || st.Mode().Perm() != mode {
				t.Fatalf("%s: %v %v", p, st.Mode(), err)
			}
		}
		if b, _ := backup.Load(files[0], backup.Firewall); b == nil || !sameRules(b.Rules, before) {
			t.Fatalf("the backup does not hold the rules as they were")
		}
	})

	t.Run("a firewall that reads back differently is a runtime error", func(t *testing.T) {
		e := newEnv(t)
		drift(e)
		e.wrap = func(a API) API { return &lossyReadBack{API: a} }
		err := applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, Yes: true})
		if code, kind := exitCodeKind(err); code != 3 || kind != "api" ||
			err.Error() != `the firewall was written but reads back differently: rule droplet:549107286 has description "", want "oxy-api-backend (production API)"`+
				" (the previous state is saved in "+e.backupFiles()[0]+"; `oxyctl firewall restore` of that file brings it back)" {
			t.Fatalf("%v (%d %s)", err, code, kind)
		}
	})

	t.Run("a read-back that fails is reported as such", func(t *testing.T) {
		e := newEnv(t)
		drift(e)
		// The GETs before the PUT succeed; the one after it is malformed.
		e.wrap = func(a API) API { return &failAfterPut{API: a, stub: e.stub} }
		err := applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, Yes: true})
		if code, _ := exitCodeKind(err); code != 3 || !strings.HasPrefix(err.Error(), "the firewall was written but could not be read back: ") {
			t.Fatalf("%v", err)
		}
	})
}

// lossyReadBack drops descriptions when reading the firewall after a PUT.
type lossyReadBack struct {
	API
	put bool
}

func (l *lossyReadBack) PutFirewall(ctx context.Context, id string, rules []doapi.Rule) error {
	l.put = true
	return l.API.PutFirewall(ctx, id, rules)
}

func (l *lossyReadBack) Firewall(ctx context.Context, id string) ([]doapi.Rule, error) {
	rules, err := l.API.Firewall(ctx, id)
	if l.put {
		for i := range rules {
			rules[i].Description = ""
		}
	}
	return rules, err
}

// failAfterPut makes the stand-in answer the read-back with a body that is not JSON.
type failAfterPut struct {
	API
	stub *dostub.Server
}

func (f *failAfterPut) PutFirewall(ctx context.Context, id string, rules []doapi.Rule) error {
	err := f.API.PutFirewall(ctx, id, rules)
	f.stub.Inject(dostub.Fault{Op: "databases_list_firewall_rules", Malformed: true, Times: 1})
	return err
}
