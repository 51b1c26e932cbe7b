package app

import (
	"context"
	"debug/elf"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/iostreams"
)

// Signal handling is set up only when a command that does work starts:
// not for --help, version, help or completion.
func TestSignalsOnlyForWork(t *testing.T) {
	home := t.TempDir()
	getenv := func(k string) string {
		if k == "HOME" || k == "XDG_CONFIG_HOME" {
			return home
		}
		return ""
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--help"}, 0},
		{[]string{"limits", "--help"}, 0},
		{[]string{"version"}, 0},
		{[]string{"--version"}, 0},
		{[]string{"help", "limits"}, 0},
		{[]string{"completion", "bash"}, 0},
		{[]string{"config", "view"}, 1},
		{[]string{"limits", "list"}, 1}, // no URL: a config error, after start
	} {
		ios, _, _, _ := iostreams.Test()
		started := 0
		execute(context.Background(), tc.args, ios, getenv, func() { started++ })
		if started != tc.want {
			t.Errorf("%q: signal handling set up %d time(s), want %d", tc.args, started, tc.want)
		}
	}
}

// Once set up, SIGINT cancels the run's context, as signal.NotifyContext
// did for every run before.
func TestSignalsCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &signals{cancel: cancel, grace: time.Minute, errOut: io.Discard, exit: func(int) { t.Error("exited on the first signal") }}
	s.start()
	defer s.stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGINT did not cancel the context")
	}
}

// A second signal, or a command still running the grace period after the
// first, ends the process: 130 for Ctrl-C, 143 for SIGTERM. (Before: a run
// stuck in a blocked close ignored every signal.)
func TestSignalsAlwaysEnd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sigs  []syscall.Signal
		grace time.Duration
		want  int
	}{
		{"second Ctrl-C", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, time.Minute, 130},
		{"SIGTERM after Ctrl-C", []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}, time.Minute, 143},
		{"stuck after Ctrl-C", []syscall.Signal{syscall.SIGINT}, 100 * time.Millisecond, 130},
		{"stuck after SIGTERM", []syscall.Signal{syscall.SIGTERM}, 100 * time.Millisecond, 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			exited := make(chan int, 1)
			var errOut strings.Builder
			s := &signals{cancel: cancel, grace: tc.grace, errOut: &errOut, exit: func(code int) { exited <- code }}
			s.start()
			defer s.stop()
			for _, sig := range tc.sigs {
				if err := syscall.Kill(syscall.Getpid(), sig); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			select {
			case code := <-exited:
				if code != tc.want {
					t.Fatalf("exit %d, want %d", code, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the process was not ended")
			}
			if ctx.Err() == nil {
				t.Error("the first signal did not cancel the run")
			}
			if !strings.Contains(errOut.String(), "stopping now") {
				t.Errorf("stderr %q", errOut.String())
			}
		})
	}
}

// Nothing reachable may call reflect's Method or MethodByName with a name
// known only at run time (text/template does: cobra's SetVersionTemplate,
// SetUsageTemplate and AddTemplateFunc reach it). Then the linker keeps every
// exported method of every type, valkey-go's 4 MB of command builders
// included: the binary doubles and every start pays for it. This test binary
// links what oxyctl links, so it shows it.
func TestLinkerDropsUnusedMethods(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Skipf("not an ELF binary: %v", err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Skipf("no symbols: %v", err)
	}
	var size uint64
	for _, s := range syms {
		if strings.HasPrefix(s.Name, "github.com/valkey-io/valkey-go/internal/cmds.") {
			size += s.Size
		}
	}
	if size > 1<<20 {
		t.Fatalf("valkey-go's command builders take %d bytes: something reachable defeats the linker's dead code elimination (text/template?)", size)
	}
}
