package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
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
	s := &valkeyServer{Addr: m.Addr(), Kind: "embedded Valkey-compatible server (miniredis " + miniredisVersion() + ")", mini: m, stopTick: make(chan struct{})}
	answerInfo(m, password, time.Now())
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

// miniredisVersion is the version of the embedded server's module, "2.40.0":
// from the build info, or (test binaries carry no dependencies there) from the
// module path compiled into its source file names, ".../miniredis/v2@v2.40.0/...".
func miniredisVersion() string {
	const module = "github.com/alicebob/miniredis/v2"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == module && d.Version != "" && d.Version != "(devel)" {
				return strings.TrimPrefix(d.Version, "v")
			}
		}
	}
	if fn := runtime.FuncForPC(reflect.ValueOf(miniredis.NewMiniRedis).Pointer()); fn != nil {
		file, _ := fn.FileLine(fn.Entry())
		if _, rest, ok := strings.Cut(file, module+"@v"); ok {
			if v, _, ok := strings.Cut(rest, "/"); ok {
				return v
			}
		}
	}
	return "unknown"
}

// answerInfo makes the embedded server say what it is: miniredis answers INFO
// with its clients and stats sections only, which `health` showed as a
// versionless "redis". It now answers, to an authenticated client, a server
// section naming itself the way Valkey does (server_name, NAME_version), with
// its uptime and clients: nothing it does not know (memory, role) is made up.
func answerInfo(m *miniredis.Miniredis, password string, started time.Time) {
	version := miniredisVersion()
	var mu sync.Mutex
	authed := map[*server.Peer]bool{}
	m.Server().SetPreHook(func(c *server.Peer, cmd string, args ...string) bool {
		switch cmd {
		case "AUTH", "HELLO":
			// AUTH [user] pass; HELLO ver AUTH user pass ...: note who will be let in
			ok := len(args) > 0 && args[len(args)-1] == password
			if cmd == "HELLO" {
				ok = false
				for i := 0; i+2 < len(args); i++ {
					if strings.EqualFold(args[i], "AUTH") && args[i+2] == password {
						ok = true
					}
				}
			}
			if ok {
				mu.Lock()
				if _, seen := authed[c]; !seen {
					c.OnDisconnect(func() { mu.Lock(); delete(authed, c); mu.Unlock() })
				}
				authed[c] = true
				mu.Unlock()
			}
			return false
		case "INFO":
			mu.Lock()
			ok := authed[c]
			mu.Unlock()
			if !ok || len(args) > 1 || (len(args) == 1 && !slices.Contains([]string{"server", "default", "all", "everything"}, strings.ToLower(args[0]))) {
				return false // miniredis answers (NOAUTH, its own sections, errors)
			}
			c.WriteBulk(fmt.Sprintf("# Server\r\nserver_name:miniredis\r\nminiredis_version:%s\r\nuptime_in_seconds:%d\r\n\r\n# Clients\r\nconnected_clients:%d\r\n",
				version, int64(time.Since(started).Seconds()), m.Server().ClientsLen()))
			return true
		}
		return false
	})
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
