// Package app is oxyctl's entry point: it builds the command tree, runs it
// under a context that Ctrl-C cancels, and turns the outcome into an exit
// code. It is the one place where errors become exit codes.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmd/root"
	"github.com/oxyhq/oxyctl/internal/cmd/version"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/redact"
)

// Main runs oxyctl with the process's arguments and streams. SIGINT and
// SIGTERM cancel the run's context, but only once a command that does work
// starts: --help, version and completion exit before any signal handling is
// set up (signal.Notify costs a goroutine and an OS thread at start).
//
// Nothing may keep the process alive after the user asked it to stop: a
// second signal ends it at once, and a command still running
// signalGrace after the first one is ended too (exit 130, or 143 for
// SIGTERM).
func Main() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ios := iostreams.System()
	sig := &signals{cancel: cancel, grace: signalGrace, errOut: ios.ErrOut, exit: os.Exit}
	defer sig.stop()
	code := execute(ctx, os.Args[1:], ios, os.Getenv, sig.start)
	if code == apperr.ExitInterrupted && sig.received() == syscall.SIGTERM {
		code = exitTerminated
	}
	return code
}

// signalGrace is how long a command may take to stop after Ctrl-C or
// SIGTERM before the process ends without it.
const signalGrace = 5 * time.Second

// exitTerminated is a shell's code for a process that SIGTERM ended.
const exitTerminated = 143

// Run runs oxyctl with args and returns the exit code. Tests call it directly.
func Run(ctx context.Context, args []string, ios *iostreams.IOStreams, getenv config.Getenv) int {
	return execute(ctx, args, ios, getenv, nil)
}

// execute is Run; onStart, when set, is called as a command that does work
// starts (after flags are parsed, before its run hooks).
func execute(ctx context.Context, args []string, ios *iostreams.IOStreams, getenv config.Getenv, onStart func()) (code int) {
	f := cmdutil.New(ios, getenv)
	cmd := root.NewCmdRoot(f)
	cmd.SetArgs(args)
	cmd.SetIn(ios.In)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)

	stdout, stderr := ios.Out, ios.ErrOut
	defer func() { ios.Flush(); ios.Out, ios.ErrOut = stdout, stderr }()
	if onStart != nil {
		f.OnStart = func(c *cobra.Command) {
			if !quiet(c) {
				onStart()
			}
		}
	}

	defer func() {
		if r := recover(); r != nil {
			err := apperr.Runtime(apperr.KindInternal, fmt.Errorf("internal error (a bug): %v", r), "please report it with the command you ran")
			if f.Flags.Verbose {
				fmt.Fprintln(ios.ErrOut, redact.String(string(debug.Stack())))
			}
			code = report(ios, f, err)
		}
	}()

	err := cmd.ExecuteContext(ctx)
	if f.JQ != nil {
		// What is left of the output, and a filter error the command did
		// not see (its exit code wins when it has one).
		if jerr := f.JQ.Close(); jerr != nil && err == nil {
			err = jerr
		}
	}
	if err != nil && !f.Started && !isTyped(err) {
		// cobra's own complaints (unknown command, wrong arguments).
		err = &apperr.UsageError{Err: err}
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = apperr.ErrInterrupted
	}
	if err == nil {
		return apperr.ExitOK
	}
	return report(ios, f, err)
}

// quiet reports whether c only prints something of oxyctl itself (help,
// version, completion scripts): it needs no signal handling.
func quiet(c *cobra.Command) bool {
	if version.Requested(c) {
		return true
	}
	for p := c; p != nil; p = p.Parent() {
		switch p.Name() {
		case "help", "version", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			return true
		}
	}
	return false
}

// signals cancels the run's context on the first SIGINT or SIGTERM, from
// start until stop, as signal.NotifyContext does.
type signals struct {
	cancel context.CancelFunc
	grace  time.Duration
	errOut io.Writer
	exit   func(code int) // os.Exit; tests replace it

	ch   chan os.Signal
	done chan struct{}
	mu   sync.Mutex
	got  os.Signal // the first signal, if any
}

func (s *signals) start() {
	if s.ch != nil {
		return
	}
	s.ch = make(chan os.Signal, 2)
	s.done = make(chan struct{})
	signal.Notify(s.ch, os.Interrupt, syscall.SIGTERM)
	go s.watch()
}

// watch cancels the run on the first signal; on a second one, or when the
// run has not ended within the grace period, it ends the process.
func (s *signals) watch() {
	var stuck <-chan time.Time
	for {
		select {
		case sig := <-s.ch:
			s.mu.Lock()
			first := s.got == nil
			if first {
				s.got = sig
			}
			s.mu.Unlock()
			if first {
				s.cancel()
				stuck = time.After(s.grace)
				continue
			}
			fmt.Fprintln(s.errOut, "oxyctl: interrupted again: stopping now")
			s.exit(exitCode(sig))
			return
		case <-stuck:
			fmt.Fprintf(s.errOut, "oxyctl: still running %s after the interrupt: stopping now\n", s.grace)
			s.exit(exitCode(s.received()))
			return
		case <-s.done:
			return
		}
	}
}

// received is the first signal, or nil.
func (s *signals) received() os.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

func exitCode(sig os.Signal) int {
	if sig == syscall.SIGTERM {
		return exitTerminated
	}
	return apperr.ExitInterrupted
}

func (s *signals) stop() {
	if s.ch == nil {
		return
	}
	signal.Stop(s.ch)
	close(s.done)
}

func isTyped(err error) bool {
	var ue *apperr.UsageError
	var ce *apperr.ConfigError
	var fe *apperr.FindingsError
	var re *apperr.RuntimeError
	return errors.As(err, &ue) || errors.As(err, &ce) || errors.As(err, &fe) || errors.As(err, &re)
}

// report prints err (one line, plus a hint line in text) and returns its code.
func report(ios *iostreams.IOStreams, f *cmdutil.Factory, err error) int {
	code, kind := apperr.Classify(err)
	msg := apperr.Text(err)
	hint := redact.String(apperr.OneLine(apperr.HintOf(err)))
	if code == apperr.ExitUsage && kind == "usage" && hint == "" {
		hint = "run 'oxyctl --help' for usage"
	}
	if code == apperr.ExitFindings && msg == "" {
		return code
	}
	if f.Format() == output.JSON {
		e := map[string]any{}
		for k, v := range apperr.FieldsOf(err) {
			e[k] = v
		}
		e["kind"], e["message"] = kind, msg
		if hint != "" {
			e["hint"] = hint
		}
		b, _ := output.MarshalLine(map[string]any{"error": e})
		_, _ = ios.ErrOut.Write(b)
		return code
	}
	fmt.Fprintf(ios.ErrOut, "oxyctl: %s\n", msg)
	if hint != "" {
		fmt.Fprintf(ios.ErrOut, "hint: %s\n", hint)
	}
	return code
}
