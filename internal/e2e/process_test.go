package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/hostile"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// The built binary, without the race detector, for what only a process
// shows: its peak memory, its exit code after a signal.
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func builtOxyctl(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "oxyctl-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "oxyctl")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/oxyhq/oxyctl/cmd/oxyctl")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}

type procResult struct {
	code    int
	stderr  string
	elapsed time.Duration
}

// runProcess runs the binary with a clean environment; signal, when set, is
// sent after delay.
func runProcess(t *testing.T, env map[string]string, signal syscall.Signal, delay time.Duration, args ...string) procResult {
	t.Helper()
	cmd := exec.Command(builtOxyctl(t), args...)
	home := t.TempDir()
	cmd.Env = []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "xdg"), "NO_COLOR=1", "PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if signal != 0 {
		time.AfterFunc(delay, func() { _ = cmd.Process.Signal(signal) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		<-ctx.Done()
		_ = cmd.Process.Kill() // the test's own bound: never leave a process behind
	}()
	_ = cmd.Wait()
	return procResult{code: cmd.ProcessState.ExitCode(), stderr: errOut.String(), elapsed: time.Since(start)}
}

// Every malformed reply, as a process: exit 3 within the timeout, one
// line, no stack trace. (The in-process matrix bounds what each run
// allocates: a process's ru_maxrss here would count the test binary too,
// since Go starts children with vfork and Linux keeps the high-water mark
// across exec.)
func TestHostileProcessExit(t *testing.T) {
	for name, bad := range hostile.Malformed {
		t.Run(name, func(t *testing.T) {
			s := hostile.Start(t, func(args []string) string {
				if args[0] == "GET" || args[0] == "INFO" {
					return bad
				}
				return ""
			})
			r := runProcess(t, map[string]string{"OXYCTL_REDIS_URL": "redis://" + s.Addr}, 0, 0, "--timeout", "2s", "limits", "get", "203.0.113.7")
			if r.code != 3 || strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if r.elapsed > 3*time.Second {
				t.Errorf("took %s", r.elapsed)
			}
		})
	}
}

// A server that stops answering: SIGINT and SIGTERM end the command at once,
// with 130 and 143, long before --timeout.
func TestHostileProcessSignals(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		want int
		args []string
	}{
		{syscall.SIGINT, 130, []string{"limits", "get", "203.0.113.7"}},
		{syscall.SIGTERM, 143, []string{"limits", "get", "203.0.113.7"}},
		{syscall.SIGINT, 130, []string{"limits", "list"}},
		{syscall.SIGTERM, 143, []string{"pubsub", "channels"}},
		{syscall.SIGTERM, 143, []string{"limits", "reset", "--all", "--yes"}},
		{syscall.SIGINT, 130, []string{"clients"}},
	} {
		t.Run(tc.sig.String()+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			s := hostile.Start(t, func(args []string) string {
				switch args[0] {
				case "GET", "SCAN", "PUBSUB", "CLIENT":
					return hostile.Hang
				}
				return ""
			})
			r := runProcess(t, map[string]string{"OXYCTL_REDIS_URL": "redis://" + s.Addr}, tc.sig, 500*time.Millisecond,
				append([]string{"--timeout", "60s"}, tc.args...)...)
			if r.code != tc.want {
				t.Fatalf("exit %d, want %d: %s", r.code, tc.want, r.stderr)
			}
			if r.elapsed > 3*time.Second {
				t.Errorf("took %s to end after the signal", r.elapsed)
			}
		})
	}
}

// Ctrl-C while `clients` waits for DigitalOcean (its address lookups):
// an interruption (130), not a report whose lookups
// "failed" (it printed the whole report and exited 0).
func TestClientsInterruptedWhileDigitalOceanAnswers(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	do := dostub.Start(t)
	do.Inject(dostub.Fault{Op: "databases_list_clusters", Delay: 30 * time.Second})
	r := runProcess(t, map[string]string{"OXYCTL_REDIS_URL": srv.URL, "DIGITALOCEAN_ACCESS_TOKEN": do.Token(), "DIGITALOCEAN_API_URL": do.URL},
		syscall.SIGINT, 700*time.Millisecond, "--timeout", "60s", "clients")
	if r.code != 130 || r.elapsed > 3*time.Second {
		t.Fatalf("exit %d after %s, want 130 at once: %s", r.code, r.elapsed, r.stderr)
	}
}
