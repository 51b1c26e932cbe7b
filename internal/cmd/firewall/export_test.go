package firewall

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/policy"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
)

// export → audit --policy finds nothing missing or unexpected → apply
// --dry-run plans no change (but the removal of a rule that admits nothing).
func TestExportRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.policy = ""
	rules := append(dostub.DesiredRules(),
		dostub.Rule{Type: "droplet", Value: "549200001", Description: "worker one\nsecond line"}, // a name two Droplets share: by id
		dostub.Rule{Type: "tag", Value: dostub.WorkersTag},
		dostub.Rule{Type: "k8s", Value: dostub.K8sClusterID, Description: "DOKS"},
		dostub.Rule{Type: "ip_addr", Value: "10.110.0.0/24", Description: "VPC"},
		dostub.Rule{Type: "ip_addr", Value: "203.0.113.9", Description: policy.GrantDescription(e.now.Add(time.Hour), "ci")},
	)
	e.stub.SetRules(dostub.OxyClusterID, rules)

	noErr(t, exportRun(ctx, &exportOptions{clusterOptions: e.c, Format: output.Text}))
	text := e.out.String()
	for _, want := range []string{
		"    - droplet: oxy-api-backend  # id 549107286; oxy-api-backend (production API)\n",
		"    - app: mention  # id " + dostub.AppID("mention") + "\n",
		"    - droplet: 549200001  # worker; worker one second line\n",
		"    - tag: oxy-workers\n",
		"    - k8s: " + dostub.K8sClusterID + "  # k8s-ams3-oxy; DOKS\n",
		"    - ip: 10.110.0.0/24  # VPC\n",
		"    # - ip: 203.0.113.9  # temporary grant until 2026-11-30T15:45:00Z: not part of the policy\n",
	} {
		if !strings.Contains(text, want) {
			t.Fatalf("export lacks %q:\n%s", want, text)
		}
	}
	file := writePolicy(t, text)

	// A Droplet deleted after the export: commented out by the next export.
	if !e.stub.RemoveDroplet(549100027) {
		t.Fatal("no such droplet")
	}
	e.stub.AddRule(dostub.OxyClusterID, dostub.Rule{Type: "droplet", Value: "549100027"})
	e.reset()
	noErr(t, exportRun(ctx, &exportOptions{clusterOptions: e.c, Format: output.Text}))
	if !strings.Contains(e.out.String(), "    # - droplet: 549100027  # Droplet 549100027 no longer exists, so the rule admits nothing\n") {
		t.Fatalf("%s", e.out)
	}
	file2 := writePolicy(t, e.out.String())

	for _, f := range []string{file, file2} {
		e.reset()
		err := auditRun(ctx, &auditOptions{clusterOptions: e.c, Format: output.JSON, PolicyFile: f})
		out := e.out.String()
		if strings.Contains(out, `"missing"`) || strings.Contains(out, `"unexpected"`) || strings.Contains(out, `"unresolved"`) {
			t.Fatalf("audit of the export:\n%s", out)
		}
		if exitCode(err) != 1 || !strings.Contains(out, `"stale"`) || strings.Count(out, `"severity": "error"`) != 1 {
			t.Fatalf("want only the stale rule as an error: %v\n%s", err, out)
		}
	}
	e.reset()
	noErr(t, applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, DryRun: true, PolicyFile: file2}))
	if !strings.Contains(e.out.String(), "  - droplet 549100027  not in the policy") || strings.Contains(e.out.String(), "  + ") ||
		strings.Count(e.out.String(), "  - ") != 1 {
		t.Fatalf("%s", e.out)
	}
	// Without the deleted Droplet's rule: a clean audit, and no change at all.
	e.stub.SetRules(dostub.OxyClusterID, rules)
	e.reset()
	if err := auditRun(ctx, &auditOptions{clusterOptions: e.c, Format: output.Text, PolicyFile: file}); err != nil {
		t.Fatalf("%v\n%s", err, e.out)
	}
	e.reset()
	noErr(t, applyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, DryRun: true, PolicyFile: file}))
	if !strings.Contains(e.out.String(), "nothing to do") {
		t.Fatalf("%s", e.out)
	}
	if len(e.stub.Writes()) != 0 {
		t.Fatal("export or a dry run wrote")
	}

	// A firewall open to the internet: the export cannot declare the rule,
	// and the audit of that export reports it once, as public, not also as
	// unexpected.
	e.stub.SetRules(dostub.OxyClusterID, append(rules, dostub.Rule{Type: "ip_addr", Value: "0.0.0.0/0", Description: "debugging"}))
	e.reset()
	noErr(t, exportRun(ctx, &exportOptions{clusterOptions: e.c, Format: output.Text}))
	file3 := writePolicy(t, e.out.String())
	e.reset()
	err := auditRun(ctx, &auditOptions{clusterOptions: e.c, Format: output.JSON, PolicyFile: file3})
	out := e.out.String()
	if strings.Contains(out, `"missing"`) || strings.Contains(out, `"unexpected"`) || strings.Contains(out, `"unresolved"`) {
		t.Fatalf("audit of the export of an open firewall:\n%s", out)
	}
	if exitCode(err) != 1 || !strings.Contains(out, `"kind": "public"`) || strings.Count(out, `"severity": "error"`) != 1 {
		t.Fatalf("want only the public rule as an error: %v\n%s", err, out)
	}
}
