package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/standin/healthstub"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// TestSecrets runs every command in every output mode, with and without
// --verbose, on success and on error paths, with a known password and
// token, and greps stdout, stderr and the files written for them.
func TestSecrets(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: password})
	do := dostub.Start(t, dostub.Options{Token: token})
	health := healthstub.Start(t, healthstub.Healthy())
	vc := srv.Client(t)
	ctx := context.Background()
	for i, ip := range []string{"198.51.100.23", "203.0.113.7", "192.0.2.10"} {
		if err := vc.Do(ctx, vc.B().Set().Key("rl:"+ip).Value(fmt.Sprint(50+i*60)).Px(10*time.Minute).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	policy := writeFile(t, "policy.yaml", goodPolicy)
	dbPolicy := writeFile(t, "settings.yaml", "database:\n  settings:\n    timeout: 0\n    pubsub_client_output_buffer_limit: 64\n")
	cfg := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf("current_context: prod\ncontexts:\n  prod:\n    redis:\n      url: %s\n      ca_file: %s\n    api:\n      url: %s\n    digitalocean:\n      token: %s\n      api_url: %s\n", srv.URL, srv.CAFile, health.URL, token, do.URL)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	viaEnv := map[string]string{"OXYCTL_REDIS_URL": srv.URL, "OXYCTL_REDIS_CA": srv.CAFile, "OXY_API_URL": health.URL,
		"DIGITALOCEAN_ACCESS_TOKEN": token, "DIGITALOCEAN_API_URL": do.URL}
	viaFile := map[string]string{}
	broken := map[string]string{"OXYCTL_REDIS_URL": strings.Replace(srv.URL, password, password+"x", 1), "OXYCTL_REDIS_CA": srv.CAFile,
		"OXY_API_URL": health.URL, "DIGITALOCEAN_ACCESS_TOKEN": token + "x", "DIGITALOCEAN_API_URL": do.URL}

	// User info in the API URLs is a secret too. (Before: the API URL's
	// password showed in health's detail and data and in config view.)
	withUser := func(u string) string { return strings.Replace(u, "://", "://ops:"+password+"@", 1) }
	userinfo := map[string]string{"OXYCTL_REDIS_URL": srv.URL, "OXYCTL_REDIS_CA": srv.CAFile, "OXY_API_URL": withUser(health.URL),
		"DIGITALOCEAN_ACCESS_TOKEN": token, "DIGITALOCEAN_API_URL": withUser(do.URL)}

	commands := [][]string{
		{"health"}, {"limits", "list"}, {"limits", "get", "198.51.100.23"}, {"limits", "stats"},
		{"limits", "reset", "203.0.113.7", "--dry-run"}, {"limits", "reset", "--all", "--dry-run"},
		{"limits", "block", "203.0.113.7", "--dry-run"}, {"limits", "list", "--watch", "--interval", "50ms", "--rounds", "2"},
		{"pubsub", "channels"}, {"pubsub", "tail", "--duration", "200ms"}, {"clients"},
		{"firewall", "list"}, {"firewall", "audit", "--policy", policy}, {"firewall", "apply", "--policy", policy, "--dry-run"}, {"firewall", "export"},
		// Writes: each saves a backup under XDG_STATE_HOME, inside dir, which is searched below.
		{"firewall", "allow", "--ip", "10.110.0.77", "--for", "1h", "--reason", "secrets test", "--yes"},
		{"firewall", "revoke", "--ip", "10.110.0.77", "--yes"},
		{"database", "settings", "--policy", dbPolicy}, {"database", "settings", "apply", "--policy", dbPolicy, "--yes"},
		{"database", "events", "--since", "720h"}, {"database", "ca"},
		{"config", "view"}, {"version"},
	}
	n := 0
	for _, setup := range []struct {
		name string
		env  map[string]string
		pre  []string
	}{{"env", viaEnv, nil}, {"config", viaFile, []string{"--config", cfg}}, {"broken", broken, nil}, {"userinfo", userinfo, nil}} {
		setup.env["XDG_STATE_HOME"] = filepath.Join(dir, "state")
		for _, c := range commands {
			for _, format := range []string{"text", "json"} {
				for _, verbose := range []bool{false, true} {
					args := append(append([]string{}, setup.pre...), "-o", format)
					if verbose {
						args = append(args, "--verbose")
					}
					args = append(args, c...)
					n++
					r := oxyctl(t, setup.env, args...)
					if setup.name != "broken" && r.code > 1 {
						t.Errorf("%s %v: exit %d: %s", setup.name, args, r.code, r.stderr)
					}
					if strings.Contains(r.stderr, "internal error") {
						t.Errorf("%v: %s", args, r.stderr)
					}
					noSecrets(t, r.stdout, r.stderr)
				}
			}
		}
	}
	fileContainsSecretOutside(t, dir, cfg)
	if backups, _ := filepath.Glob(filepath.Join(dir, "state", "oxyctl", "backups", "*", "*-firewall.json")); len(backups) == 0 {
		t.Error("the writes saved no backup where XDG_STATE_HOME says")
	}
	do.TakeViolations()
	fmt.Fprintf(os.Stdout, "secrets: %d runs, no password or token in any output\n", n)
}

// fileContainsSecretOutside checks every file oxyctl may have written in dir
// except the config the test wrote itself.
func fileContainsSecretOutside(t *testing.T, dir, except string) {
	t.Helper()
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || p == except {
			return nil
		}
		b, _ := os.ReadFile(p)
		noSecrets(t, string(b))
		return nil
	})
}
