package app

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
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
	s := &signals{cancel: cancel}
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

// gojq is linked for --jq; its init must cost nothing when --jq is not
// given (third_party/gojq builds its tables on the first Compile).
func TestGojqInitIsCheap(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, _ := cmd.CombinedOutput()
	m := regexp.MustCompile(`init github.com/itchyny/gojq @.* (\d+) allocs`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no init trace of gojq in:\n%s", out)
	}
	if n, _ := strconv.Atoi(string(m[1])); n > 100 {
		t.Fatalf("gojq's init allocates %d times at every start", n)
	}
}
