package firewall

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/backup"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func TestNewCmdAllowRevokeRestore(t *testing.T) {
	for _, tc := range []struct {
		verb string
		args []string
		ok   bool
	}{
		{"allow", []string{"--ip", "203.0.113.9/32", "--for", "30m", "--reason", "ci"}, true},
		{"allow", []string{"--droplet", "x", "--yes"}, true},
		{"allow", nil, false},
		{"allow", []string{"--ip", "1.2.3.4", "--app", "x"}, false},
		{"allow", []string{"--ip", "1.2.3.4", "--for", "-1m"}, false},
		{"allow", []string{"--uuid", "x"}, false},
		{"allow", []string{"--ip", "1.2.3.4", "extra"}, false},
		{"revoke", []string{"--uuid", "x"}, true},
		{"revoke", []string{"--ip", "1.2.3.4"}, true},
		{"revoke", []string{"--ip", "1.2.3.4", "--uuid", "x"}, false},
		{"revoke", nil, false},
		{"restore", []string{"f.json"}, true},
		{"restore", nil, false},
		{"restore", []string{"a", "b"}, false},
	} {
		called := false
		err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
			switch tc.verb {
			case "allow":
				return NewCmdAllow(f, func(context.Context, *allowOptions) error { called = true; return nil })
			case "revoke":
				return NewCmdRevoke(f, func(context.Context, *revokeOptions) error { called = true; return nil })
			}
			return NewCmdRestore(f, func(context.Context, *restoreOptions) error { called = true; return nil })
		}, tc.args)
		if tc.ok != (err == nil && called) || (err != nil && !clitest.IsUsage(err)) {
			t.Errorf("%s %v: %v (run called %v)", tc.verb, tc.args, err, called)
		}
	}
}

type putBody struct {
	Rules []map[string]string `json:"rules"`
}

func bodyOf(t *testing.T, b []byte) []map[string]string {
	t.Helper()
	var pb putBody
	if err := json.Unmarshal(b, &pb); err != nil || pb.Rules == nil {
		t.Fatalf("PUT body %s: %v", b, err)
	}
	return pb.Rules
}

func rulesAsBody(rules []dostub.Rule) []map[string]string {
	out := []map[string]string{}
	for _, r := range rules {
		m := map[string]string{"type": r.Type, "value": r.Value}
		if r.Description != "" {
			m["description"] = r.Description
		}
		out = append(out, m)
	}
	return out
}

// The day-2 flow of the issue: a temporary grant by read-modify-write, its
// backup and restore, then expiry seen by audit and removed by apply.
func TestAllowGrantRestoreExpire(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	old := e.stub.Rules(dostub.OxyClusterID)

	err := allowRun(ctx, &allowOptions{clusterOptions: e.c, Format: output.JSON, Yes: true, For: 30 * time.Minute, Reason: "ci",
		Target: target{IP: "203.0.113.9/32"}, Public: true})
	noErr(t, err)
	puts := e.stub.Puts()
	if len(puts) != 1 {
		t.Fatalf("%d PUTs", len(puts))
	}
	grant := "oxyctl grant until 2026-11-30T15:15:00Z: ci"
	want := append(rulesAsBody(old), map[string]string{"type": "ip_addr", "value": "203.0.113.9", "description": grant})
	if got := bodyOf(t, puts[0].Body); !reflect.DeepEqual(got, want) {
		t.Fatalf("PUT body\n%v\nwant\n%v", got, want)
	}
	// Read back after the PUT.
	reqs := e.stub.Requests()
	if last := reqs[len(reqs)-1]; last.Method != "GET" || last.Op != "databases_list_firewall_rules" {
		t.Fatalf("no read-back after the PUT: %+v", last)
	}
	var doc struct {
		Changed bool
		Backup  string
		Add     []map[string]string
	}
	if err := json.Unmarshal(e.out.Bytes(), &doc); err != nil || !doc.Changed || len(doc.Add) != 1 || doc.Add[0]["description"] != grant {
		t.Fatalf("%v\n%s", err, e.out)
	}
	files := e.backupFiles()
	if len(files) != 1 || doc.Backup != files[0] || !strings.Contains(e.errOut.String(), "backup: the 6 rules of db-valkey-ams3-04785 as they were are saved in "+files[0]) {
		t.Fatalf("%v %q\n%s", files, doc.Backup, e.errOut)
	}
	b, err := backup.Load(files[0], backup.Firewall)
	if err != nil || !sameRules(b.Rules, old) || b.Command != "firewall allow" {
		t.Fatalf("backup %+v %v", b, err)
	}

	// Before the expiry: audit warns "temporary", exit 0; apply changes nothing.
	e.reset()
	noErr(t, auditRun(ctx, &auditOptions{clusterOptions: e.c, Format: output.JSON}))
	if !strings.Contains(e.out.String(), `"kind": "temporary"`) || !strings.Contains(e.out.String(), `"ok": true`) {
		t.Fatalf("%s", e.out)
	}
	e.reset()
	noErr(t, applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, Yes: true}))
	if !strings.Contains(e.out.String(), "nothing to do") || len(e.stub.Puts()) != 1 {
		t.Fatalf("%s", e.out)
	}

	// restore of the backup sends exactly the old rules back.
	e.reset()
	noErr(t, restoreRun(ctx, &restoreOptions{clusterOptions: e.c, Format: output.Text, File: files[0], Yes: true}))
	puts = e.stub.Puts()
	if len(puts) != 2 || !reflect.DeepEqual(bodyOf(t, puts[1].Body), rulesAsBody(old)) {
		t.Fatalf("restore PUT %s", puts[len(puts)-1].Body)
	}
	if !strings.Contains(e.out.String(), "  - ip_addr 203.0.113.9  not in the backup") || !strings.Contains(e.out.String(), "ok restore: 0 added, 1 removed, 6 kept") {
		t.Fatalf("%s", e.out)
	}
	if len(e.backupFiles()) != 2 {
		t.Fatal("restore saved no backup of what it replaced")
	}

	// Grant again, then move the clock past the expiry.
	e.reset()
	noErr(t, allowRun(ctx, &allowOptions{clusterOptions: e.c, Format: output.Text, Yes: true, For: 30 * time.Minute, Reason: "ci",
		Target: target{IP: "203.0.113.9"}, Public: true}))
	e.now = e.now.Add(31 * time.Minute)
	e.reset()
	err = auditRun(ctx, &auditOptions{clusterOptions: e.c, Format: output.JSON})
	if exitCode(err) != 1 || !strings.Contains(e.out.String(), `"kind": "expired"`) {
		t.Fatalf("%v\n%s", err, e.out)
	}
	e.reset()
	noErr(t, applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, Yes: true}))
	puts = e.stub.Puts()
	if !reflect.DeepEqual(bodyOf(t, puts[len(puts)-1].Body), rulesAsBody(old)) {
		t.Fatalf("apply after expiry PUT %s", puts[len(puts)-1].Body)
	}
	if !strings.Contains(e.out.String(), "- ip_addr 203.0.113.9  grant expired at 2026-11-30T15:15:00Z") ||
		!strings.Contains(e.out.String(), "applied: 0 added, 1 removed, 6 kept") {
		t.Fatalf("%s", e.out)
	}
}

func TestAllowRevokeRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)

	// Public ranges without --public; 0.0.0.0/0 ever.
	for _, tc := range []struct {
		ip     string
		public bool
	}{{"0.0.0.0/0", false}, {"0.0.0.0/0", true}, {"203.0.113.9", false}, {"2001:db8::1", false}} {
		err := allowRun(ctx, &allowOptions{clusterOptions: e.c, Format: output.Text, Yes: true, Target: target{IP: tc.ip}, Public: tc.public})
		if exitCode(err) != 2 {
			t.Errorf("allow %s (public %v): %v", tc.ip, tc.public, err)
		}
	}
	if n := len(e.stub.Writes()); n != 0 {
		t.Fatalf("%d writes", n)
	}
	if len(e.stub.Requests()) != 0 {
		t.Fatal("a refused allow asked the API")
	}

	// No terminal, no --yes: the plan, then refused.
	err := allowRun(ctx, &allowOptions{clusterOptions: e.c, Format: output.Text, Target: target{IP: "10.110.0.9"}})
	if !clitest.IsUsage(err) || !strings.Contains(e.out.String(), "+ ip_addr 10.110.0.9  -") || len(e.stub.Puts()) != 0 {
		t.Fatalf("%v\n%s", err, e.out)
	}

	// revoke of the last rule.
	one := dostub.DesiredRules()[:1]
	e.stub.SetRules(dostub.OxyClusterID, one)
	e.reset()
	err = revokeRun(ctx, &revokeOptions{clusterOptions: e.c, Format: output.Text, Yes: true, Target: target{Droplet: "oxy-api-backend"}})
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "refusing to remove the last rule") || len(e.stub.Puts()) != 0 {
		t.Fatalf("%v", err)
	}
	err = revokeRun(ctx, &revokeOptions{clusterOptions: e.c, Format: output.Text, Yes: true, Target: target{UUID: one[0].UUID}})
	if exitCode(err) != 2 || len(e.stub.Puts()) != 0 {
		t.Fatalf("%v", err)
	}
	if len(e.backupFiles()) != 0 {
		t.Fatal("a refused write saved a backup")
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	rules := append(dostub.DesiredRules(), dostub.Rule{Type: "ip_addr", Value: "203.0.113.9", Description: "office"})
	e.stub.SetRules(dostub.OxyClusterID, rules)

	noErr(t, revokeRun(ctx, &revokeOptions{clusterOptions: e.c, Format: output.Text, Yes: true, Target: target{App: "mention"}}))
	puts := e.stub.Puts()
	want := rulesAsBody(append(append([]dostub.Rule{}, rules[:2]...), rules[3:]...))
	if len(puts) != 1 || !reflect.DeepEqual(bodyOf(t, puts[0].Body), want) {
		t.Fatalf("PUT %s", puts[0].Body)
	}
	if !strings.Contains(e.out.String(), "- app "+dostub.AppID("mention")+" (mention)  revoked") {
		t.Fatalf("%s", e.out)
	}
	// By uuid; a value no rule has is nothing to do.
	e.reset()
	noErr(t, revokeRun(ctx, &revokeOptions{clusterOptions: e.c, Format: output.Text, Yes: true, Target: target{UUID: e.stub.Rules(dostub.OxyClusterID)[5].UUID}}))
	if got := e.stub.Rules(dostub.OxyClusterID); len(got) != 5 || got[4].Value != dostub.AppID("allo") {
		t.Fatalf("%+v", got)
	}
	e.reset()
	noErr(t, revokeRun(ctx, &revokeOptions{clusterOptions: e.c, Format: output.Text, Yes: true, Target: target{IP: "198.51.100.1"}}))
	if !strings.Contains(e.out.String(), "nothing to do") || len(e.stub.Puts()) != 2 {
		t.Fatalf("%s", e.out)
	}
}

func TestRestoreRefusesOtherFiles(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, body := range []string{oxyPolicy, `{"format":"oxyctl-backup/1","kind":"settings","cluster":{"id":"` + dostub.OxyClusterID + `"},"settings":{"a":1}}`} {
		err := restoreRun(ctx, &restoreOptions{clusterOptions: e.c, Format: output.Text, File: writePolicy(t, body), Yes: true})
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "is not an oxyctl firewall backup") {
			t.Fatalf("%v", err)
		}
	}
	// A backup of another cluster is not written here.
	p, err := backup.Save(t.TempDir(), &backup.File{Kind: backup.Firewall, Cluster: backup.Cluster{ID: dostub.UUIDFor("db:other"), Name: "other"},
		Time: e.now, Rules: []doapi.Rule{{Type: "ip_addr", Value: "10.0.0.1"}}})
	noErr(t, err)
	err = restoreRun(ctx, &restoreOptions{clusterOptions: e.c, Format: output.Text, File: p, Yes: true})
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "is a backup of cluster other") {
		t.Fatalf("%v", err)
	}
	if len(e.stub.Writes()) != 0 {
		t.Fatal("a refused restore wrote")
	}
}

// allow of a rule that is there: nothing to do, or (with --for or --reason)
// its description replaced in place, every other rule kept.
func TestAllowExisting(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	old := e.stub.Rules(dostub.OxyClusterID)
	noErr(t, allowRun(ctx, &allowOptions{clusterOptions: e.c, Format: output.Text, Yes: true, Target: target{Droplet: "oxy-api-backend"}}))
	if !strings.Contains(e.out.String(), "ok nothing to do: droplet 549107286 (oxy-api-backend) is already a trusted source") || len(e.stub.Puts()) != 0 {
		t.Fatalf("%s", e.out)
	}
	e.reset()
	noErr(t, allowRun(ctx, &allowOptions{clusterOptions: e.c, Format: output.Text, Yes: true, Target: target{App: "mention"}, For: time.Hour, Reason: "migration"}))
	puts := e.stub.Puts()
	want := rulesAsBody(old)
	want[2]["description"] = "oxyctl grant until 2026-11-30T15:45:00Z: migration"
	if len(puts) != 1 || !reflect.DeepEqual(bodyOf(t, puts[0].Body), want) {
		t.Fatalf("%s", puts[0].Body)
	}
	if !strings.Contains(e.out.String(), `~ app `+dostub.AppID("mention")+` (mention)  description "" -> "oxyctl grant until 2026-11-30T15:45:00Z: migration"`) {
		t.Fatalf("%s", e.out)
	}
}
