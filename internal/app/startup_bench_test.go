package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkStartup compares `oxyctl --help` with `valkey-cli --version` in
// one run and reports the ratio (target: at most 1.1x). Start-up must stay
// cheap: nothing dials, reads a token or parses more than it needs before a
// command runs.
func BenchmarkStartup(b *testing.B) {
	cli, err := exec.LookPath("valkey-cli")
	if err != nil {
		if cli, err = exec.LookPath("redis-cli"); err != nil {
			b.Skip("no valkey-cli or redis-cli on PATH")
		}
	}
	bin := filepath.Join(b.TempDir(), "oxyctl")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "../../cmd/oxyctl")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatal(err)
	}
	runOnce := func(name string, args ...string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v: %s", name, err, out)
		}
		return time.Since(start)
	}
	// Warm the page cache for both.
	runOnce(bin, "--help")
	runOnce(cli, "--version")
	var ours, theirs time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ours += runOnce(bin, "--help")
		theirs += runOnce(cli, "--version")
	}
	b.StopTimer()
	b.ReportMetric(float64(ours.Microseconds())/float64(b.N), "oxyctl-us/op")
	b.ReportMetric(float64(theirs.Microseconds())/float64(b.N), "valkeycli-us/op")
	b.ReportMetric(float64(ours)/float64(theirs), "ratio")
}
