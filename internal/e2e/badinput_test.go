package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

type badCase struct {
	name string
	args []string
	env  map[string]string
	code int
	kind string // JSON error kind for codes 2 and 3 ("" = any)
	max  time.Duration
	// setup runs before the case (faults on the stand-in, say).
	setup func()
}

const goodPolicy = `firewall:
  allow:
    - droplet: oxy-api-backend
    - app: oxy-api
    - app: mention
    - app: homiio
    - app: alia
    - app: allo
`

// TestBadInput is the bad-input matrix over every command: each case
// asserts the exit code, a one-line error (a JSON error object with -o
// json), no panic, no secret, and an end within its time bound.
func TestBadInput(t *testing.T) {
	tlsSrv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: password})
	plain := valkeytest.Start(t, valkeytest.Options{Password: password})
	otherCA := valkeytest.NewTLSFiles(t, "127.0.0.1")
	mismatch := valkeytest.Start(t, valkeytest.Options{TLSFiles: valkeytest.NewTLSFiles(t, "db.example.com"), Password: password})
	do := dostub.Start(t, dostub.Options{Token: token})
	hole := blackhole(t)
	gone := refused(t)

	good := map[string]string{"OXYCTL_REDIS_URL": tlsSrv.URL, "OXYCTL_REDIS_CA": tlsSrv.CAFile,
		"DIGITALOCEAN_ACCESS_TOKEN": token, "DIGITALOCEAN_API_URL": do.URL}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	url := func(u string) map[string]string { return with("OXYCTL_REDIS_URL", u) }
	policy := writeFile(t, "policy.yaml", goodPolicy)
	notADir := t.TempDir()
	emptyCA := writeFile(t, "empty.pem", "not a certificate\n")
	// A named pipe nobody writes to: reading it used to hang forever.
	fifo := notADir + "/fifo"
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgBadYAML := writeFile(t, "c1.yaml", "contexts: [\n")
	cfgUnknown := writeFile(t, "c2.yaml", "current_context: p\ncontexts:\n  p:\n    redis:\n      uri: redis://x\n")
	cfgWrongType := writeFile(t, "c3.yaml", "current_context: p\ncontexts:\n  p:\n    limiters:\n      - name: api\n        limit: many\n")
	polBadYAML := writeFile(t, "p1.yaml", "firewall:\n  allow: [\n")
	polUnknown := writeFile(t, "p2.yaml", "firewall:\n  allow:\n    - droplet: oxy-api-backend\n  deny: []\n")
	polWrongType := writeFile(t, "p3.yaml", "firewall:\n  allow:\n    - app: [1, 2]\n")
	polEmpty := writeFile(t, "p4.yaml", "firewall:\n  allow: []\n")
	polIPv6 := writeFile(t, "p5.yaml", "firewall:\n  allow:\n    - ip: 2001:db8::1\n")
	polNoMatch := writeFile(t, "p6.yaml", "firewall:\n  allow:\n    - app: no-such-app\n")
	dbUnknown := writeFile(t, "d1.yaml", "database:\n  settings:\n    maxmemory: 100mb\n")
	dbRange := writeFile(t, "d2.yaml", "database:\n  settings:\n    pubsub_client_output_buffer_limit: 8\n")
	dbRangeOK := writeFile(t, "d3.yaml", "database:\n  settings:\n    timeout: 0\n")
	huge := strings.Repeat("a", 1<<20)
	vc := tlsSrv.Client(t)
	seedCounter := func() {
		if err := vc.Do(context.Background(), vc.B().Set().Key("rl:198.51.100.23").Value("152").Px(time.Minute).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	fault := func(f dostub.Fault) func() { return func() { do.ClearFaults(); do.Inject(f) } }

	cases := []badCase{
		// usage: flags, arguments, formats
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, kind: "usage"},
		{name: "unknown noun verb", args: []string{"limits", "purge"}, code: 2, kind: "usage"},
		{name: "unknown flag", args: []string{"limits", "list", "--frob"}, code: 2, kind: "usage"},
		{name: "bad --timeout", args: []string{"--timeout", "soon", "limits", "list"}, code: 2, kind: "usage"},
		{name: "zero --timeout", args: []string{"--timeout", "0s", "limits", "list"}, code: 2},
		{name: "bad -o", args: []string{"-o", "yaml", "version"}, code: 2, kind: "usage"},
		{name: "bad --sort", args: []string{"limits", "list", "--sort", "size"}, code: 2, kind: "usage"},
		{name: "bad --top", args: []string{"limits", "list", "--top", "-3"}, code: 2, kind: "usage"},
		{name: "non-number --min-hits", args: []string{"limits", "list", "--min-hits", "x"}, code: 2, kind: "usage"},
		{name: "unknown limiter", args: []string{"limits", "list", "--limiter", "nope"}, code: 2},
		{name: "get without clients", args: []string{"limits", "get"}, code: 2, kind: "usage"},
		{name: "reset without target", args: []string{"limits", "reset"}, code: 2, kind: "usage"},
		{name: "reset --all with --blocked", args: []string{"limits", "reset", "--all", "--blocked", "--yes"}, code: 2, kind: "usage"},
		{name: "reset clients with --all", args: []string{"limits", "reset", "1.2.3.4", "--all", "--yes"}, code: 2, kind: "usage"},
		{name: "bulk reset without tty or --yes", args: []string{"limits", "reset", "--all"}, code: 2, setup: seedCounter},
		{name: "block without clients", args: []string{"limits", "block"}, code: 2, kind: "usage"},
		{name: "block bad --for", args: []string{"limits", "block", "1.2.3.4", "--for", "soon"}, code: 2, kind: "usage"},
		{name: "block zero --for", args: []string{"limits", "block", "1.2.3.4", "--for", "0s"}, code: 2, kind: "usage"},
		{name: "block over 24h without tty or --yes", args: []string{"limits", "block", "1.2.3.4", "--for", "25h"}, code: 2, kind: "usage"},
		{name: "block 11 clients without tty or --yes", args: []string{"limits", "block", "1.0.0.1", "1.0.0.2", "1.0.0.3", "1.0.0.4", "1.0.0.5", "1.0.0.6", "1.0.0.7", "1.0.0.8", "1.0.0.9", "1.0.0.10", "1.0.0.11"}, code: 2, kind: "usage"},
		{name: "list --sort rate without --watch", args: []string{"limits", "list", "--sort", "rate"}, code: 2, kind: "usage"},
		{name: "list --interval without --watch", args: []string{"limits", "list", "--interval", "1s"}, code: 2, kind: "usage"},
		{name: "list --watch bad --interval", args: []string{"limits", "list", "--watch", "--interval", "0s"}, code: 2, kind: "usage"},
		{name: "tail negative --count", args: []string{"pubsub", "tail", "--count", "-5"}, code: 2, kind: "usage"},
		{name: "tail bad --duration", args: []string{"pubsub", "tail", "--duration", "forever"}, code: 2, kind: "usage"},
		{name: "health unknown check", args: []string{"health", "--check", "disk"}, code: 2, kind: "usage"},
		{name: "health bad --interval", args: []string{"health", "--watch", "--interval", "fast"}, code: 2, kind: "usage"},
		{name: "health --interval below 1s", args: []string{"health", "--watch", "--interval", "10ms"}, code: 2, kind: "usage"},
		{name: "firewall extra arg", args: []string{"firewall", "list", "extra"}, code: 2, kind: "usage"},
		{name: "version extra arg", args: []string{"version", "x"}, code: 2, kind: "usage"},
		// config files
		{name: "config: YAML error", args: []string{"--config", cfgBadYAML, "limits", "list"}, code: 2, kind: "config"},
		{name: "config: unknown key", args: []string{"--config", cfgUnknown, "limits", "list"}, code: 2, kind: "config"},
		{name: "config: wrong type", args: []string{"--config", cfgWrongType, "limits", "list"}, code: 2, kind: "config"},
		{name: "config: unreadable", args: []string{"--config", notADir, "limits", "list"}, code: 2, kind: "config"},
		{name: "config: missing file", args: []string{"--config", notADir + "/none.yaml", "health"}, code: 2, kind: "config"},
		{name: "config: missing context", args: []string{"--context", "prod", "limits", "list"}, code: 2, kind: "config"},
		{name: "env: bad OXYCTL_TIMEOUT", args: []string{"limits", "list"}, env: with("OXYCTL_TIMEOUT", "1 hour"), code: 2, kind: "config"},
		// policy files
		{name: "policy: YAML error", args: []string{"firewall", "audit", "--policy", polBadYAML}, code: 2, kind: "config"},
		{name: "policy: unknown key", args: []string{"firewall", "audit", "--policy", polUnknown}, code: 2, kind: "config"},
		{name: "policy: wrong type", args: []string{"firewall", "audit", "--policy", polWrongType}, code: 2, kind: "config"},
		{name: "policy: missing file", args: []string{"firewall", "audit", "--policy", notADir + "/p.yaml"}, code: 2, kind: "config"},
		{name: "policy: empty allow list refused", args: []string{"firewall", "apply", "--policy", polEmpty, "--yes"}, code: 2},
		{name: "policy: IPv6 refused", args: []string{"firewall", "apply", "--policy", polIPv6, "--yes"}, code: 2},
		{name: "policy: unresolved refused by apply", args: []string{"firewall", "apply", "--policy", polNoMatch, "--yes"}, code: 2},
		// day-2 firewall writes: refused before anything is sent
		{name: "allow without a rule", args: []string{"firewall", "allow", "--yes"}, code: 2, kind: "usage"},
		{name: "allow two rules", args: []string{"firewall", "allow", "--ip", "10.0.0.1", "--app", "oxy-api"}, code: 2, kind: "usage"},
		{name: "allow 0.0.0.0/0", args: []string{"firewall", "allow", "--ip", "0.0.0.0/0", "--public", "--yes"}, code: 2, kind: "usage"},
		{name: "allow public without --public", args: []string{"firewall", "allow", "--ip", "203.0.113.9", "--yes"}, code: 2, kind: "usage"},
		{name: "allow IPv6", args: []string{"firewall", "allow", "--ip", "2001:db8::1", "--yes"}, code: 2, kind: "usage"},
		{name: "allow bad --for", args: []string{"firewall", "allow", "--ip", "10.0.0.1", "--for", "soon"}, code: 2, kind: "usage"},
		{name: "allow unknown app", args: []string{"firewall", "allow", "--app", "no-such-app", "--yes"}, code: 2, kind: "config"},
		{name: "revoke ip and uuid", args: []string{"firewall", "revoke", "--ip", "10.0.0.1", "--uuid", "x"}, code: 2, kind: "usage"},
		{name: "revoke unknown uuid", args: []string{"firewall", "revoke", "--uuid", "00000000-0000-4000-8000-000000000000", "--yes"}, code: 2, kind: "config"},
		{name: "restore without a file", args: []string{"firewall", "restore"}, code: 2, kind: "usage"},
		{name: "restore of a policy file", args: []string{"firewall", "restore", policy, "--yes"}, code: 2, kind: "config"},
		{name: "restore of /dev/zero", args: []string{"firewall", "restore", "/dev/zero", "--yes"}, code: 2, kind: "config", max: time.Second},
		{name: "restore of a missing file", args: []string{"firewall", "restore", notADir + "/b.json", "--yes"}, code: 2, kind: "config"},
		// database
		{name: "settings: unknown setting", args: []string{"database", "settings", "--policy", dbUnknown}, code: 2, kind: "config"},
		{name: "settings: out of range", args: []string{"database", "settings", "apply", "--policy", dbRange, "--yes"}, code: 2, kind: "config"},
		{name: "settings: firewall file", args: []string{"database", "settings", "--policy", policy}, code: 2, kind: "config"},
		{name: "settings apply: nothing declared", args: []string{"database", "settings", "apply", "--yes"}, code: 2, kind: "config"},
		{name: "settings restore of a policy file", args: []string{"database", "settings", "restore", policy, "--yes"}, code: 2, kind: "config"},
		{name: "settings restore without a file", args: []string{"database", "settings", "restore"}, code: 2, kind: "usage"},
		{name: "events bad --since", args: []string{"database", "events", "--since", "yesterday"}, code: 2, kind: "usage"},
		{name: "ca over an existing file", args: []string{"database", "ca", "--file", policy}, code: 2, kind: "config"},
		{name: "ca --force alone", args: []string{"database", "ca", "--force"}, code: 2, kind: "usage"},
		{name: "settings of a PostgreSQL cluster", args: []string{"--cluster", "db-postgresql-ams3-11234", "database", "settings", "--policy", dbRangeOK}, code: 2, kind: "config"},
		// Valkey URLs and connections
		{name: "url: no host", args: []string{"limits", "list"}, env: url("rediss://:" + password + "@"), code: 2, kind: "config"},
		{name: "url: http scheme", args: []string{"limits", "list"}, env: url("http://host"), code: 2, kind: "config"},
		{name: "url: port out of range", args: []string{"limits", "list"}, env: url("redis://host:99999"), code: 2, kind: "config"},
		{name: "url: bad escape", args: []string{"limits", "stats"}, env: url("redis://u:" + password + "%zz@127.0.0.1:1"), code: 2, kind: "config"},
		{name: "url: none set", args: []string{"limits", "list"}, env: with("OXYCTL_REDIS_URL", ""), code: 2, kind: "config"},
		{name: "url: plaintext password to remote host", args: []string{"limits", "list"}, env: url("redis://default:" + password + "@db.example.com:6379"), code: 2, kind: "config"},
		{name: "wrong password", args: []string{"limits", "list"}, env: url(strings.Replace(tlsSrv.URL, password, "wrong", 1)), code: 3, kind: "auth"},
		{name: "no password", args: []string{"limits", "get", "1.2.3.4"}, env: url("rediss://" + tlsSrv.Addr), code: 3, kind: "auth"},
		{name: "wrong CA", args: []string{"limits", "list"}, env: with("OXYCTL_REDIS_CA", otherCA.CAFile), code: 3, kind: "tls"},
		{name: "no CA", args: []string{"pubsub", "channels"}, env: with("OXYCTL_REDIS_CA", ""), code: 3, kind: "tls"},
		{name: "clients, wrong password", args: []string{"clients"}, env: url(strings.Replace(tlsSrv.URL, password, "wrong", 1)), code: 3, kind: "auth"},
		{name: "clients bad --type", args: []string{"clients", "--type", "replica"}, code: 2, kind: "usage"},
		{name: "clients bad --group", args: []string{"clients", "--group", "port"}, code: 2, kind: "usage"},
		{name: "clients extra arg", args: []string{"clients", "extra"}, code: 2, kind: "usage"},
		{name: "clients without a url", args: []string{"clients"}, env: with("OXYCTL_REDIS_URL", ""), code: 2, kind: "config"},
		{name: "clients, wrong CA", args: []string{"clients"}, env: with("OXYCTL_REDIS_CA", otherCA.CAFile), code: 3, kind: "tls"},
		{name: "clients, refused port", args: []string{"clients"}, env: url("redis://default:" + password + "@" + gone), code: 3, kind: "connect"},
		{name: "CA file unreadable", args: []string{"limits", "list"}, env: with("OXYCTL_REDIS_CA", notADir+"/ca.pem"), code: 2, kind: "config"},
		{name: "config is a FIFO", args: []string{"--config", fifo, "limits", "list"}, code: 2, kind: "config", max: time.Second},
		{name: "config is /dev/zero", args: []string{"--config", "/dev/zero", "limits", "list"}, code: 2, kind: "config", max: time.Second},
		{name: "CA file is a FIFO", args: []string{"limits", "list"}, env: with("OXYCTL_REDIS_CA", fifo), code: 2, kind: "config", max: time.Second},
		{name: "CA file is /dev/zero", args: []string{"limits", "list"}, env: with("OXYCTL_REDIS_CA", "/dev/zero"), code: 2, kind: "config", max: time.Second},
		{name: "policy is a FIFO", args: []string{"firewall", "audit", "--policy", fifo}, code: 2, kind: "config", max: time.Second},
		{name: "policy is /dev/zero", args: []string{"firewall", "audit", "--policy", "/dev/zero"}, code: 2, kind: "config", max: time.Second},
		{name: "CA file not PEM", args: []string{"limits", "list"}, env: with("OXYCTL_REDIS_CA", emptyCA), code: 2, kind: "config"},
		{name: "name mismatch", args: []string{"limits", "stats"}, env: with("OXYCTL_REDIS_URL", "rediss://default:"+password+"@"+mismatch.Addr, "OXYCTL_REDIS_CA", mismatch.CAFile), code: 3, kind: "tls"},
		{name: "TLS to plaintext port", args: []string{"--timeout", "2s", "limits", "list"}, env: url("rediss://default:" + password + "@" + plain.Addr), code: 3, kind: "tls", max: 3 * time.Second},
		{name: "plaintext to TLS port", args: []string{"limits", "list"}, env: url("redis://default:" + password + "@" + tlsSrv.Addr), code: 3, kind: "tls"},
		{name: "refused port", args: []string{"limits", "reset", "1.2.3.4"}, env: url("redis://default:" + password + "@" + gone), code: 3, kind: "connect"},
		{name: "black-holed address", args: []string{"--timeout", "1s", "limits", "list"}, env: url("redis://default:" + password + "@" + hole), code: 3, kind: "timeout", max: 2 * time.Second},
		{name: "black-holed tail", args: []string{"--timeout", "1s", "pubsub", "tail", "--count", "1"}, env: url("redis://default:" + password + "@" + hole), code: 3, kind: "timeout", max: 2 * time.Second},
		// odd clients and keys: literal, harmless, exit 0
		{name: "client with glob *", args: []string{"limits", "get", "*"}, code: 0},
		{name: "client with glob [", args: []string{"limits", "reset", "[a-z]?", "--dry-run"}, code: 0},
		{name: "client with backslash", args: []string{"limits", "reset", `a\b`}, code: 0},
		{name: "client with binary bytes", args: []string{"limits", "get", "\xff\xfe\x00x"}, code: 0},
		{name: "client with unicode", args: []string{"limits", "reset", "клиент✓"}, code: 0},
		{name: "client of 1 MiB", args: []string{"limits", "get", huge}, code: 0},
		// DigitalOcean
		{name: "do: no token", args: []string{"firewall", "list"}, env: with("DIGITALOCEAN_ACCESS_TOKEN", ""), code: 2, kind: "config"},
		{name: "do: unknown cluster", args: []string{"--cluster", "no-such-db", "firewall", "list"}, code: 2, kind: "config"},
		{name: "do: 401", args: []string{"firewall", "list"}, setup: fault(dostub.Fault{Status: 401}), code: 3, kind: "auth"},
		{name: "do: 403", args: []string{"firewall", "audit", "--policy", policy}, setup: fault(dostub.Fault{Status: 403}), code: 3, kind: "auth"},
		{name: "do: 404 on firewall", args: []string{"firewall", "list"}, setup: fault(dostub.Fault{Op: "databases_list_firewall_rules", Status: 404}), code: 3},
		{name: "do: 429 persisting", args: []string{"--timeout", "3s", "firewall", "list"}, setup: fault(dostub.Fault{Status: 429, Headers: map[string]string{"retry-after": "0"}}), code: 3, kind: "api", max: 4 * time.Second},
		{name: "do: 500 persisting", args: []string{"--timeout", "3s", "firewall", "audit", "--policy", policy}, setup: fault(dostub.Fault{Status: 500}), code: 3, kind: "api", max: 4 * time.Second},
		{name: "do: malformed JSON", args: []string{"firewall", "list"}, setup: fault(dostub.Fault{Op: "databases_list_firewall_rules", Malformed: true}), code: 3},
		{name: "do: refused", args: []string{"firewall", "list"}, env: with("DIGITALOCEAN_API_URL", "http://"+gone), code: 3, kind: "connect"},
		{name: "do: black-holed", args: []string{"--timeout", "1s", "firewall", "list"}, env: with("DIGITALOCEAN_API_URL", "http://"+hole), code: 3, kind: "timeout", max: 2 * time.Second},
		{name: "do: malformed API URL", args: []string{"firewall", "list"}, env: with("DIGITALOCEAN_API_URL", "::not a url"), code: 2},
	}

	n := 0
	for _, tc := range cases {
		for _, format := range []string{"text", "json"} {
			tc, format := tc, format
			n++
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				if tc.setup != nil {
					tc.setup()
					defer do.ClearFaults()
				}
				env := tc.env
				if env == nil {
					env = good
				}
				args := append([]string{"-o", format}, tc.args...)
				if tc.name == "bad -o" {
					args = tc.args
				}
				r := oxyctl(t, env, args...)
				max := tc.max
				if max == 0 {
					max = 10 * time.Second
				}
				if r.elapsed > max {
					t.Errorf("took %v, bound %v", r.elapsed, max)
				}
				checkError(t, r, tc.code, tc.kind, format == "json" && tc.name != "bad -o")
				if tc.setup != nil && tc.name == "bulk reset without tty or --yes" {
					if n, err := vc.Do(context.Background(), vc.B().Exists().Key("rl:198.51.100.23").Build()).AsInt64(); err != nil || n != 1 {
						t.Fatalf("a refused bulk reset deleted the counter (exists=%d, %v)", n, err)
					}
				}
				noSecrets(t, r.stdout, r.stderr)
			})
		}
		do.TakeViolations()
	}
	fmt.Fprintf(os.Stdout, "bad input: %d cases (%d inputs x text/json)\n", n, len(cases))
}
