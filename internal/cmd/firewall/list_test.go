package firewall

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func TestNewCmdList(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr bool
	}{
		{args: nil},
		{args: []string{"extra"}, wantErr: true},
		{args: []string{"--policy", "x.yaml"}, wantErr: true}, // list takes no policy
		{args: []string{"--nope"}, wantErr: true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got *listOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdList(f, func(_ context.Context, o *listOptions) error { got = o; return nil })
			}, tc.args)
			if tc.wantErr {
				if !clitest.IsUsage(err) || got != nil {
					t.Fatalf("err = %v (run called: %v), want a UsageError", err, got != nil)
				}
				return
			}
			if err != nil || got == nil || got.Format != output.Text {
				t.Fatalf("err %v, opts %+v", err, got)
			}
		})
	}
}

const listDefault = `Firewall of db-valkey-ams3-04785 (65b50240-6fca-5a08-b88b-5386644df3ec): 6 trusted sources
TYPE     VALUE                                 RESOLVES TO                                                  DESCRIPTION
droplet  549107286                             Droplet oxy-api-backend (146.190.20.41, private 10.110.0.5)  oxy-api-backend (production API)
app      78cd073d-af87-56c5-a762-4f5ece433361  app oxy-api                                                  -
app      fbede3aa-9f6e-526d-9d15-e1698b81c115  app mention                                                  -
app      2187c353-cddc-5815-89c6-44ec89faa300  app homiio                                                   -
app      f1a7b9ed-5251-5a96-a88d-447e14db53d1  app alia                                                     -
app      91e3c6d8-eacb-5d17-8593-9a11eee3f2b0  app allo                                                     -
`

func TestListRun(t *testing.T) {
	t.Run("text, no terminal", func(t *testing.T) {
		e := newEnv(t)
		noErr(t, listRun(context.Background(), &listOptions{clusterOptions: e.c, Format: output.Text}))
		if e.out.String() != listDefault {
			t.Fatalf("stdout:\n%s\nwant\n%s", e.out, listDefault)
		}
		if e.errOut.Len() != 0 {
			t.Fatalf("stderr: %q", e.errOut)
		}
		// Only what the rules need is requested: no k8s, no tags.
		for _, r := range e.stub.Requests() {
			if r.Op == "kubernetes_get_cluster" || r.Op == "tags_get" || r.Method != "GET" {
				t.Fatalf("unneeded request %s %s", r.Method, r.Path)
			}
		}
	})

	t.Run("every kind of rule, json", func(t *testing.T) {
		e := newEnv(t)
		e.stub.SetRules(dostub.OxyClusterID, []dostub.Rule{
			{Type: "droplet", Value: "549107286", Description: "api"},
			{Type: "droplet", Value: "549100099"},
			{Type: "app", Value: dostub.AppID("mention")},
			{Type: "k8s", Value: dostub.K8sClusterID},
			{Type: "tag", Value: dostub.WorkersTag},
			{Type: "ip_addr", Value: "0.0.0.0/0"},
			{Type: "ip_addr", Value: "10.110.0.0/20"},
		})
		noErr(t, listRun(context.Background(), &listOptions{clusterOptions: e.c, Format: output.JSON}))
		var res struct {
			Cluster struct{ ID, Name string }
			Rules   []map[string]any
		}
		if err := json.Unmarshal(e.out.Bytes(), &res); err != nil {
			t.Fatalf("%v\n%s", err, e.out)
		}
		if res.Cluster.ID != dostub.OxyClusterID || res.Cluster.Name != dostub.OxyClusterName || len(res.Rules) != 7 {
			t.Fatalf("%+v", res)
		}
		want := []struct {
			name          string
			exists, publc bool
			detail        string
		}{
			{"oxy-api-backend", true, false, "Droplet oxy-api-backend (146.190.20.41, private 10.110.0.5)"},
			{"", false, false, "Droplet 549100099 (not found)"},
			{"mention", true, false, "app mention"},
			{dostub.K8sClusterName, true, false, "Kubernetes cluster k8s-ams3-oxy (running)"},
			{dostub.WorkersTag, true, false, "tag oxy-workers (5 Droplets)"},
			{"0.0.0.0/0", true, true, "IP 0.0.0.0/0 (PUBLIC: every address)"},
			{"10.110.0.0/20", true, false, "IP 10.110.0.0/20 (private)"},
		}
		for i, w := range want {
			r := res.Rules[i]
			if r["name"] != w.name || r["exists"] != w.exists || r["public"] != w.publc || r["detail"] != w.detail || r["uuid"] == "" || r["created_at"] == "" {
				t.Errorf("rule %d: %v, want %+v", i, r, w)
			}
			if _, has := r["declared"]; has {
				t.Errorf("list shows declared: %v", r)
			}
		}
		if e.errOut.Len() != 0 {
			t.Fatalf("stderr: %q", e.errOut)
		}
	})

	t.Run("terminal: table with borders, short ids, public count", func(t *testing.T) {
		e := newEnv(t)
		e.tty(true)
		e.stub.AddRule(dostub.OxyClusterID, dostub.Rule{Type: "ip_addr", Value: "203.0.113.9"})
		noErr(t, listRun(context.Background(), &listOptions{clusterOptions: e.c, Format: output.Text}))
		out := e.out.String()
		if !strings.HasPrefix(out, "Firewall of db-valkey-ams3-04785 (65b50240…): 7 trusted sources, 1 public\n╭") ||
			!strings.Contains(out, "78cd073d…") || !strings.Contains(out, "IP 203.0.113.9 (PUBLIC)") || strings.Contains(out, "\x1b[") {
			t.Fatalf("stdout:\n%s", out)
		}
		// Every table line has the same width.
		var width int
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			if w := len([]rune(l)); width == 0 {
				width = w
			} else if w != width {
				t.Fatalf("ragged table line %q", l)
			}
		}
	})

	t.Run("color on keeps columns aligned", func(t *testing.T) {
		e := newEnv(t)
		e.ios.SetColorEnabled(true)
		e.stub.AddRule(dostub.OxyClusterID, dostub.Rule{Type: "ip_addr", Value: "0.0.0.0/0"})
		noErr(t, listRun(context.Background(), &listOptions{clusterOptions: e.c, Format: output.Text}))
		if !strings.Contains(e.out.String(), "\x1b[") {
			t.Fatal("no color")
		}
		plain := clitest.StripANSI(e.out.String())
		if !strings.HasPrefix(plain, strings.SplitN(listDefault, "\n", 2)[0][:60]) || !strings.Contains(plain, "ip_addr  0.0.0.0/0") {
			t.Fatalf("%s", plain)
		}
	})

	t.Run("an empty firewall says it admits everyone", func(t *testing.T) {
		e := newEnv(t)
		e.stub.SetRules(dostub.OxyClusterID, nil)
		noErr(t, listRun(context.Background(), &listOptions{clusterOptions: e.c, Format: output.Text}))
		want := "Firewall of db-valkey-ams3-04785 (65b50240-6fca-5a08-b88b-5386644df3ec): 0 trusted sources\nno rules: on DigitalOcean an empty list admits every address\n"
		if e.out.String() != want {
			t.Fatalf("%q", e.out)
		}
		e.reset()
		noErr(t, listRun(context.Background(), &listOptions{clusterOptions: e.c, Format: output.JSON}))
		if !strings.Contains(e.out.String(), `"rules": []`) {
			t.Fatalf("%s", e.out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		e := newEnv(t)
		e.c.Cluster = func() (string, error) { return "db-nope", nil }
		err := listRun(context.Background(), &listOptions{clusterOptions: e.c, Format: output.Text})
		if exitCode(err) != 2 || !strings.Contains(err.Error(), `no database cluster named "db-nope"`) {
			t.Fatalf("%v", err)
		}
		e.c.Cluster = func() (string, error) { return dostub.OxyClusterName, nil }
		e.stub.Inject(dostub.Fault{Op: "databases_list_firewall_rules", Status: 403})
		err = listRun(context.Background(), &listOptions{clusterOptions: e.c, Format: output.JSON})
		if code, kind := exitCodeKind(err); code != 3 || kind != "auth" {
			t.Fatalf("%v (%d %s)", err, code, kind)
		}
		if e.out.Len() != 0 {
			t.Fatalf("stdout on error: %q", e.out)
		}
	})
}
