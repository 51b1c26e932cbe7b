package app

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkStartup compares `oxyctl --help` and `oxyctl version` with
// `valkey-cli --version` side by side: each round runs the three once, in
// turn, so a busy machine slows them alike, and the medians over b.N rounds
// are compared (target: at most 1.1x). Start-up must stay cheap: nothing
// dials, reads a token, sets up signal handling or parses more than it needs
// before a command runs. `make bench` prints it; -benchtime 400x is the
// run the target is measured with.
func BenchmarkStartup(b *testing.B) {
	cli, err := exec.LookPath("valkey-cli")
	if err != nil {
		if cli, err = exec.LookPath("redis-cli"); err != nil {
			b.Skip("no valkey-cli or redis-cli on PATH")
		}
	}
	bin := os.Getenv("OXYCTL_BIN") // an already built binary, e.g. bin/oxyctl
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "oxyctl")
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "../../cmd/oxyctl")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			b.Fatal(err)
		}
	}
	runs := []struct {
		name string
		argv []string
	}{
		{"help", []string{bin, "--help"}},
		{"version", []string{bin, "version"}},
		{"valkeycli", []string{cli, "--version"}},
	}
	runOnce := func(argv []string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v: %s", argv[0], err, out)
		}
		return time.Since(start)
	}
	for _, r := range runs { // warm the page cache
		runOnce(r.argv)
	}
	times := make([][]time.Duration, len(runs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, r := range runs {
			times[j] = append(times[j], runOnce(r.argv))
		}
	}
	b.StopTimer()
	med := make([]time.Duration, len(runs))
	for j := range runs {
		slices.Sort(times[j])
		med[j] = times[j][len(times[j])/2]
		b.ReportMetric(float64(med[j].Microseconds()), runs[j].name+"-us")
	}
	b.ReportMetric(float64(med[0])/float64(med[2]), "help-ratio")
	b.ReportMetric(float64(med[1])/float64(med[2]), "version-ratio")
	if b.N > 1 {
		fmt.Printf("start-up, median of %d interleaved runs: oxyctl --help %s, oxyctl version %s, valkey-cli --version %s; ratio --help %.2fx, version %.2fx (target <= 1.1x)\n",
			b.N, med[0].Round(10*time.Microsecond), med[1].Round(10*time.Microsecond), med[2].Round(10*time.Microsecond),
			float64(med[0])/float64(med[2]), float64(med[1])/float64(med[2]))
	}
}
