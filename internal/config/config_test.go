package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

const sample = `current_context: prod
contexts:
  prod:
    redis:
      url: rediss://default:ctx-secret@db.example.com:25061
      ca_file: ~/ca.crt
    api:
      url: https://ctx.example.com
    digitalocean:
      token: dop_v1_ctxtoken
      cluster: ctx-cluster
    timeout: 7s
    limiters:
      - name: api
        prefix: "rl:"
        limit: 150
        window: 15m
      - name: auth
        prefix: "rl-auth:"
        limit: 5
        window: 1m
        express_rate_limit: 7
    socketio:
      key: oxy
      expected_instances: 6
    firewall:
      allow:
        - droplet: oxy-api-backend
  staging:
    redis:
      url: redis://127.0.0.1:6379
`

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestPrecedence(t *testing.T) {
	path := writeConfig(t, sample)
	type want struct{ url, api, cluster, timeout, src string }
	cases := []struct {
		name  string
		flags map[string]string
		env   map[string]string
		want  want
	}{
		{"context", nil, map[string]string{"HOME": "/home/op"},
			want{"rediss://default:ctx-secret@db.example.com:25061", "https://ctx.example.com", "ctx-cluster", "7s", "context"}},
		{"env over context", nil, map[string]string{"REDIS_URL": "redis://127.0.0.1:1", "OXY_API_URL": "http://env", "OXYCTL_CLUSTER": "env-cluster", "OXYCTL_TIMEOUT": "3s"},
			want{"redis://127.0.0.1:1", "http://env", "env-cluster", "3s", "env REDIS_URL"}},
		{"OXYCTL_REDIS_URL over REDIS_URL", nil, map[string]string{"REDIS_URL": "redis://127.0.0.1:1", "OXYCTL_REDIS_URL": "redis://127.0.0.1:2"},
			want{"redis://127.0.0.1:2", "https://ctx.example.com", "ctx-cluster", "7s", "env OXYCTL_REDIS_URL"}},
		{"flag over env", map[string]string{"redis-url": "redis://127.0.0.1:3", "api-url": "http://flag", "cluster": "flag-cluster", "timeout": "2s"},
			map[string]string{"OXYCTL_REDIS_URL": "redis://127.0.0.1:2", "OXY_API_URL": "http://env", "OXYCTL_CLUSTER": "env-cluster", "OXYCTL_TIMEOUT": "3s"},
			want{"redis://127.0.0.1:3", "http://flag", "flag-cluster", "2s", "flag"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fl := &Flags{ConfigPath: path, Changed: func(n string) bool { _, ok := tc.flags[n]; return ok }}
			fl.RedisURL, fl.APIURL, fl.Cluster = tc.flags["redis-url"], tc.flags["api-url"], tc.flags["cluster"]
			if v, ok := tc.flags["timeout"]; ok {
				fl.Timeout, _ = time.ParseDuration(v)
			}
			s, err := Resolve(fl, env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			got := want{s.RedisURL, s.APIURL, s.Cluster, s.Timeout.String(), s.Sources["redis_url"]}
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDefaultsWithoutFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Resolve(&Flags{}, env(map[string]string{"XDG_CONFIG_HOME": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if s.ConfigFound || s.ConfigPath != filepath.Join(dir, "oxyctl", "config.yaml") {
		t.Fatalf("path %q found %v", s.ConfigPath, s.ConfigFound)
	}
	if s.RedisURL != "" || s.APIURL != DefaultAPIURL || s.DOAPIURL != DefaultDOAPIURL || s.Cluster != DefaultCluster || s.Timeout != DefaultTimeout || s.DOToken != "" {
		t.Fatalf("defaults wrong: %+v", s)
	}
	if len(s.Limiters) != 1 || s.Limiters[0] != DefaultLimiter() {
		t.Fatalf("limiters = %+v", s.Limiters)
	}
	if s.SocketIO.Key != "socket.io" {
		t.Fatalf("socket.io key %q", s.SocketIO.Key)
	}
}

func TestContextSelectionAndContents(t *testing.T) {
	path := writeConfig(t, sample)
	s, err := Resolve(&Flags{ConfigPath: path}, env(map[string]string{"HOME": "/home/op", "DIGITALOCEAN_TOKEN": "dop_v1_envtoken2"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.Context != "prod" || s.RedisCA != "/home/op/ca.crt" || s.DOToken != "dop_v1_envtoken2" {
		t.Fatalf("context %q ca %q token from %s", s.Context, s.RedisCA, s.Sources["do_token"])
	}
	if len(s.Limiters) != 2 || s.Limiters[1].Name != "auth" || s.Limiters[1].WindowDuration != time.Minute || s.Limiters[1].ExpressRateLimit != 7 || s.Limiters[1].IPv6Subnet != 56 {
		t.Fatalf("limiters = %+v", s.Limiters)
	}
	if s.SocketIO.Key != "oxy" || s.SocketIO.ExpectedInstances != 6 || s.Firewall == nil {
		t.Fatalf("socketio %+v firewall %v", s.SocketIO, s.Firewall)
	}
	// DIGITALOCEAN_ACCESS_TOKEN wins over DIGITALOCEAN_TOKEN.
	s, _ = Resolve(&Flags{ConfigPath: path}, env(map[string]string{"DIGITALOCEAN_TOKEN": "dop_v1_b", "DIGITALOCEAN_ACCESS_TOKEN": "dop_v1_a"}))
	if s.DOToken != "dop_v1_a" {
		t.Fatalf("token = %q", s.DOToken)
	}
	// OXYCTL_CONTEXT over current_context; --context over OXYCTL_CONTEXT.
	s, err = Resolve(&Flags{ConfigPath: path}, env(map[string]string{"OXYCTL_CONTEXT": "staging"}))
	if err != nil || s.Context != "staging" || s.RedisURL != "redis://127.0.0.1:6379" || s.Firewall != nil {
		t.Fatalf("staging: %+v %v", s, err)
	}
	fl := &Flags{ConfigPath: path, Context: "prod", Changed: func(n string) bool { return n == "context" }}
	s, err = Resolve(fl, env(map[string]string{"OXYCTL_CONTEXT": "staging"}))
	if err != nil || s.Context != "prod" {
		t.Fatalf("flag context: %v %v", s, err)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name, body string
		flags      *Flags
		env        map[string]string
		contains   string
	}{
		{"unknown key names file and line", "contexts:\n  prod:\n    redis:\n      urll: x\n", nil, nil, ":4: unknown key \"urll\""},
		{"wrong type", "contexts:\n  prod:\n    limiters:\n      - name: api\n        limit: lots\n", nil, nil, ":5:"},
		{"yaml syntax", "contexts: [\n", nil, nil, "config.yaml:"},
		{"missing context", sample, &Flags{Context: "nope", Changed: func(n string) bool { return n == "context" }}, nil, `context "nope" not found`},
		{"bad env timeout", sample, nil, map[string]string{"OXYCTL_TIMEOUT": "soon"}, `invalid timeout "soon" (from env OXYCTL_TIMEOUT)`},
		{"bad limiter window", "contexts:\n  p:\n    limiters:\n      - name: a\n        window: forever\ncurrent_context: p\n", nil, nil, `invalid window "forever"`},
		{"bad erl version", "contexts:\n  p:\n    limiters:\n      - name: a\n        express_rate_limit: 6\ncurrent_context: p\n", nil, nil, "must be 7 or 8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.body)
			fl := tc.flags
			if fl == nil {
				fl = &Flags{}
			}
			fl.ConfigPath = path
			_, err := Resolve(fl, env(tc.env))
			if code, _ := apperr.Classify(err); code != 2 {
				t.Fatalf("code %d for %v", code, err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("error %q does not contain %q", err, tc.contains)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
	// --config naming a missing file is an error; the default path missing is not.
	if _, err := Resolve(&Flags{ConfigPath: filepath.Join(t.TempDir(), "none.yaml")}, env(nil)); err == nil {
		t.Fatal("missing --config file accepted")
	}
}

// The config file: --config, then OXYCTL_CONFIG, then the XDG default. A
// file that is named (flag or env) must exist; the default may be missing.
func TestConfigFileEnv(t *testing.T) {
	path := writeConfig(t, sample)
	other := writeConfig(t, "current_context: staging\ncontexts:\n  staging: {}\n")
	xdg := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
	withEnv := map[string]string{"XDG_CONFIG_HOME": xdg["XDG_CONFIG_HOME"], "OXYCTL_CONFIG": path}

	if got := Path(&Flags{}, env(xdg)); got != filepath.Join(xdg["XDG_CONFIG_HOME"], "oxyctl", "config.yaml") {
		t.Fatalf("default path %q", got)
	}
	if got := Path(&Flags{}, env(withEnv)); got != path {
		t.Fatalf("OXYCTL_CONFIG: path %q, want %q", got, path)
	}
	if got := Path(&Flags{ConfigPath: other}, env(withEnv)); got != other {
		t.Fatalf("--config over OXYCTL_CONFIG: path %q, want %q", got, other)
	}
	s, err := Resolve(&Flags{}, env(withEnv))
	if err != nil || s.Context != "prod" || !s.ConfigFound {
		t.Fatalf("OXYCTL_CONFIG not read: %+v, %v", s, err)
	}
	missing := map[string]string{"OXYCTL_CONFIG": filepath.Join(t.TempDir(), "nope.yaml")}
	if _, err := Resolve(&Flags{}, env(missing)); !isConfigErr(err) {
		t.Fatalf("a missing file named by OXYCTL_CONFIG: %v, want a config error", err)
	}
}

func TestEmptyConfigFlag(t *testing.T) {
	fl := &Flags{Changed: func(name string) bool { return name == "config" }}
	_, err := Resolve(fl, env(nil))
	var ue *apperr.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("--config '': %v, want a usage error", err)
	}
}

func isConfigErr(err error) bool {
	var ce *apperr.ConfigError
	return errors.As(err, &ce)
}

// database.settings is kept for the dbsettings package; an unknown key
// beside it is an error naming the line.
func TestDatabaseSettingsBlock(t *testing.T) {
	good := "current_context: p\ncontexts:\n  p:\n    database:\n      settings:\n        maxmemory_policy: allkeys-lru\n        timeout: 0\n"
	f, err := Parse("c.yaml", []byte(good))
	if err != nil || f.Contexts["p"].Database.Settings.Kind == 0 || f.Contexts["p"].Database.Settings.Line != 6 {
		t.Fatalf("%v", err)
	}
	_, err = Parse("c.yaml", []byte("contexts:\n  p:\n    database:\n      setings: {}\n"))
	if err == nil || !strings.Contains(err.Error(), "c.yaml:4") || !strings.Contains(err.Error(), "setings") {
		t.Fatalf("%v", err)
	}
}
