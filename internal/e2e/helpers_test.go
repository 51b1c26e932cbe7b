package e2e

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

// Known secrets: no output, error or file may ever contain them.
const (
	password = "E2e-Valkey-Pw-7731"
	token    = "dop_v1_e2etoken00000000000000000000000000000000000000000000000000"
)

type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// oxyctl runs the real entry point in-process with a clean environment.
func oxyctl(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return resultOf(clitest.Run(context.Background(), app.Run, cleanEnv(t, env), "", args...))
}

// cleanEnv is a private HOME, no color, and env.
func cleanEnv(t *testing.T, env map[string]string) map[string]string {
	e := map[string]string{"NO_COLOR": "1"}
	for k, v := range env {
		e[k] = v
	}
	return clitest.Env(t, e)
}

func resultOf(r clitest.Result) result {
	return result{code: r.Code, stdout: r.Stdout, stderr: r.Stderr, elapsed: r.Elapsed}
}

// checkError asserts the shape of a failed run: exit code, one line on
// stderr (a JSON error object with -o json), nothing on stdout, no panic.
func checkError(t *testing.T, r result, code int, kind string, jsonMode bool) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "internal error") || strings.Contains(r.stderr, "panic") {
		t.Fatalf("panic or internal error: %s", r.stderr)
	}
	if code == 0 || code == 1 {
		return
	}
	if strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("stdout on error: %q", r.stdout)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if jsonMode {
		var e struct {
			Error struct{ Kind, Message string }
		}
		last := lines[len(lines)-1]
		if err := json.Unmarshal([]byte(last), &e); err != nil || e.Error.Message == "" {
			t.Fatalf("last stderr line is not a JSON error: %q", r.stderr)
		}
		if kind != "" && e.Error.Kind != kind {
			t.Fatalf("kind %q, want %q: %s", e.Error.Kind, kind, last)
		}
		return
	}
	var errLines []string
	for _, l := range lines {
		if strings.HasPrefix(l, "oxyctl: ") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 {
		t.Fatalf("want exactly one 'oxyctl: ' error line, got %q", r.stderr)
	}
}

func noSecrets(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, secret := range []string{password, token} {
			if strings.Contains(s, secret) {
				t.Fatalf("secret %q shown in:\n%s", secret[:6]+"…", s)
			}
		}
	}
}

// blackhole is a loopback listener that accepts and never answers.
func blackhole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func refused(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
