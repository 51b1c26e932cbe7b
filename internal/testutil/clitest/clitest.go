// Package clitest runs oxyctl's entry point in tests as a person runs the
// binary (arguments, an environment, standard input, no terminal) and holds
// the small helpers the command tests share. Tests only: nothing shipped
// imports it.
//
// It does not import app, so that the tests inside the command packages
// (which app imports) can use it too: callers pass app.Run as Main.
package clitest

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/iostreams"
)

// Main is the entry point under test: app.Run.
type Main func(ctx context.Context, args []string, ios *iostreams.IOStreams, getenv config.Getenv) int

// RunTimeout bounds every run, so that a hung command fails its test
// instead of the whole test binary.
const RunTimeout = 60 * time.Second

// Result is the outcome of one run.
type Result struct {
	Code           int
	Stdout, Stderr string
	Elapsed        time.Duration
}

// Env is a clean environment for a run: a private HOME, XDG_CONFIG_HOME
// under it (so no config file is found), and env on top.
func Env(t testing.TB, env map[string]string) map[string]string {
	t.Helper()
	home := t.TempDir()
	out := map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, "xdg")}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// Run runs main with args under ctx (bounded by RunTimeout), with exactly
// the environment env (nothing of the process's) and stdin as standard
// input, and returns when main does.
func Run(ctx context.Context, main Main, env map[string]string, stdin string, args ...string) Result {
	ctx, cancel := context.WithTimeout(ctx, RunTimeout)
	defer cancel()
	ios, out, errOut := streams(stdin)
	start := time.Now()
	code := main(ctx, args, ios, getenv(env))
	return Result{Code: code, Stdout: out.String(), Stderr: errOut.String(), Elapsed: time.Since(start)}
}

// Running is a run in a goroutine whose streams can be read meanwhile.
type Running struct {
	Stdout, Stderr *Buffer
	cancel         context.CancelFunc
	done           chan Result
	res            *Result
}

// Start runs main in a goroutine, as Run does, under a context that Cancel
// ends (as Ctrl-C does). The test's cleanup cancels the run and waits for it.
func Start(t testing.TB, main Main, env map[string]string, args ...string) *Running {
	t.Helper()
	ios, out, errOut := streams("")
	r := &Running{Stdout: out, Stderr: errOut, done: make(chan Result, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), RunTimeout)
	r.cancel = cancel
	start := time.Now()
	go func() {
		code := main(ctx, args, ios, getenv(env))
		r.done <- Result{Code: code, Stdout: out.String(), Stderr: errOut.String(), Elapsed: time.Since(start)}
	}()
	t.Cleanup(func() {
		cancel()
		if r.res == nil {
			select {
			case <-r.done:
			case <-time.After(30 * time.Second):
				t.Errorf("oxyctl %v did not end after its context was cancelled", args)
			}
		}
	})
	return r
}

// Cancel ends the run's context, as Ctrl-C does.
func (r *Running) Cancel() { r.cancel() }

// Wait returns the result, failing the test when the run takes longer than d.
func (r *Running) Wait(t testing.TB, d time.Duration) Result {
	t.Helper()
	if r.res != nil {
		return *r.res
	}
	select {
	case res := <-r.done:
		r.res = &res
		return res
	case <-time.After(d):
		t.Fatalf("oxyctl still running after %s\nstdout: %s\nstderr: %s", d, r.Stdout.String(), r.Stderr.String())
	}
	return Result{}
}

// Finished reports whether the run has ended (without waiting).
func (r *Running) Finished() bool {
	if r.res != nil {
		return true
	}
	select {
	case res := <-r.done:
		r.res = &res
		return true
	default:
		return false
	}
}

func streams(stdin string) (*iostreams.IOStreams, *Buffer, *Buffer) {
	ios, _, _, _ := iostreams.Test()
	out, errOut := &Buffer{}, &Buffer{}
	ios.In, ios.Out, ios.ErrOut = strings.NewReader(stdin), out, errOut
	return ios, out, errOut
}

func getenv(env map[string]string) config.Getenv {
	return func(k string) string { return env[k] }
}

// ParseCmd runs a verb's cobra command, as build makes it, on args with no
// I/O (the verb's runF captures its options) and returns its error.
func ParseCmd(t testing.TB, build func(f *cmdutil.Factory) *cobra.Command, args []string) error {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.New(ios, func(string) string { return "" })
	cmd := build(f)
	cmd.SetArgs(args)
	cmd.SetFlagErrorFunc(cmdutil.FlagErrorFunc)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd.ExecuteContext(context.Background())
}

// IsUsage reports whether err is (or wraps) a UsageError.
func IsUsage(err error) bool {
	var ue *apperr.UsageError
	return errors.As(err, &ue)
}

// FixedNow is the clock of tests whose output shows times.
func FixedNow() time.Time { return time.Date(2026, 11, 30, 14, 45, 0, 0, time.UTC) }

// WaitFor polls cond every 5ms until it holds, or fails the test after d.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SetTTY sets every terminal answer of ios (stdin, stdout, stderr) to on.
func SetTTY(ios *iostreams.IOStreams, on bool) {
	ios.SetStdinTTY(on)
	ios.SetStdoutTTY(on)
	ios.SetStderrTTY(on)
}

// ansiRE is a terminal control sequence: ESC [, parameters, a final byte.
var ansiRE = regexp.MustCompile("\x1b\\[[^\x40-\x7e]*[\x40-\x7e]")

// StripANSI removes the terminal control sequences (colors, cursor moves)
// from s.
func StripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }
