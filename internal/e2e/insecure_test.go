package e2e

import (
	"strings"
	"testing"

	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// TestRedisInsecure: without a CA the TLS server is refused; with
// --redis-insecure every command that connects works and says loudly, on
// stderr, on every run, that verification is off.
func TestRedisInsecure(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: password})
	env := map[string]string{"OXYCTL_REDIS_URL": srv.URL}
	checkError(t, oxyctl(t, env, "-o", "json", "limits", "list"), 3, "tls", true)
	for _, args := range [][]string{
		{"limits", "list"}, {"limits", "get", "203.0.113.7"}, {"pubsub", "channels"},
		{"health", "--check", "valkey"}, {"-o", "json", "limits", "stats"}, {"clients"},
	} {
		r := oxyctl(t, env, append([]string{"--redis-insecure"}, args...)...)
		if r.code > 1 {
			t.Fatalf("%v --redis-insecure: exit %d: %s", args, r.code, r.stderr)
		}
		if n := strings.Count(r.stderr, "TLS VERIFICATION IS OFF"); n < 1 {
			t.Fatalf("%v --redis-insecure: no warning on stderr: %q", args, r.stderr)
		}
		if strings.Contains(r.stdout, "TLS VERIFICATION IS OFF") {
			t.Fatalf("%v: the warning went to stdout", args)
		}
		noSecrets(t, r.stdout, r.stderr)
	}
}
