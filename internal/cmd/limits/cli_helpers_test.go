package limits_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

// cli runs oxyctl through app.Run (the real entry point, run by clitest)
// with no terminal, a private config home and the given environment.
type cli struct {
	env map[string]string
}

// newCLI points oxyctl at redisURL, with a config file holding yamlLimiters
// (a YAML list, or "" for the built-in default limiter).
func newCLI(t *testing.T, redisURL, yamlLimiters string) *cli {
	t.Helper()
	home := t.TempDir()
	if yamlLimiters != "" {
		dir := filepath.Join(home, "oxyctl")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		conf := "current_context: test\ncontexts:\n  test:\n    limiters:\n" + yamlLimiters
		if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &cli{env: map[string]string{
		"XDG_CONFIG_HOME":  home,
		"HOME":             home,
		"OXYCTL_REDIS_URL": redisURL,
		"NO_COLOR":         "1",
	}}
}

// run returns the exit code, stdout and stderr.
func (c *cli) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return c.runIn(t, "", args...)
}

func (c *cli) runIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	r := clitest.Run(context.Background(), app.Run, c.env, stdin, args...)
	return r.Code, r.Stdout, r.Stderr
}

// mustRun fails the test unless oxyctl exits 0.
func (c *cli) mustRun(t *testing.T, args ...string) []byte {
	t.Helper()
	code, out, errOut := c.run(t, args...)
	if code != 0 {
		t.Fatalf("oxyctl %q: exit %d\nstderr: %s", args, code, errOut)
	}
	return []byte(out)
}
