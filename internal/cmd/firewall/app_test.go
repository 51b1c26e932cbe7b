package firewall_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

// The whole binary, through app.Run, against the stand-in: exact exit codes,
// one JSON document or a JSON error, and the token in no output, error or
// verbose log line of any run.
func TestThroughApp(t *testing.T) {
	stub := dostub.Start(t)
	token := stub.Token()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "oxyctl", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(`current_context: prod
contexts:
  prod:
    digitalocean:
      cluster: db-valkey-ams3-04785
    firewall:
      allow:
        - droplet: oxy-api-backend
        - app: oxy-api
        - app: mention
        - app: homiio
        - app: alia
        - app: allo
`), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyPolicy := filepath.Join(dir, "empty.yaml")
	os.WriteFile(emptyPolicy, []byte("firewall:\n  allow: []\n"), 0o600)
	baseEnv := map[string]string{
		"XDG_CONFIG_HOME": dir, "HOME": dir, "NO_COLOR": "1",
		"DIGITALOCEAN_ACCESS_TOKEN": token, "DIGITALOCEAN_API_URL": stub.URL,
	}

	run := func(env map[string]string, args ...string) (int, string, string) {
		t.Helper()
		all := map[string]string{}
		for k, v := range baseEnv {
			all[k] = v
		}
		for k, v := range env {
			all[k] = v
		}
		r := clitest.Run(context.Background(), app.Run, all, "", append(args, "--verbose")...)
		for _, s := range []string{r.Stdout, r.Stderr} {
			if strings.Contains(s, token) || strings.Contains(s, "stubtoken") || strings.Contains(s, "dop_v1_wrong") {
				t.Fatalf("oxyctl %v shows the token:\n%s", args, s)
			}
		}
		return r.Code, r.Stdout, r.Stderr
	}
	jsonErr := func(t *testing.T, stderr string) map[string]string {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		var doc struct{ Error map[string]string }
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &doc); err != nil || doc.Error["kind"] == "" {
			t.Fatalf("last stderr line is not a JSON error: %q", lines[len(lines)-1])
		}
		return doc.Error
	}

	drifted := append(dostub.DesiredRules()[:5], dostub.Rule{Type: "ip_addr", Value: "0.0.0.0/0", Description: "temporary debugging"})
	var before []dostub.Rule

	for _, tc := range []struct {
		name  string
		setup func()
		env   map[string]string
		args  []string
		code  int
		check func(t *testing.T, stdout, stderr string)
	}{
		{name: "list", args: []string{"firewall", "list"}, code: 0, check: func(t *testing.T, out, _ string) {
			if !strings.Contains(out, "Droplet oxy-api-backend") {
				t.Fatalf("%s", out)
			}
		}},
		{name: "audit, clean", args: []string{"firewall", "audit", "-o", "json"}, code: 0, check: func(t *testing.T, out, errOut string) {
			if !strings.Contains(out, `"ok": true`) || !strings.Contains(out, `"findings": []`) {
				t.Fatalf("%s", out)
			}
			// Each request's line names the host it went to.
			if !strings.Contains(errOut, "debug: DigitalOcean API: GET "+strings.TrimPrefix(stub.URL, "http://")+"/v2/databases -> 200") {
				t.Fatalf("verbose log missing:\n%s", errOut)
			}
		}},
		{name: "audit, drifted", setup: func() { stub.SetRules(dostub.OxyClusterID, drifted) },
			args: []string{"firewall", "audit", "-o", "json"}, code: 1, check: func(t *testing.T, out, _ string) {
				var doc struct {
					OK       bool
					Findings []map[string]string
				}
				if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.OK || len(doc.Findings) != 2 {
					t.Fatalf("%v\n%s", err, out)
				}
			}},
		{name: "apply without a terminal or --yes", args: []string{"firewall", "apply"}, code: 2, check: func(t *testing.T, out, errOut string) {
			if !strings.Contains(out, "+ app ") || !strings.Contains(errOut, "oxyctl: refusing to change the firewall") || len(stub.Puts()) != 0 {
				t.Fatalf("%s\n%s", out, errOut)
			}
		}},
		{name: "apply to a PostgreSQL cluster", args: []string{"firewall", "apply", "--yes", "--cluster", "db-postgresql-ams3-11234", "-o", "json"}, code: 2,
			check: func(t *testing.T, out, errOut string) {
				// Before: its firewall was replaced with the Valkey policy.
				if e := jsonErr(t, errOut); e["kind"] != "config" || !strings.Contains(e["message"], "PostgreSQL") || out != "" || len(stub.Puts()) != 0 {
					t.Fatalf("%v %q, %d PUTs", e, out, len(stub.Puts()))
				}
			}},
		{name: "apply --dry-run", args: []string{"firewall", "apply", "--dry-run", "-o", "json"}, code: 0, check: func(t *testing.T, out, _ string) {
			if !strings.Contains(out, `"dry_run": true`) || len(stub.Puts()) != 0 {
				t.Fatalf("%s", out)
			}
		}},
		{name: "apply, empty policy", args: []string{"firewall", "apply", "--yes", "--policy", emptyPolicy, "-o", "json"}, code: 2,
			check: func(t *testing.T, out, errOut string) {
				if e := jsonErr(t, errOut); e["kind"] != "config" || !strings.Contains(e["message"], "empty") || out != "" {
					t.Fatalf("%v %q", e, out)
				}
			}},
		{name: "apply with a persistent 500", setup: func() {
			before = stub.Rules(dostub.OxyClusterID)
			stub.Inject(dostub.Fault{Op: "databases_update_firewall_rules", Status: 500})
		},
			args: []string{"firewall", "apply", "--yes", "--timeout", "500ms", "-o", "json"}, code: 3,
			check: func(t *testing.T, out, errOut string) {
				stub.ClearFaults()
				if e := jsonErr(t, errOut); e["kind"] != "api" || !strings.Contains(e["message"], "500") || out != "" {
					t.Fatalf("%v %q", e, out)
				}
				if len(before) != 6 || !reflect.DeepEqual(stub.Rules(dostub.OxyClusterID), before) {
					t.Fatal("rules changed")
				}
			}},
		{name: "apply with a 429 first", setup: func() {
			stub.Inject(dostub.Fault{Op: "databases_update_firewall_rules", Status: 429, Headers: map[string]string{"retry-after": "0"}, Times: 1})
		}, args: []string{"firewall", "apply", "--yes"}, code: 0, check: func(t *testing.T, out, errOut string) {
			if !strings.Contains(out, "applied: 1 added, 1 removed, 5 kept") || !strings.Contains(errOut, "retrying PUT") {
				t.Fatalf("%s\n%s", out, errOut)
			}
		}},
		{name: "audit after apply", args: []string{"firewall", "audit"}, code: 0, check: func(t *testing.T, out, _ string) {
			if !strings.Contains(out, "ok the firewall matches the policy") {
				t.Fatalf("%s", out)
			}
		}},
		{name: "wrong token", env: map[string]string{"DIGITALOCEAN_ACCESS_TOKEN": "dop_v1_wrong0123456789"},
			args: []string{"firewall", "audit", "-o", "json"}, code: 3, check: func(t *testing.T, _, errOut string) {
				if e := jsonErr(t, errOut); e["kind"] != "auth" || !strings.Contains(e["hint"], "DIGITALOCEAN_ACCESS_TOKEN") {
					t.Fatalf("%v", e)
				}
			}},
		{name: "no token", env: map[string]string{"DIGITALOCEAN_ACCESS_TOKEN": ""}, args: []string{"firewall", "list"}, code: 2,
			check: func(t *testing.T, _, errOut string) {
				if !strings.Contains(errOut, "oxyctl: no DigitalOcean token is set") {
					t.Fatalf("%s", errOut)
				}
			}},
		{name: "unknown cluster", args: []string{"firewall", "list", "--cluster", "db-nope"}, code: 2, check: func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, `no database cluster named "db-nope" (the account has db-postgresql-ams3-11234 (pg), db-valkey-ams3-04785 (valkey), db-valkey-fra1-55120 (valkey))`) {
				t.Fatalf("%s", errOut)
			}
		}},
		{name: "API unreachable", env: map[string]string{"DIGITALOCEAN_API_URL": "http://127.0.0.1:1"},
			args: []string{"firewall", "list", "--timeout", "300ms", "-o", "json"}, code: 3, check: func(t *testing.T, _, errOut string) {
				if e := jsonErr(t, errOut); e["kind"] != "connect" {
					t.Fatalf("%v", e)
				}
			}},
		{name: "no arguments allowed", args: []string{"firewall", "audit", "extra"}, code: 2},
		{name: "allow with a persistent 500 keeps its backup", setup: func() {
			before = stub.Rules(dostub.OxyClusterID)
			stub.Inject(dostub.Fault{Op: "databases_update_firewall_rules", Status: 500})
		}, env: map[string]string{"XDG_STATE_HOME": filepath.Join(dir, "state")},
			args: []string{"firewall", "allow", "--ip", "10.110.0.9", "--yes", "--timeout", "500ms", "-o", "json"}, code: 3,
			check: func(t *testing.T, out, errOut string) {
				stub.ClearFaults()
				e := jsonErr(t, errOut)
				files, _ := filepath.Glob(filepath.Join(dir, "state", "oxyctl", "backups", "db-valkey-ams3-04785", "*-firewall.json"))
				if len(files) != 1 || e["backup"] != files[0] || !strings.Contains(e["message"], files[0]) || out != "" ||
					!strings.Contains(errOut, "backup: the 6 rules of db-valkey-ams3-04785 as they were are saved in "+files[0]) {
					t.Fatalf("%v %v\n%s", files, e, errOut)
				}
				if !reflect.DeepEqual(stub.Rules(dostub.OxyClusterID), before) {
					t.Fatal("rules changed")
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub.ResetRequests()
			if tc.setup != nil {
				tc.setup()
			}
			code, out, errOut := run(tc.env, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if tc.check != nil {
				tc.check(t, out, errOut)
			}
		})
	}
}
