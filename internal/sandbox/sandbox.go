// Package sandbox runs oxyctl's quick start: a local Valkey seeded the way
// the Oxy API writes it, live Socket.IO adapter traffic, a /health
// endpoint and a DigitalOcean API stand-in with a drifted firewall, then a
// short tour of oxyctl against them. It needs no credentials and never
// touches the user's own config.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/standin/healthstub"
)

// Options control a sandbox run.
type Options struct {
	Out, Err io.Writer
	// Serve keeps the sandbox up after the tour until ctx ends.
	Serve bool
	// Embedded uses the embedded server even when valkey-server is on PATH.
	Embedded bool
	// IOS, when set, are the streams the tour's commands print to (tests).
	IOS *iostreams.IOStreams
}

// Sandbox is a running sandbox.
type Sandbox struct {
	Dir        string // temporary XDG_CONFIG_HOME holding oxyctl/config.yaml
	ConfigPath string
	Env        map[string]string
	Valkey     string

	server  *valkeyServer
	client  valkey.Client
	closers []func()
}

// Close stops everything the sandbox started and removes its directory.
func (s *Sandbox) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Start brings the sandbox up.
func Start(ctx context.Context, opts Options) (_ *Sandbox, err error) {
	dir, err := os.MkdirTemp("", "oxyctl-sandbox-")
	if err != nil {
		return nil, err
	}
	s := &Sandbox{Dir: dir}
	s.closers = append(s.closers, func() { os.RemoveAll(dir) })
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	password := randomHex(12)

	vs, err := startValkey(ctx, dir, password, opts.Embedded)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, vs.Close)
	s.Valkey = vs.Kind
	s.server = vs
	redisURL := "redis://default:" + password + "@" + vs.Addr

	client, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{vs.Addr}, Username: "default", Password: password, DisableCache: true, ForceSingleClient: true})
	if err != nil {
		return nil, fmt.Errorf("sandbox valkey: %w", err)
	}
	s.closers = append(s.closers, client.Close)
	s.client = client
	if err := seed(ctx, client); err != nil {
		return nil, err
	}
	bg, stopBG := context.WithCancel(context.Background())
	s.closers = append(s.closers, stopBG)
	s.closers = append(s.closers, instances(bg, client, "socket.io")...)
	go publish(bg, client, "socket.io", 150*time.Millisecond)
	if opts.Serve {
		go keepAlive(bg, client, refreshEvery)
	}

	health, err := healthstub.New(healthstub.Healthy())
	if err != nil {
		return nil, fmt.Errorf("sandbox /health stand-in: %w", err)
	}
	s.closers = append(s.closers, health.Close)

	token := "dop_v1_sandbox" + randomHex(16)
	do, err := dostub.New(dostub.Options{Token: token})
	if err != nil {
		return nil, fmt.Errorf("sandbox DigitalOcean stand-in: %w", err)
	}
	s.closers = append(s.closers, do.Close)
	drift(do)

	s.ConfigPath = filepath.Join(dir, "oxyctl", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(s.ConfigPath), 0o700); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`# Written by the oxyctl sandbox; removed when it stops.
current_context: sandbox
contexts:
  sandbox:
    redis:
      url: %s
    api:
      url: %s
    digitalocean:
      token: %s
      api_url: %s
      cluster: %s
    limiters:
      - name: api
        prefix: "rl:"
        limit: 150
        window: 15m
      - name: auth
        prefix: "rl-auth:"
        limit: 5
        window: 15m
    socketio:
      key: socket.io
      expected_instances: 2
    firewall:
      allow:
        - droplet: %s
        - app: oxy-api
        - app: mention
        - app: homiio
        - app: alia
        - app: allo
    database:
      settings:
        maxmemory_policy: volatile-lru
        pubsub_client_output_buffer_limit: 64
        timeout: 0
`, redisURL, health.URL, token, do.URL, dostub.OxyClusterName, dostub.OxyDropletName)
	if err := os.WriteFile(s.ConfigPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	s.Env = map[string]string{"XDG_CONFIG_HOME": dir, "OXYCTL_CONTEXT": "sandbox", "NO_COLOR": os.Getenv("NO_COLOR")}
	return s, nil
}

// drift makes the stand-in's firewall differ from the declared policy:
// the first app rule is gone and the whole internet is allowed.
func drift(do *dostub.Server) {
	var rules []dostub.Rule
	droppedApp := false
	for _, r := range do.Rules(dostub.OxyClusterID) {
		if r.Type == "app" && !droppedApp {
			droppedApp = true
			continue
		}
		rules = append(rules, r)
	}
	rules = append(rules, dostub.Rule{Type: "ip_addr", Value: "0.0.0.0/0", Description: "temporary debugging"})
	do.SetRules(dostub.OxyClusterID, rules)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Tour is what the quick start runs, in order.
var Tour = [][]string{
	{"health"},
	{"limits", "list"},
	{"pubsub", "tail", "--count", "5"},
	{"clients", "--type", "pubsub"},
	{"firewall", "audit"},
}

// RunTour runs each command of the tour in-process against the sandbox,
// printing a `$ oxyctl ...` line before each.
func (s *Sandbox) RunTour(ctx context.Context, opts Options) {
	for _, args := range Tour {
		fmt.Fprintf(opts.Out, "\n$ oxyctl %s\n", strings.Join(args, " "))
		ios := opts.IOS
		if ios == nil {
			ios = iostreams.System()
		}
		code := app.Run(ctx, args, ios, s.getenv)
		if code != 0 {
			fmt.Fprintf(opts.Out, "(exit status %d)\n", code)
		}
	}
}

func (s *Sandbox) getenv(k string) string {
	if v, ok := s.Env[k]; ok {
		return v
	}
	switch k {
	case "HOME", "TERM", "COLUMNS", "CLICOLOR", "CLICOLOR_FORCE":
		return os.Getenv(k)
	}
	return ""
}

// Exports are the shell lines that point oxyctl at the sandbox.
func (s *Sandbox) Exports() string {
	return fmt.Sprintf("export XDG_CONFIG_HOME=%s\nexport OXYCTL_CONTEXT=sandbox\n", s.Dir)
}
