// Package valkeytest starts real valkey-server (or redis-server) processes on
// free loopback ports for tests: plaintext, TLS with a CA made in the test,
// password-protected, and a 3-primary Valkey Cluster. Every process is
// stopped in t.Cleanup.
//
// The server binary is found through $VALKEY_SERVER, then valkey-server, then
// redis-server on PATH. When CI (or OXYCTL_REQUIRE_SERVERS) is set a missing
// binary fails the test; otherwise the test is skipped with a hint.
package valkeytest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options selects what kind of server to start.
type Options struct {
	Password string
	TLS      bool
	// TLSFiles overrides the generated certificate (e.g. an expired one or
	// one for another host name); implies TLS.
	TLSFiles *TLSFiles
	// Args are extra server arguments, e.g. "--maxmemory-policy", "allkeys-lru".
	Args []string
	// Refused starts a server like DigitalOcean's managed Valkey: every
	// command of RefusedCommands is renamed away, scripting included.
	// Standalone only (CLUSTER is among them).
	Refused bool
}

// RefusedCommands are the commands DigitalOcean's managed Valkey refuses
// (reference/managed-valkey.md), scripting included, as Options.Refused
// renames them away.
var RefusedCommands = []string{
	"BGREWRITEAOF", "CLUSTER", "COMMAND", "DEBUG", "FAILOVER", "MIGRATE", "ROLE", "SLAVEOF",
	"ACL", "BGSAVE", "CONFIG", "LASTSAVE", "MONITOR", "REPLICAOF", "SAVE", "SHUTDOWN",
	"EVAL", "EVAL_RO", "EVALSHA", "EVALSHA_RO", "FCALL", "FCALL_RO", "FUNCTION", "SCRIPT",
}

// Server is one running server process.
type Server struct {
	Host     string
	Port     int
	Addr     string // "127.0.0.1:port"
	Password string
	URL      string // redis://[default:pw@]127.0.0.1:port, or rediss:// with TLS
	CAFile   string // PEM of the test CA when TLS
	Version  string // e.g. "8.0.1"
	Binary   string

	tls     *TLSFiles
	dir     string
	args    []string
	logPath string

	mu  sync.Mutex
	cmd *exec.Cmd
}

var (
	binOnce    sync.Once
	binPath    string
	binVersion string
	binErr     error
)

// RequireServers reports whether a missing server must fail rather than skip.
func RequireServers() bool {
	return os.Getenv("CI") != "" || os.Getenv("OXYCTL_REQUIRE_SERVERS") != ""
}

// Binary returns the server binary and its version, failing or skipping t
// when there is none.
func Binary(t testing.TB) (path, version string) {
	t.Helper()
	binOnce.Do(func() {
		binPath, binErr = findBinary()
		if binErr == nil {
			binVersion, binErr = serverVersion(binPath)
		}
	})
	if binErr != nil {
		msg := fmt.Sprintf("valkeytest: %v; install valkey-server (Debian 12: apt-get install -t bookworm-backports valkey-server) or redis-server, or set VALKEY_SERVER", binErr)
		if RequireServers() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return binPath, binVersion
}

func findBinary() (string, error) {
	if p := os.Getenv("VALKEY_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("VALKEY_SERVER=%s: %w", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"valkey-server", "redis-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no valkey-server or redis-server on PATH")
}

var versionRE = regexp.MustCompile(`v=([0-9][0-9.]*)`)

func serverVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s --version: unexpected output %q", bin, out)
	}
	return string(m[1]), nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("valkeytest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts one standalone server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, version := Binary(t)
	files := opts.TLSFiles
	if files == nil && opts.TLS {
		files = NewTLSFiles(t, "127.0.0.1", "localhost")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s := newServer(t, bin, version, opts, files, FreePort(t), nil)
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("valkeytest: start: %v", lastErr)
	return nil
}

func newServer(t testing.TB, bin, version string, opts Options, files *TLSFiles, port int, extra []string) *Server {
	dir := t.TempDir()
	s := &Server{
		Host: "127.0.0.1", Port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Password: opts.Password, Version: version, Binary: bin, tls: files, dir: dir,
		logPath: filepath.Join(dir, "server.log"),
	}
	args := []string{
		"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
		"--logfile", s.logPath, "--daemonize", "no", "--loglevel", "notice",
	}
	scheme := "redis"
	if files != nil {
		scheme = "rediss"
		s.CAFile = files.CAFile
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", files.CertFile, "--tls-key-file", files.KeyFile,
			"--tls-ca-cert-file", files.CAFile, "--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", strconv.Itoa(port))
	}
	if opts.Password != "" {
		args = append(args, "--requirepass", opts.Password, "--masterauth", opts.Password)
	}
	if opts.Refused {
		for _, c := range RefusedCommands {
			args = append(args, "--rename-command", c, "")
		}
	}
	args = append(args, opts.Args...)
	args = append(args, extra...)
	s.args = args
	cred := ""
	if opts.Password != "" {
		cred = "default:" + opts.Password + "@"
	}
	s.URL = fmt.Sprintf("%s://%s%s", scheme, cred, s.Addr)
	return s
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Truncate the log so readiness is judged on this run only.
	if err := os.WriteFile(s.logPath, nil, 0o600); err != nil {
		return err
	}
	cmd := exec.Command(s.Binary, s.args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("%s exited: %v: %s %s", filepath.Base(s.Binary), err, stderr.String(), tail(s.logPath))
		default:
		}
		if ready(s.logPath) {
			s.cmd = cmd
			go func() { <-exited }()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return fmt.Errorf("server on %s not ready after 15s: %s", s.Addr, tail(s.logPath))
}

func ready(logPath string) bool {
	b, err := os.ReadFile(logPath)
	return err == nil && bytes.Contains(b, []byte("Ready to accept connections"))
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// Stop kills the server now (it is also called in cleanup; calling it twice is fine).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	// Wait until the port is released, so a Restart can bind it again.
	for i := 0; i < 200; i++ {
		if err := syscall.Kill(s.cmd.Process.Pid, 0); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.cmd = nil
}

// Restart starts the server again on the same port with the same settings.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	var err error
	for i := 0; i < 50; i++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("valkeytest: restart %s: %v", s.Addr, err)
}

// Running reports whether the process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// LogContains reports whether the server log has a line containing sub.
func (s *Server) LogContains(sub string) bool {
	f, err := os.Open(s.logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.Contains(sc.Text(), sub) {
			return true
		}
	}
	return false
}
