package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// valkeyServer is the sandbox's Valkey: a real valkey-server (or
// redis-server) from PATH when there is one, else an embedded
// Redis-compatible server, so that a machine with only Go works too.
type valkeyServer struct {
	Addr     string
	Kind     string // "valkey-server 8.0.1", "embedded"
	cmd      *exec.Cmd
	mini     *miniredis.Miniredis
	stopTick chan struct{}
}

func startValkey(ctx context.Context, dir, password string, forceEmbedded bool) (*valkeyServer, error) {
	if !forceEmbedded {
		for _, name := range []string{os.Getenv("VALKEY_SERVER"), "valkey-server", "redis-server"} {
			if name == "" {
				continue
			}
			if bin, err := exec.LookPath(name); err == nil {
				return startProcess(ctx, bin, dir, password)
			}
		}
	}
	m := miniredis.NewMiniRedis()
	m.RequireUserAuth("default", password)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	s := &valkeyServer{Addr: m.Addr(), Kind: "embedded Valkey-compatible server", mini: m, stopTick: make(chan struct{})}
	// The embedded server's clock only moves when told to: make TTLs run down.
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m.FastForward(250 * time.Millisecond)
			case <-s.stopTick:
				return
			}
		}
	}()
	return s, nil
}

func startProcess(ctx context.Context, bin, dir, password string) (*valkeyServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logPath := filepath.Join(dir, "valkey.log")
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", logPath, "--requirepass", password, "--maxmemory-policy", "noeviction")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &valkeyServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd}
	out, _ := exec.Command(bin, "--version").Output()
	s.Kind = string(bytes.TrimSpace(out))
	if i := bytes.Index(out, []byte(" sha=")); i > 0 {
		s.Kind = string(out[:i])
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(logPath); bytes.Contains(b, []byte("Ready to accept connections")) {
			return s, nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Close()
	return nil, fmt.Errorf("%s did not start on port %d", bin, port)
}

// Close stops the server.
func (s *valkeyServer) Close() {
	if s.mini != nil {
		close(s.stopTick)
		s.mini.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
}
