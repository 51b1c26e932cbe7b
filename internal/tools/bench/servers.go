package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/ratelimit"
)

// server is one valkey-server process started for the benchmark.
type server struct {
	port   int
	addr   string
	cmd    *exec.Cmd
	client valkey.Client // a plain client for setup
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts a valkey-server on a free port (three tries: a port
// found free may be taken before the server binds it).
// extra are more server arguments.
func (e *env) startServer(ctx context.Context, cluster bool, extra ...string) (*server, error) {
	var err error
	for range 3 {
		var s *server
		if s, err = e.startServerOnce(ctx, cluster, extra); err == nil {
			return s, nil
		}
	}
	return nil, err
}

func (e *env) startServerOnce(ctx context.Context, cluster bool, extra []string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(e.dir, "server-")
	if err != nil {
		return nil, err
	}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "log"), "--daemonize", "no"}
	if cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
	}
	args = append(args, extra...)
	cmd := exec.Command(e.server, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{port: port, addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("valkey-server on %s did not start", s.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.client, err = valkey.NewClient(valkey.ClientOption{InitAddress: []string{s.addr}, DisableCache: true, ForceSingleClient: true})
	if err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *server) stop() {
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func (s *server) url() string { return "redis://" + s.addr }

// cpu is the server's used CPU (user + sys) so far.
func (s *server) cpu(ctx context.Context) time.Duration {
	info, err := s.client.Do(ctx, s.client.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		for _, f := range []string{"used_cpu_user:", "used_cpu_sys:"} {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), f); ok {
				x, _ := strconv.ParseFloat(v, 64)
				total += x
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

func (s *server) dbsize(ctx context.Context) (int64, error) {
	return s.client.Do(ctx, s.client.B().Dbsize().Build()).AsInt64()
}

// startCluster starts 3 cluster-enabled primaries, splits the slots and waits
// for cluster_state:ok.
func (e *env) startCluster(ctx context.Context) ([]*server, error) {
	var nodes []*server
	fail := func(err error) ([]*server, error) {
		for _, n := range nodes {
			n.stop()
		}
		return nil, err
	}
	for range 3 {
		s, err := e.startServer(ctx, true)
		if err != nil {
			return fail(err)
		}
		nodes = append(nodes, s)
	}
	per := 16384 / len(nodes)
	for i, n := range nodes {
		lo, hi := i*per, (i+1)*per-1
		if i == len(nodes)-1 {
			hi = 16383
		}
		if err := n.client.Do(ctx, n.client.B().ClusterAddslotsrange().StartSlotEndSlot().StartSlotEndSlot(int64(lo), int64(hi)).Build()).Error(); err != nil {
			return fail(err)
		}
	}
	for _, n := range nodes[1:] {
		if err := nodes[0].client.Do(ctx, nodes[0].client.B().ClusterMeet().Ip("127.0.0.1").Port(int64(n.port)).Build()).Error(); err != nil {
			return fail(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for _, n := range nodes {
			info, err := n.client.Do(ctx, n.client.B().ClusterInfo().Build()).ToString()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				ok = false
			}
		}
		if ok {
			return nodes, nil
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("cluster did not reach cluster_state:ok"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// load writes `counters` rate-limit counters (values 1-400, expiries from 10
// to 15 minutes) and `other` unrelated keys, with valkey-cli --pipe; on a
// cluster each node gets the keys of its slots.
func (e *env) load(ctx context.Context, nodes []*server, counters, other int) error {
	rng := rand.New(rand.NewPCG(42, uint64(counters)))
	bufs := make([]*bytes.Buffer, len(nodes))
	ws := make([]*bufio.Writer, len(nodes))
	for i := range nodes {
		bufs[i] = &bytes.Buffer{}
		ws[i] = bufio.NewWriter(bufs[i])
	}
	owner := func(key string) int {
		if len(nodes) == 1 {
			return 0
		}
		return min(int(ratelimit.HashSlot(key))/(16384/len(nodes)), len(nodes)-1) // as startCluster splits them
	}
	for i := range counters {
		var key string
		if i%4 == 3 { // a quarter are IPv6 /56 subnet keys, as erl 8 writes them
			key = fmt.Sprintf("rl:2001:db8:%x:%x00::/56", i>>8, i&0xff)
		} else {
			key = fmt.Sprintf("rl:10.%d.%d.%d", i>>16, (i>>8)&0xff, i&0xff)
		}
		hits := strconv.Itoa(1 + rng.IntN(400))
		// Expiries of 10 to 15 minutes: no counter expires while a run
		// measures (expiring keys would change the data between runs).
		px := strconv.Itoa(600000 + rng.IntN(300000))
		writeRESP(ws[owner(key)], "SET", key, hits, "PX", px)
	}
	for i := range other {
		key := fmt.Sprintf("sess:%d", i)
		if i%2 == 1 {
			key = fmt.Sprintf("rl2:x%d", i) // a prefix that an unescaped rl* would catch
		}
		writeRESP(ws[owner(key)], "SET", key, "x")
	}
	for i, n := range nodes {
		if err := ws[i].Flush(); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, e.cli, "-h", "127.0.0.1", "-p", strconv.Itoa(n.port), "--pipe")
		cmd.Stdin = bufs[i]
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "errors: 0") {
			return fmt.Errorf("valkey-cli --pipe: %v: %s", err, out)
		}
	}
	for _, n := range nodes {
		if err := n.settle(ctx); err != nil {
			return err
		}
	}
	return nil
}

// settle waits until the server has finished growing its hash tables.
// Loading a million keys leaves the keyspace table in the middle of an
// incremental rehash (1M to 2M buckets) that the server finishes in the
// background within a minute or so; until then every lookup and SCAN visits
// two tables, and timings swing by a third from run to run. A production
// server spends almost all of its life settled, so the benchmark measures
// that. (A server that does not report the field is taken as settled.)
func (s *server) settle(ctx context.Context) error {
	start := time.Now()
	for {
		info, err := s.client.Do(ctx, s.client.B().Info().Section("memory").Build()).ToString()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "mem_overhead_db_hashtable_rehashing:") || strings.Contains(info, "mem_overhead_db_hashtable_rehashing:0\r") {
			if d := time.Since(start); d > time.Second {
				fmt.Printf("  (%s finished rehashing its tables after %s)\n", s.addr, d.Round(time.Second))
			}
			return nil
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("%s still rehashing after 5 minutes", s.addr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func writeRESP(w *bufio.Writer, args ...string) {
	fmt.Fprintf(w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
	}
}
