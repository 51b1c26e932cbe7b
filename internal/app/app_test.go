package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

// run runs oxyctl in-process with a clean environment plus env.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r := clitest.Run(context.Background(), Run, clitest.Env(t, env), "", args...)
	return r.Code, r.Stdout, r.Stderr
}

func TestExitCodesAndErrorShapes(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		kind     string
		stderrIn string
	}{
		{"help", []string{"--help"}, nil, 0, "", ""},
		{"version", []string{"version"}, nil, 0, "", ""},
		{"unknown command", []string{"frobnicate"}, nil, 2, "usage", `unknown command "frobnicate"`},
		{"unknown flag", []string{"version", "--frob"}, nil, 2, "usage", "unknown flag: --frob"},
		{"bad duration", []string{"--timeout", "soon", "version"}, nil, 2, "usage", "invalid argument"},
		{"bad output", []string{"-o", "yaml", "version"}, nil, 2, "usage", "invalid output format"},
		{"extra argument", []string{"version", "extra"}, nil, 2, "usage", "takes no arguments"},
		{"missing context", []string{"--context", "nope", "config", "view"}, nil, 2, "config", `context "nope" not found`},
		{"empty config", []string{"--config", "", "config", "view"}, nil, 2, "usage", "--config needs a file name"},
		{"missing OXYCTL_CONFIG", []string{"config", "view"}, map[string]string{"OXYCTL_CONFIG": "/nonexistent/oxyctl.yaml"}, 2, "config", "cannot read config file"},
		{"bad env timeout", []string{"config", "view"}, map[string]string{"OXYCTL_TIMEOUT": "-1s"}, 2, "config", "invalid timeout"},
	}
	for _, tc := range cases {
		for _, format := range []string{"text", "json"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				code, stdout, stderr := run(t, tc.env, append([]string{"-o", format}, tc.args...)...)
				if tc.name == "bad output" {
					code, stdout, stderr = run(t, tc.env, tc.args...)
					format = "text"
				}
				if code != tc.code {
					t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr)
				}
				if tc.code == 0 {
					if stderr != "" {
						t.Fatalf("stderr on success: %q", stderr)
					}
					return
				}
				if stdout != "" {
					t.Fatalf("stdout on error: %q", stdout)
				}
				if format == "json" {
					var e struct {
						Error struct{ Kind, Message string }
					}
					if err := json.Unmarshal([]byte(stderr), &e); err != nil || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
						t.Fatalf("stderr is not one JSON line: %q (%v)", stderr, err)
					}
					if e.Error.Kind != tc.kind || !strings.Contains(e.Error.Message, tc.stderrIn) {
						t.Fatalf("error %+v, want kind %q containing %q", e.Error, tc.kind, tc.stderrIn)
					}
					return
				}
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				if !strings.HasPrefix(lines[0], "oxyctl: ") || !strings.Contains(lines[0], tc.stderrIn) || len(lines) > 2 || (len(lines) == 2 && !strings.HasPrefix(lines[1], "hint: ")) {
					t.Fatalf("stderr %q: want one error line containing %q and at most a hint", stderr, tc.stderrIn)
				}
			})
		}
	}
}

func TestVersionJSON(t *testing.T) {
	code, stdout, _ := run(t, nil, "version", "-o", "json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, k := range []string{"version", "commit", "date", "go_version"} {
		if v[k] == "" {
			t.Errorf("version JSON lacks %q: %v", k, v)
		}
	}
}

func TestConfigViewRedacts(t *testing.T) {
	const pw, token = "pw-Very-Secret-1", "dop_v1_topsecrettoken"
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	body := "current_context: prod\ncontexts:\n  prod:\n    redis:\n      url: rediss://default:" + pw + "@db.example.com:25061\n    digitalocean:\n      token: " + token + "\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--config", cfg, "config", "view"},
		{"--config", cfg, "config", "view", "-o", "json"},
		{"--config", cfg, "config", "view", "-v"},
		{"--config", cfg, "--redis-url", "redis://u:" + pw + "@db.example.com:1", "config", "view", "-o", "json"},
	} {
		code, stdout, stderr := run(t, map[string]string{"DIGITALOCEAN_ACCESS_TOKEN": token}, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		all := stdout + stderr
		if strings.Contains(all, pw) || strings.Contains(all, token) {
			t.Fatalf("%v: secret shown:\n%s", args, all)
		}
		if !strings.Contains(stdout, "***") {
			t.Fatalf("%v: no mask in %s", args, stdout)
		}
	}
}

func TestConfigPath(t *testing.T) {
	code, stdout, _ := run(t, map[string]string{"XDG_CONFIG_HOME": "/x/y"}, "config", "path")
	if code != 0 || strings.TrimSpace(stdout) != "/x/y/oxyctl/config.yaml" {
		t.Fatalf("exit %d path %q", code, stdout)
	}
	code, stdout, _ = run(t, nil, "--config", "/a/b.yaml", "config", "path")
	if code != 0 || strings.TrimSpace(stdout) != "/a/b.yaml" {
		t.Fatalf("exit %d path %q", code, stdout)
	}
}

func TestVersionFlag(t *testing.T) {
	_, flag, _ := run(t, nil, "--version")
	_, cmd, _ := run(t, nil, "version")
	if flag != cmd || !strings.HasPrefix(flag, "oxyctl ") {
		t.Fatalf("--version %q, version %q", flag, cmd)
	}
}

func TestNoHeaders(t *testing.T) {
	_, with, _ := run(t, nil, "config", "view")
	code, without, _ := run(t, nil, "config", "view", "--no-headers")
	if code != 0 || !strings.HasPrefix(with, "SETTING") || strings.Contains(without, "SETTING") || !strings.HasPrefix(without, "config file") {
		t.Fatalf("exit %d; with headers %q; --no-headers %q", code, with, without)
	}
}

// `oxyctl help environment` lists every environment variable the product
// code reads (tests, test helpers and the sandbox aside).
func TestHelpEnvironment(t *testing.T) {
	code, stdout, _ := run(t, nil, "help", "environment")
	if code != 0 || !strings.HasPrefix(stdout, "Every environment variable") {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	name := regexp.MustCompile(`"((?:OXYCTL|OXY|DIGITALOCEAN|REDIS|XDG|NO|CLICOLOR)_[A-Z_]*|HOME|TERM|COLUMNS|CLICOLOR)"`)
	seen := 0
	for _, root := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testutil" || d.Name() == "sandbox" || d.Name() == "bench" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range name.FindAllStringSubmatch(string(b), -1) {
				seen++
				if !regexp.MustCompile(`\b` + m[1] + `\b`).MatchString(stdout) {
					t.Errorf("%s reads %s, which 'help environment' does not list", p, m[1])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if seen < 10 {
		t.Fatalf("found only %d environment variables in the code", seen)
	}
}

func TestContexts(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	body := "# mine\ncurrent_context: prod\ncontexts:\n  prod:\n    redis:\n      url: rediss://default:pw-Secret-9@db.example.com:25061\n  staging:\n    digitalocean:\n      cluster: db-staging\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OXYCTL_CONFIG": cfg}
	code, stdout, _ := run(t, env, "config", "get-contexts")
	want := "CURRENT  NAME     REDIS URL                                  CLUSTER\n*        prod     rediss://default:***@db.example.com:25061\n         staging                                             db-staging\n"
	if code != 0 || stdout != want {
		t.Fatalf("get-contexts: exit %d:\n%s\nwant:\n%s", code, stdout, want)
	}
	code, stdout, stderr := run(t, env, "config", "use-context", "staging")
	if code != 0 || !strings.Contains(stdout, `switched to context "staging"`) {
		t.Fatalf("use-context: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = run(t, env, "config", "get-contexts", "--jq", ".current_context, (.contexts[] | select(.current) | .name)")
	if code != 0 || stdout != "staging\nstaging\n" {
		t.Fatalf("after use-context: exit %d, %q", code, stdout)
	}
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"config", "use-context", "nope"}, 2, `context "nope" not found`},
		{[]string{"config", "use-context"}, 2, "want exactly one context name"},
		{[]string{"config", "use-context", "a", "b"}, 2, "want exactly one context name"},
	} {
		code, _, stderr := run(t, env, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.err) {
			t.Errorf("%q: exit %d, stderr %q", tc.args, code, stderr)
		}
	}
	if b, _ := os.ReadFile(cfg); string(b) != strings.Replace(body, "current_context: prod", "current_context: staging", 1) {
		t.Fatalf("config file after use-context:\n%s", b)
	}
}
