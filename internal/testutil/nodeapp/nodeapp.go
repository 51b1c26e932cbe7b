// Package nodeapp starts the real Node.js apps in testdata/interop for
// interop tests: an Express app limited by express-rate-limit 8 or 7 with
// the rate-limit-redis store, and a harness of two Socket.IO servers that
// share @socket.io/redis-adapter (classic or sharded). They write to Valkey
// exactly what the Oxy API writes, so oxyctl can be tested against the
// libraries themselves instead of against our reading of them.
//
// The apps' npm dependencies are installed by testdata/interop/install.sh
// (npm ci from the committed lock files). When they are missing, or node is
// missing, a test is skipped with that hint, and fails when CI (or
// OXYCTL_REQUIRE_SERVERS) is set.
//
// Every app is stopped in t.Cleanup: stdin is closed (the apps exit when it
// closes, so they also go away when the test binary dies), then SIGTERM,
// then SIGKILL.
package nodeapp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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

	"github.com/oxyhq/oxyctl/internal/testutil/repo"
)

// StampFile is written into node_modules by install.sh: the SHA-256 of the
// package-lock.json that node_modules was installed from.
const StampFile = ".oxyctl-lock.sha256"

// DefaultReadyTimeout is how long Start waits for the app's READY line.
const DefaultReadyTimeout = 30 * time.Second

// Limiter configures one express-rate-limit instance of the rate-limit app.
// Zero values take the app's defaults.
type Limiter struct {
	Name   string `json:"name,omitempty"`
	Path   string `json:"path,omitempty"`   // route it guards (all methods and sub-paths); first limiter: /api
	Prefix string `json:"prefix,omitempty"` // store prefix; default "rl:" (the library's default)
	// WindowMs is the window in milliseconds (default 900000, 15 min).
	WindowMs int64 `json:"windowMs,omitempty"`
	// Limit is the number of requests allowed per window (default 150).
	Limit int `json:"limit,omitempty"`
	// StandardHeaders: "draft-6", "draft-7" or "draft-8" (default: none).
	StandardHeaders string `json:"standardHeaders,omitempty"`
	// NoLegacyHeaders turns off X-RateLimit-* (on by default).
	NoLegacyHeaders bool `json:"-"`
	// IPv6Subnet sets express-rate-limit 8's ipv6Subnet (default 56).
	IPv6Subnet             int  `json:"ipv6Subnet,omitempty"`
	SkipFailedRequests     bool `json:"skipFailedRequests,omitempty"`
	SkipSuccessfulRequests bool `json:"skipSuccessfulRequests,omitempty"`
	// ResetExpiryOnChange is a rate-limit-redis 4 (version 7 app) option.
	ResetExpiryOnChange bool `json:"resetExpiryOnChange,omitempty"`
}

// MarshalJSON adds legacyHeaders:false when NoLegacyHeaders is set.
func (l Limiter) MarshalJSON() ([]byte, error) {
	type plain Limiter
	b, err := json.Marshal(plain(l))
	if err != nil || !l.NoLegacyHeaders {
		return b, err
	}
	return append(b[:len(b)-1], []byte(`,"legacyHeaders":false}`)...), nil
}

// Options selects the app and its settings. RedisURL is required.
type Options struct {
	RedisURL string // redis://[default:pw@]127.0.0.1:port or rediss://...
	RedisCA  string // PEM CA file for rediss://

	// Rate-limit app.
	Version  int       // express-rate-limit major version: 8 (default) or 7
	Limiters []Limiter // default: one limiter "api", prefix rl:, 150 per 15 min on /api
	Host     string    // listen address (default 127.0.0.1; "::" or "::1" for IPv6 peers)

	// Socket.IO harness.
	Adapter                 string        // "classic" (default) or "sharded"
	Key                     string        // classic key / sharded channelPrefix (default socket.io)
	SubscriptionMode        string        // sharded: dynamic (default), static, dynamic-private
	RequestsTimeout         time.Duration // adapter requestsTimeout (default 5s)
	SpecificResponseChannel bool          // classic: publishOnSpecificResponseChannel
	// LocalAddressA and LocalAddressB are the source addresses of server
	// A's and B's Valkey connections (e.g. 127.0.0.2), as if each ran on
	// its own host.
	LocalAddressA, LocalAddressB string

	// Env adds environment variables (KEY=VALUE), e.g. DEBUG=socket.io*.
	Env []string
	// ReadyTimeout bounds the wait for READY (default 30s).
	ReadyTimeout time.Duration
}

// App is one running Node process.
type App struct {
	Name string // "ratelimit-v8", "ratelimit-v7", "socketio"
	Dir  string // the app directory
	Port int    // the HTTP port (socket.io: the control port)
	// URL is the base URL: the rate-limited app, or the socket.io harness's
	// control server.
	URL string

	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stderr   *tailBuffer
	done     chan struct{}
	waitErr  error
	http     *http.Client
	stopOnce sync.Once
	stopVia  string
}

// StartRateLimit starts testdata/interop/ratelimit-v<Version>.
func StartRateLimit(t testing.TB, o Options) *App {
	t.Helper()
	v := o.Version
	if v == 0 {
		v = 8
	}
	if v != 7 && v != 8 {
		t.Fatalf("nodeapp: Version %d: want 7 or 8", v)
	}
	env := []string{"HOST=" + hostOr(o.Host)}
	if len(o.Limiters) > 0 {
		b, err := json.Marshal(o.Limiters)
		if err != nil {
			t.Fatalf("nodeapp: limiters: %v", err)
		}
		env = append(env, "LIMITERS="+string(b))
	}
	return start(t, fmt.Sprintf("ratelimit-v%d", v), "server.js", o, env)
}

// StartSocketIO starts the two-server Socket.IO harness in testdata/interop/socketio.
// Two harnesses on one Valkey with the same Key see each other's servers.
func StartSocketIO(t testing.TB, o Options) *App {
	t.Helper()
	adapter := o.Adapter
	if adapter == "" {
		adapter = "classic"
	}
	if adapter != "classic" && adapter != "sharded" {
		t.Fatalf("nodeapp: Adapter %q: want classic or sharded", adapter)
	}
	env := []string{"ADAPTER=" + adapter, "HOST=" + hostOr(o.Host)}
	if o.Key != "" {
		env = append(env, "KEY="+o.Key)
	}
	if o.SubscriptionMode != "" {
		env = append(env, "SUBSCRIPTION_MODE="+o.SubscriptionMode)
	}
	if o.RequestsTimeout > 0 {
		env = append(env, "REQUESTS_TIMEOUT="+strconv.FormatInt(o.RequestsTimeout.Milliseconds(), 10))
	}
	if o.SpecificResponseChannel {
		env = append(env, "SPECIFIC_RESPONSE_CHANNEL=1")
	}
	if o.LocalAddressA != "" {
		env = append(env, "LOCAL_ADDRESS_A="+o.LocalAddressA)
	}
	if o.LocalAddressB != "" {
		env = append(env, "LOCAL_ADDRESS_B="+o.LocalAddressB)
	}
	return start(t, "socketio", "harness.js", o, env)
}

func hostOr(h string) string {
	if h == "" {
		return "127.0.0.1"
	}
	return h
}

// RequireNode reports whether a missing node or node_modules must fail the
// test instead of skipping it.
func RequireNode() bool {
	return os.Getenv("CI") != "" || os.Getenv("OXYCTL_REQUIRE_SERVERS") != ""
}

func start(t testing.TB, name, script string, o Options, env []string) *App {
	t.Helper()
	if o.RedisURL == "" {
		t.Fatalf("nodeapp: %s: Options.RedisURL is empty", name)
	}
	node, dir, err := locate(name)
	if err != nil {
		if RequireNode() {
			t.Fatalf("nodeapp: %v", err)
		}
		t.Skipf("nodeapp: %v", err)
	}
	env = append(env, "REDIS_URL="+o.RedisURL, "PORT=0")
	if o.RedisCA != "" {
		env = append(env, "REDIS_CA="+o.RedisCA)
	}
	env = append(env, o.Env...)
	timeout := o.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	began := time.Now()
	app, err := launch(node, dir, name, script, env, timeout)
	if err != nil {
		t.Fatalf("nodeapp: %s: %v", name, redact(err.Error(), o.RedisURL))
	}
	t.Logf("nodeapp: %s ready at %s in %s", name, app.URL, time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		app.Stop()
		if t.Failed() {
			t.Logf("nodeapp: %s stderr (last lines):\n%s", name, redact(app.Stderr(), o.RedisURL))
		}
	})
	return app
}

// locate finds node and the app directory, and checks that node_modules was
// installed from the current lock file.
func locate(name string) (node, dir string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", fmt.Errorf("node not found on PATH (install Node.js 18+, then run testdata/interop/install.sh)")
	}
	root, err := RepoRoot()
	if err != nil {
		return "", "", err
	}
	dir = filepath.Join(root, "testdata", "interop", name)
	if err := checkInstalled(dir); err != nil {
		return "", "", err
	}
	return node, dir, nil
}

// checkInstalled reports an error unless dir/node_modules holds the stamp
// install.sh writes for the current package-lock.json.
func checkInstalled(dir string) error {
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("%s: %v", dir, err)
	}
	sum := sha256.Sum256(lock)
	stamp, err := os.ReadFile(filepath.Join(dir, "node_modules", StampFile))
	if err != nil {
		return fmt.Errorf("%s: node_modules not installed: run testdata/interop/install.sh", filepath.Base(dir))
	}
	if strings.TrimSpace(string(stamp)) != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("%s: node_modules is older than package-lock.json: run testdata/interop/install.sh", filepath.Base(dir))
	}
	return nil
}

// RepoRoot is the directory with go.mod (see repo.Root).
func RepoRoot() (string, error) { return repo.Root() }

// appEnvKeys are the variables the apps read; inherited values are dropped
// so a developer's shell cannot change what a test starts.
var appEnvKeys = []string{
	"REDIS_URL", "REDIS_CA", "PORT", "HOST", "LIMITERS", "ADAPTER", "KEY",
	"SUBSCRIPTION_MODE", "REQUESTS_TIMEOUT", "SPECIFIC_RESPONSE_CHANNEL", "EXIT_ON_STDIN_CLOSE",
	"LOCAL_ADDRESS_A", "LOCAL_ADDRESS_B",
}

func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, a := range appEnvKeys {
			if k == a {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

var readyRE = regexp.MustCompile(`^READY ([0-9]{1,5})$`)

// launch starts `node script` in dir and waits for its READY line.
func launch(node, dir, name, script string, env []string, timeout time.Duration) (*App, error) {
	cmd := exec.Command(node, script)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	// Own process group, and killed if the test binary dies without cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	app := &App{
		Name: name, Dir: dir, cmd: cmd, stdin: stdin,
		stderr: &tailBuffer{max: 64 << 10},
		done:   make(chan struct{}),
		http:   &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}},
	}
	ready := make(chan int, 1)
	cmd.Stderr = app.stderr
	cmd.Stdout = &lineWriter{onLine: func(line string) {
		if m := readyRE.FindStringSubmatch(line); m != nil {
			port, _ := strconv.Atoi(m[1])
			select {
			case ready <- port:
			default:
			}
			return
		}
		_, _ = app.stderr.Write([]byte("stdout: " + line + "\n"))
	}}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start node %s: %w", script, err)
	}
	go func() {
		app.waitErr = cmd.Wait()
		close(app.done)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case port := <-ready:
		app.Port = port
		app.URL = "http://" + net.JoinHostPort(urlHost(env), strconv.Itoa(port))
		return app, nil
	case <-app.done:
		return nil, fmt.Errorf("exited before READY (%v); stderr:\n%s", app.waitErr, app.Stderr())
	case <-timer.C:
		app.Stop()
		return nil, fmt.Errorf("no READY line within %s; stderr:\n%s", timeout, app.Stderr())
	}
}

// urlHost is the address to reach an app listening on HOST.
func urlHost(env []string) string {
	host := "127.0.0.1"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOST="); ok {
			host = v
		}
	}
	switch host {
	case "", "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return host
}

// Stop ends the app: close stdin and wait, then SIGTERM, then SIGKILL to its
// process group. Calling it twice is fine.
func (a *App) Stop() {
	a.stopOnce.Do(func() {
		a.http.CloseIdleConnections()
		_ = a.stdin.Close()
		if a.wait(5 * time.Second) {
			a.stopVia = "stdin"
			return
		}
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		if a.wait(3 * time.Second) {
			a.stopVia = "sigterm"
			return
		}
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		a.wait(5 * time.Second)
		a.stopVia = "kill"
	})
}

func (a *App) wait(d time.Duration) bool {
	select {
	case <-a.done:
		return true
	case <-time.After(d):
		return false
	}
}

// Exited reports whether the process has ended.
func (a *App) Exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// StoppedBy tells how Stop ended the process: "stdin", "sigterm" or "kill"
// ("" before Stop).
func (a *App) StoppedBy() string { return a.stopVia }

// Stderr returns the last 64 KiB the app wrote to stderr.
func (a *App) Stderr() string { return a.stderr.String() }

// redact hides the password of rawURL wherever it appears in s.
func redact(s, rawURL string) string {
	if i := strings.Index(rawURL, "://"); i >= 0 {
		rest := rawURL[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
				s = strings.ReplaceAll(s, pw, "REDACTED")
			}
		}
	}
	return s
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// lineWriter calls onLine for each complete line written to it.
type lineWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	onLine func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.buf.Next(i+1)), "\r\n")
		w.onLine(line)
	}
	if w.buf.Len() > 1<<20 { // a runaway line without newline
		w.buf.Reset()
	}
	return len(p), nil
}
