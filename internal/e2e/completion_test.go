package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// completions parses cobra's __complete output: candidates, then ":N".
func completions(t *testing.T, r result) []string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("__complete exit %d: %s", r.code, r.stderr)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if strings.HasPrefix(l, ":") || l == "" {
			continue
		}
		out = append(out, strings.SplitN(l, "\t", 2)[0])
	}
	return out
}

func TestDynamicCompletion(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Password: password})
	do := dostub.Start(t, dostub.Options{Token: token})
	vc := srv.Client(t)
	ctx := context.Background()
	for ip, hits := range map[string]string{"198.51.100.23": "152", "203.0.113.7": "40", "192.0.2.10": "3"} {
		if err := vc.Do(ctx, vc.B().Set().Key("rl:"+ip).Value(hits).Px(time.Minute).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL, "DIGITALOCEAN_ACCESS_TOKEN": token, "DIGITALOCEAN_API_URL": do.URL}

	got := completions(t, oxyctl(t, env, "__complete", "limits", "reset", ""))
	if strings.Join(got, ",") != "198.51.100.23,203.0.113.7,192.0.2.10" {
		t.Fatalf("clients for reset = %v (want top by hits)", got)
	}
	got = completions(t, oxyctl(t, env, "__complete", "limits", "get", "198.51.100.23", "20"))
	if strings.Join(got, ",") != "203.0.113.7" {
		t.Fatalf("clients for get with prefix = %v", got)
	}
	got = completions(t, oxyctl(t, env, "__complete", "--cluster", "db-valkey"))
	found := false
	for _, c := range got {
		found = found || c == dostub.OxyClusterName
		if !strings.HasPrefix(c, "db-valkey") {
			t.Fatalf("cluster %q does not match the prefix", c)
		}
	}
	if !found {
		t.Fatalf("clusters = %v, want %s", got, dostub.OxyClusterName)
	}
	got = completions(t, oxyctl(t, env, "__complete", "health", "--check", ""))
	if !strings.Contains(strings.Join(got, ","), "valkey") {
		t.Fatalf("checks = %v", got)
	}

	// firewall allow/revoke: names from the API, revoke --ip from the current rules.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"firewall", "allow", "--droplet", "oxy-"}, "oxy-api-backend"},
		{[]string{"firewall", "allow", "--app", "me"}, "mention"},
		{[]string{"firewall", "allow", "--tag", "oxy-w"}, dostub.WorkersTag},
		{[]string{"firewall", "revoke", "--app", "al"}, "alia,allo"},
	} {
		got := completions(t, oxyctl(t, env, append([]string{"__complete"}, tc.args...)...))
		if strings.Join(got, ",") != tc.want {
			t.Fatalf("%v = %v, want %s", tc.args, got, tc.want)
		}
	}
	do.AddRule(dostub.OxyClusterID, dostub.Rule{Type: "ip_addr", Value: "203.0.113.9", Description: "ci"})
	if got := completions(t, oxyctl(t, env, "__complete", "firewall", "revoke", "--ip", "")); strings.Join(got, ",") != "203.0.113.9" {
		t.Fatalf("revoke --ip = %v", got)
	}
	start0 := time.Now()
	r0 := oxyctl(t, map[string]string{"DIGITALOCEAN_ACCESS_TOKEN": token, "DIGITALOCEAN_API_URL": "http://" + blackhole(t)}, "__complete", "firewall", "allow", "--droplet", "")
	if got := completions(t, r0); len(got) != 0 || time.Since(start0) > 3*time.Second {
		t.Fatalf("black-holed --droplet completion = %v after %v", got, time.Since(start0))
	}
	if got := completions(t, oxyctl(t, nil, "__complete", "firewall", "allow", "--app", "")); len(got) != 0 {
		t.Fatalf("--app with no token = %v", got)
	}

	// No settings: nothing, never an error; unreachable server: nothing within the bound.
	for _, args := range [][]string{{"__complete", "limits", "reset", ""}, {"__complete", "--cluster", ""}, {"__complete", "--context", ""}, {"__complete", "limits", "list", "--limiter", ""}} {
		r := oxyctl(t, nil, args...)
		if got := completions(t, r); len(got) != 0 && args[len(args)-2] != "--limiter" {
			t.Fatalf("%v with no settings = %v", args, got)
		}
		noSecrets(t, r.stdout, r.stderr)
	}
	start := time.Now()
	r := oxyctl(t, map[string]string{"OXYCTL_REDIS_URL": "redis://" + blackhole(t)}, "__complete", "limits", "reset", "")
	if got := completions(t, r); len(got) != 0 || time.Since(start) > 3*time.Second {
		t.Fatalf("black-holed completion = %v after %v", got, time.Since(start))
	}
}
