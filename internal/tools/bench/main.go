// Command bench measures `oxyctl limits` and `oxyctl clients` against valkey-cli on a local
// valkey-server, and prints the ratios the product targets:
//
//   - list --top 20 on 1,000,000 counters + 200,000 other keys, against a bare
//     `valkey-cli --scan` (target <= 2.0x) and the fastest valkey-cli pipeline
//     that also fetches values and TTLs (target: oxyctl >= 2x faster), with
//     oxyctl's peak RSS (target < 32 MiB);
//   - reset --all --yes on 100,000 counters against
//     `valkey-cli --scan | xargs -n 1000 valkey-cli unlink` (target >= 1.3x faster);
//   - a 3-primary cluster scanned in parallel against the same scan of the
//     primaries one after another (target <= 0.65x);
//   - list through a proxy that adds 10 ms each way, against no proxy
//     (target <= 2x);
//   - the p50/p99 latency a concurrent client sees during a full scan, with
//     and without --pace;
//   - list --watch: 10 rounds on the same counters, each round's scan against
//     one list (target <= 1.0x), with the watch's peak RSS (target < 48 MiB);
//   - health with every check against local servers and stand-ins: the wall
//     time against the slowest check's latency (target: at most 50 ms more).
//   - clients -o json and clients (text) with 10,000 connections open (target
//     < 1 s and < 32 MiB RSS each), next to valkey-cli CLIENT LIST.
//
// Run it from the repository (it builds ./cmd/oxyctl): go run ./internal/tools/bench
// It needs valkey-server and valkey-cli (or VALKEY_SERVER / VALKEY_CLI) on PATH.
// Numbers depend on the machine; every measurement is the median of -runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/repo"
)

var (
	flagKeys      = flag.Int("keys", 1000000, "rate-limit counters to load")
	flagUnrelated = flag.Int("unrelated", 200000, "other keys to load")
	flagResetKeys = flag.Int("reset-keys", 100000, "counters for the reset benchmark")
	flagRuns      = flag.Int("runs", 3, "runs per measurement (the median is reported)")
	flagDelay     = flag.Duration("delay", 10*time.Millisecond, "latency the proxy adds in each direction")
	flagPace      = flag.String("pace", "100000,20000", "--pace values for the latency benchmark (keys per second; each paced scan is watched for at most 10s)")
	flagOnly      = flag.String("only", "", "comma-separated subset: list,reset,cluster,proxy,pace,watch,health,clients")
	flagClients   = flag.Int("clients", 10000, "connections open during the clients benchmark")
	flagProfile   = flag.String("cpuprofile", "", "write a CPU profile of the in-process cluster scans (parallel) to this file")
	flagSlowCLI   = flag.Bool("slow-cli", false, "also time valkey-cli reading GET/PTTL from stdin (one round trip per command; minutes)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type env struct {
	dir     string
	oxyctl  string
	server  string
	cli     string
	results []result
	lastCPU time.Duration // user+sys of the last command timed
}

type result struct {
	name, value, target, verdict string
}

func (e *env) report(name, value, target string, ok bool) {
	verdict := "ok"
	if !ok {
		verdict = "MISSED"
	}
	if target == "" {
		verdict = ""
	}
	e.results = append(e.results, result{name, value, target, verdict})
	fmt.Printf("  %-58s %-28s %-14s %s\n", name, value, target, verdict)
}

func want(name string) bool {
	if *flagOnly == "" {
		return true
	}
	for _, s := range strings.Split(*flagOnly, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}

func run() error {
	root, err := repo.Root()
	if err != nil {
		return fmt.Errorf("run from inside the oxyctl repository (%w)", err)
	}
	dir, err := os.MkdirTemp("", "oxyctl-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	e := &env{dir: dir}
	if e.server, err = lookup("VALKEY_SERVER", "valkey-server", "redis-server"); err != nil {
		return err
	}
	if e.cli, err = lookup("VALKEY_CLI", "valkey-cli", "redis-cli"); err != nil {
		return err
	}
	e.oxyctl = filepath.Join(dir, "oxyctl")
	build := exec.Command("go", "build", "-o", e.oxyctl, "./cmd/oxyctl")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/oxyctl: %w", err)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("oxyctl limits benchmarks: %d counters + %d other keys, %d runs each (median), %d CPUs, %s/%s, load %s\n",
		*flagKeys, *flagUnrelated, *flagRuns, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, strings.Fields(string(load) + " ?")[0])

	ctx := context.Background()
	if want("list") || want("proxy") || want("pace") || want("watch") {
		s, err := e.startServer(ctx, false)
		if err != nil {
			return err
		}
		defer s.stop()
		start := time.Now()
		if err := e.load(ctx, []*server{s}, *flagKeys, *flagUnrelated); err != nil {
			return err
		}
		fmt.Printf("loaded %d keys in %s\n", *flagKeys+*flagUnrelated, time.Since(start).Round(time.Millisecond))
		if want("list") {
			if err := e.benchList(ctx, s); err != nil {
				return err
			}
		}
		if want("proxy") {
			if err := e.benchProxy(ctx, s); err != nil {
				return err
			}
		}
		if want("pace") {
			if err := e.benchPace(ctx, s); err != nil {
				return err
			}
		}
		if want("watch") {
			if err := e.benchWatch(ctx, s); err != nil {
				return err
			}
		}
		s.stop()
	}
	if want("reset") {
		if err := e.benchReset(ctx); err != nil {
			return err
		}
	}
	if want("cluster") {
		if err := e.benchCluster(ctx); err != nil {
			return err
		}
	}
	if want("health") {
		if err := e.benchHealth(ctx); err != nil {
			return err
		}
	}
	if want("clients") {
		if err := e.benchClients(ctx); err != nil {
			return err
		}
	}
	fmt.Println("\nsummary")
	for _, r := range e.results {
		fmt.Printf("  %-58s %-28s %-14s %s\n", r.name, r.value, r.target, r.verdict)
	}
	return nil
}

func lookup(envName string, names ...string) (string, error) {
	if p := os.Getenv(envName); p != "" {
		return p, nil
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("none of %v on PATH (or set %s)", names, envName)
}

// median returns the middle value.
func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
