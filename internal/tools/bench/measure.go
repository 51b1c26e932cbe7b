package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/ratelimit"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// timed runs a command and returns its wall time and peak RSS in KiB.
//
// The peak RSS is the child's own VmHWM, sampled from /proc every few
// milliseconds: rusage's ru_maxrss would also count this (large) benchmark
// process, because Go starts children with vfork and Linux carries the old
// memory's high-water mark across exec.
func (e *env) timed(ctx context.Context, redisURL string, stdout *bytes.Buffer, name string, args ...string) (time.Duration, int64, error) {
	return e.timedEnv(ctx, []string{"OXYCTL_REDIS_URL=" + redisURL}, stdout, name, args...)
}

// timedEnv is timed with the environment variables env (NAME=value) set.
func (e *env) timedEnv(ctx context.Context, env []string, stdout *bytes.Buffer, name string, args ...string) (time.Duration, int64, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append(os.Environ(), env...), "NO_COLOR=1", "XDG_CONFIG_HOME="+filepath.Join(e.dir, "config"))
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if stdout != nil {
		cmd.Stdout = stdout
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	var hwm atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if kb := vmHWM(status); kb > hwm.Load() {
				hwm.Store(kb)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	d := time.Since(start)
	close(done)
	<-sampled
	if err != nil {
		return d, 0, fmt.Errorf("%s %v: %v: %s", name, args, err, errOut.String())
	}
	e.lastCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return d, hwm.Load(), nil
}

// vmHWM reads the peak resident set (KiB) from a /proc/<pid>/status file.
func vmHWM(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func (e *env) shell(ctx context.Context, script string) (time.Duration, error) {
	d, _, err := e.timed(ctx, "", nil, "sh", "-c", script)
	return d, err
}

func (e *env) benchList(ctx context.Context, s *server) error {
	fmt.Println("\nlimits list --top 20 -o json (standalone)")
	p := strconv.Itoa(s.port)
	scan := fmt.Sprintf("%s -p %s --scan --count 1000 --pattern 'rl:*' > /dev/null", e.cli, p)
	// The fastest valkey-cli pipeline that also fetches every value and TTL:
	// RESP for GET+PTTL of each scanned key, streamed into --pipe (which reads
	// every reply but prints only a count).
	pipe := fmt.Sprintf(`%s -p %s --scan --count 1000 --pattern 'rl:*' | awk '{printf "*2\r\n$3\r\nGET\r\n$%%d\r\n%%s\r\n*2\r\n$4\r\nPTTL\r\n$%%d\r\n%%s\r\n", length($0), $0, length($0), $0}' | %s -p %s --pipe > /dev/null`, e.cli, p, e.cli, p)
	// The fastest valkey-cli pipeline that prints every value and TTL: a Lua
	// script doing GET + PTTL for 10,000 keys per valkey-cli --eval, fed by
	// xargs. (Smaller batches spend their time starting valkey-cli: 500 keys
	// a call take three times as long. Each call blocks the server for tens
	// of milliseconds, which no one should do to a production server.)
	script := filepath.Join(e.dir, "getpttl.lua")
	lua := "local r = {}\nfor _, k in ipairs(KEYS) do\n  r[#r+1] = k\n  r[#r+1] = redis.pcall('GET', k)\n  r[#r+1] = redis.call('PTTL', k)\nend\nreturn r\n"
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
		return err
	}
	eval := fmt.Sprintf("%s -p %s --scan --count 1000 --pattern 'rl:*' | xargs -n 10000 -s 1000000 %s -p %s --eval %s > /dev/null", e.cli, p, e.cli, p, script)
	var oxy, bare, vals, evals []time.Duration
	var rss int64
	var scanned int64
	var cpuList, cpuScan, cpuPipe, cpuClient []time.Duration
	for range *flagRuns {
		var out bytes.Buffer
		c0 := s.cpu(ctx)
		d, r, err := e.timed(ctx, s.url(), &out, e.oxyctl, "limits", "list", "--top", "20", "-o", "json")
		if err != nil {
			return err
		}
		cpuList, cpuClient = append(cpuList, s.cpu(ctx)-c0), append(cpuClient, e.lastCPU)
		var res ratelimit.ListResult
		if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.Clients) != 20 {
			return fmt.Errorf("oxyctl list output: %v (%d clients)", err, len(res.Clients))
		}
		scanned = res.ScannedKeys
		oxy, rss = append(oxy, d), max(rss, r)
		fmt.Printf("    run: oxyctl list %s, peak RSS %.1f MiB\n", secs(d), float64(r)/1024)
		c0 = s.cpu(ctx)
		if d, err = e.shell(ctx, scan); err != nil {
			return err
		}
		bare = append(bare, d)
		cpuScan = append(cpuScan, s.cpu(ctx)-c0)
		c0 = s.cpu(ctx)
		if d, err = e.shell(ctx, pipe); err != nil {
			return err
		}
		vals = append(vals, d)
		cpuPipe = append(cpuPipe, s.cpu(ctx)-c0)
		if d, err = e.shell(ctx, eval); err != nil {
			return err
		}
		evals = append(evals, d)
	}
	mo, mb, mv, me := median(oxy), median(bare), median(vals), median(evals)
	e.report(fmt.Sprintf("oxyctl list (%d keys scanned)", scanned), secs(mo), "", true)
	e.report("valkey-cli --scan --count 1000", secs(mb), "", true)
	e.report("valkey-cli --scan | GET+PTTL RESP into --pipe (no values shown)", secs(mv), "", true)
	e.report("valkey-cli --scan | xargs -n 10000 valkey-cli --eval GET+PTTL", secs(me), "", true)
	e.report("list / bare scan", fmt.Sprintf("%.2fx", mo.Seconds()/mb.Seconds()), "<= 2.0x", mo.Seconds() <= 2*mb.Seconds())
	e.report("  server CPU: list / bare scan", fmt.Sprintf("%s / %s = %.2fx", secs(median(cpuList)), secs(median(cpuScan)), median(cpuList).Seconds()/median(cpuScan).Seconds()), "", true)
	// Both are bound by the server's one thread: no client is faster than
	// the server's own work for SCAN + GET + PTTL.
	e.report("  server CPU: --pipe GET+PTTL pipeline", secs(median(cpuPipe)), "", true)
	e.report("  oxyctl's own CPU (user+sys)", secs(median(cpuClient)), "", true)
	e.report("--eval value pipeline / list (speed-up)", fmt.Sprintf("%.2fx", me.Seconds()/mo.Seconds()), ">= 2x", me.Seconds() >= 2*mo.Seconds())
	e.report("--pipe GET+PTTL / list (speed-up)", fmt.Sprintf("%.2fx", mv.Seconds()/mo.Seconds()), ">= 2x", mv.Seconds() >= 2*mo.Seconds())
	e.report("oxyctl list peak RSS", fmt.Sprintf("%.1f MiB", float64(rss)/1024), "< 32 MiB", rss < 32*1024)
	if *flagSlowCLI {
		text := fmt.Sprintf(`%s -p %s --scan --count 1000 --pattern 'rl:*' | awk '{print "GET " $0; print "PTTL " $0}' | %s -p %s > /dev/null`, e.cli, p, e.cli, p)
		d, err := e.shell(ctx, text)
		if err != nil {
			return err
		}
		e.report("valkey-cli text mode GET+PTTL (prints values)", secs(d), "", true)
		e.report("text-mode pipeline / list (speed-up)", fmt.Sprintf("%.2fx", d.Seconds()/mo.Seconds()), "", true)
	}
	return nil
}

func (e *env) benchReset(ctx context.Context) error {
	n, other := *flagResetKeys, *flagResetKeys/5
	fmt.Printf("\nlimits reset --all --yes on %d counters (+%d other keys)\n", n, other)
	s, err := e.startServer(ctx, false)
	if err != nil {
		return err
	}
	defer s.stop()
	p := strconv.Itoa(s.port)
	xargs := fmt.Sprintf("%s -p %s --scan --count 1000 --pattern 'rl:*' | xargs -n 1000 %s -p %s unlink > /dev/null", e.cli, p, e.cli, p)
	check := func(what string) error {
		left, err := s.dbsize(ctx)
		if err != nil {
			return err
		}
		if left != int64(other) {
			return fmt.Errorf("%s left %d keys, want the %d other keys", what, left, other)
		}
		return nil
	}
	var oxy, xa []time.Duration
	for range *flagRuns {
		for _, which := range []string{"oxyctl", "xargs"} {
			if err := s.client.Do(ctx, s.client.B().Flushall().Build()).Error(); err != nil {
				return err
			}
			if err := e.load(ctx, []*server{s}, n, other); err != nil {
				return err
			}
			var d time.Duration
			if which == "oxyctl" {
				d, _, err = e.timed(ctx, s.url(), nil, e.oxyctl, "limits", "reset", "--all", "--yes", "-o", "json")
				oxy = append(oxy, d)
			} else {
				d, err = e.shell(ctx, xargs)
				xa = append(xa, d)
			}
			if err != nil {
				return err
			}
			if err := check(which); err != nil {
				return err
			}
		}
	}
	mo, mx := median(oxy), median(xa)
	e.report("oxyctl reset --all --yes", secs(mo), "", true)
	e.report("valkey-cli --scan | xargs -n 1000 valkey-cli unlink", secs(mx), "", true)
	e.report("xargs / reset (speed-up)", fmt.Sprintf("%.2fx", mx.Seconds()/mo.Seconds()), ">= 1.3x", mx.Seconds() >= 1.3*mo.Seconds())
	return nil
}

func (e *env) benchCluster(ctx context.Context) error {
	fmt.Printf("\ncluster of 3 primaries: %d counters + %d other keys\n", *flagKeys, *flagUnrelated)
	nodes, err := e.startCluster(ctx)
	if err != nil {
		return err
	}
	defer func() {
		for _, n := range nodes {
			n.stop()
		}
	}()
	if err := e.load(ctx, nodes, *flagKeys, *flagUnrelated); err != nil {
		return err
	}
	conn, err := valkeyclient.Connect(ctx, valkeyclient.Options{URL: nodes[0].url()})
	if err != nil {
		return err
	}
	defer conn.Close()
	prims, err := conn.Primaries(ctx)
	if err != nil {
		return err
	}
	l := ratelimit.DefaultLimiter()
	var par, seq, bin []time.Duration
	cpu := map[int][2][]time.Duration{} // by Parallel: client, servers
	for range *flagRuns {
		for _, parallel := range []int{ratelimit.DefaultParallel, 1} {
			var s0 time.Duration
			for _, n := range nodes {
				s0 += n.cpu(ctx)
			}
			c0 := selfCPU()
			if *flagProfile != "" && parallel != 1 {
				f, err := os.Create(*flagProfile)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
			}
			start := time.Now()
			res, err := ratelimit.List(ctx, prims, l, ratelimit.ListOptions{Top: 20, Scan: ratelimit.ScanOptions{Parallel: parallel}})
			if *flagProfile != "" && parallel != 1 {
				pprof.StopCPUProfile()
			}
			if err != nil {
				return err
			}
			client := selfCPU() - c0
			for _, n := range nodes {
				s0 -= n.cpu(ctx)
			}
			c := cpu[parallel]
			cpu[parallel] = [2][]time.Duration{append(c[0], client), append(c[1], -s0)}
			if len(res.Clients) != 20 {
				return fmt.Errorf("cluster list returned %d clients", len(res.Clients))
			}
			if parallel == 1 {
				seq = append(seq, time.Since(start))
			} else {
				par = append(par, time.Since(start))
			}
		}
		d, _, err := e.timed(ctx, nodes[0].url(), nil, e.oxyctl, "limits", "list", "--top", "20", "-o", "json")
		if err != nil {
			return err
		}
		bin = append(bin, d)
	}
	mp, ms := median(par), median(seq)
	e.report("primaries in parallel (ratelimit.List)", secs(mp), "", true)
	e.report("primaries one after another (Parallel: 1)", secs(ms), "", true)
	e.report("oxyctl limits list on the cluster (binary)", secs(median(bin)), "", true)
	e.report("parallel / sequential", fmt.Sprintf("%.2fx", mp.Seconds()/ms.Seconds()), "<= 0.65x", mp.Seconds() <= 0.65*ms.Seconds())
	for _, p := range []int{ratelimit.DefaultParallel, 1} {
		name := "  CPU, parallel: client / 3 servers"
		if p == 1 {
			name = "  CPU, one after another: client / 3 servers"
		}
		e.report(name, fmt.Sprintf("%s / %s", secs(median(cpu[p][0])), secs(median(cpu[p][1]))), "", true)
	}
	// On n CPUs the parallel scan cannot beat (client + servers) / n.
	floor := (median(cpu[ratelimit.DefaultParallel][0]) + median(cpu[ratelimit.DefaultParallel][1])) / time.Duration(min(runtime.NumCPU(), 4))
	e.report("  CPU-bound floor of the parallel scan / sequential", fmt.Sprintf("%.2fx", floor.Seconds()/ms.Seconds()), "", true)
	e.report("  CPUs available", fmt.Sprint(runtime.NumCPU()), "", true)
	return nil
}

func (e *env) benchProxy(ctx context.Context, s *server) error {
	fmt.Printf("\nlimits list through a proxy adding %s each way\n", *flagDelay)
	px, err := startProxy(s.addr, *flagDelay)
	if err != nil {
		return err
	}
	defer px.Close()
	var direct, far []time.Duration
	var rss int64
	for range *flagRuns {
		d, _, err := e.timed(ctx, s.url(), nil, e.oxyctl, "limits", "list", "--top", "20", "-o", "json")
		if err != nil {
			return err
		}
		direct = append(direct, d)
		d, r, err := e.timed(ctx, "redis://"+px.Addr(), nil, e.oxyctl, "limits", "list", "--top", "20", "-o", "json")
		if err != nil {
			return err
		}
		far, rss = append(far, d), max(rss, r)
	}
	md, mf := median(direct), median(far)
	e.report("list, direct", secs(md), "", true)
	e.report(fmt.Sprintf("list, +%s each way", *flagDelay), secs(mf), "", true)
	e.report("  peak RSS through the proxy", fmt.Sprintf("%.1f MiB", float64(rss)/1024), "< 32 MiB", rss < 32*1024)
	e.report("far / direct", fmt.Sprintf("%.2fx", mf.Seconds()/md.Seconds()), "<= 2x", mf.Seconds() <= 2*md.Seconds())
	return nil
}

// benchPace measures what a concurrent client (one connection, one GET at a
// time, as an API instance's limiter does) sees during a full scan.
func (e *env) benchPace(ctx context.Context, s *server) error {
	fmt.Printf("\nlatency of a concurrent client during a full scan\n")
	probe, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{s.addr}, DisableCache: true, ForceSingleClient: true})
	if err != nil {
		return err
	}
	defer probe.Close()
	measure := func(during func() error) ([]time.Duration, time.Duration, error) {
		var (
			mu   sync.Mutex
			lats []time.Duration
			stop = make(chan struct{})
			done = make(chan struct{})
		)
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				t := time.Now()
				_ = probe.Do(ctx, probe.B().Get().Key("rl:10.0.0.1").Build()).Error()
				mu.Lock()
				lats = append(lats, time.Since(t))
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
		start := time.Now()
		err := during()
		took := time.Since(start)
		close(stop)
		<-done
		return lats, took, err
	}
	row := func(name string, lats []time.Duration, took time.Duration) {
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		q := func(p float64) time.Duration { return lats[min(len(lats)-1, int(p*float64(len(lats))))] }
		e.report(name, fmt.Sprintf("p50 %s p99 %s max %s", ms(q(0.5)), ms(q(0.99)), ms(lats[len(lats)-1])), "", true)
		if took > 0 {
			e.report("  watched for", secs(took), "", true)
		}
	}
	idle, _, _ := measure(func() error { time.Sleep(2 * time.Second); return nil })
	row("idle server", idle, 0)
	full, took, err := measure(func() error {
		_, _, err := e.timed(ctx, s.url(), nil, e.oxyctl, "limits", "list", "-o", "json")
		return err
	})
	if err != nil {
		return err
	}
	row("during list (no pace)", full, took)
	for _, pace := range strings.Split(*flagPace, ",") {
		pace = strings.TrimSpace(pace)
		// A slow pace would take minutes on a million keys: watch 10 s of it.
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		paced, took, err := measure(func() error {
			_, _, err := e.timed(pctx, s.url(), nil, e.oxyctl, "limits", "list", "-o", "json", "--pace", pace)
			if pctx.Err() != nil {
				return nil // stopped after the window, as intended
			}
			return err
		})
		cancel()
		if err != nil {
			return err
		}
		row("during list --pace "+pace, paced, took)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// selfCPU is this process's user+sys CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
