// Package config resolves oxyctl's settings: flag, then environment, then
// the active context of the config file, then the built-in default (the
// README's "Configuration" table lists every setting).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/redact"
	"github.com/oxyhq/oxyctl/internal/userfile"
)

// Defaults.
const (
	DefaultAPIURL   = "https://api.oxy.so"
	DefaultDOAPIURL = "https://api.digitalocean.com"
	DefaultCluster  = "db-valkey-ams3-04785"
	DefaultTimeout  = 10 * time.Second
	DefaultSIOKey   = "socket.io"
)

// File is the config file.
type File struct {
	CurrentContext string              `yaml:"current_context"`
	Contexts       map[string]*Context `yaml:"contexts"`
	// Warnings are what Load noticed about the file itself (permissions),
	// for stderr.
	Warnings []string `yaml:"-"`
}

// Context is one named set of settings.
type Context struct {
	Redis struct {
		URL      string `yaml:"url"`
		CAFile   string `yaml:"ca_file"`
		Insecure bool   `yaml:"insecure"`
	} `yaml:"redis"`
	API struct {
		URL string `yaml:"url"`
	} `yaml:"api"`
	DigitalOcean struct {
		Token   string `yaml:"token"`
		Cluster string `yaml:"cluster"`
		APIURL  string `yaml:"api_url"`
	} `yaml:"digitalocean"`
	Timeout  string    `yaml:"timeout"`
	Limiters []Limiter `yaml:"limiters"`
	SocketIO SocketIO  `yaml:"socketio"`
	// Firewall is kept as YAML so the policy package reads it with its own
	// rules and line numbers.
	Firewall yaml.Node `yaml:"firewall"`
	Database struct {
		// Settings are kept as YAML for the dbsettings package, which knows
		// the setting names and checks them with line numbers.
		Settings yaml.Node `yaml:"settings"`
	} `yaml:"database"`
}

// Limiter is one express-rate-limit limiter as configured.
type Limiter struct {
	Name             string        `yaml:"name" json:"name"`
	Prefix           string        `yaml:"prefix" json:"prefix"`
	Limit            int64         `yaml:"limit" json:"limit"`
	Window           string        `yaml:"window" json:"window"`
	ExpressRateLimit int           `yaml:"express_rate_limit" json:"express_rate_limit"`
	IPv6Subnet       int           `yaml:"ipv6_subnet" json:"ipv6_subnet"`
	WindowDuration   time.Duration `yaml:"-" json:"-"`
}

// SocketIO are the adapter settings.
type SocketIO struct {
	Key               string `yaml:"key" json:"key"`
	Sharded           bool   `yaml:"sharded" json:"sharded"`
	ExpectedInstances int    `yaml:"expected_instances" json:"expected_instances"`
}

// DefaultLimiter is the API's limiter.
func DefaultLimiter() Limiter {
	return Limiter{Name: "api", Prefix: "rl:", Limit: 150, Window: "15m", WindowDuration: 15 * time.Minute, ExpressRateLimit: 8, IPv6Subnet: 56}
}

// Flags are the global flag values and whether each was given.
type Flags struct {
	ConfigPath     string
	Context        string
	RedisURL       string
	RedisCA        string
	RedisInsecure  bool
	AllowPlaintext bool
	APIURL         string
	DOAPIURL       string
	Cluster        string
	Timeout        time.Duration
	Output         string
	// JQ is the --jq expression ("" when not given).
	JQ string
	// NoHeaders leaves the header row out of text tables.
	NoHeaders bool
	Verbose   bool
	// Changed reports whether a flag was set on the command line.
	Changed func(name string) bool
}

// Settings are the resolved settings of one run.
type Settings struct {
	ConfigPath     string        `json:"config_path"`
	ConfigFound    bool          `json:"config_found"`
	Context        string        `json:"context"`
	RedisURL       string        `json:"redis_url"`
	RedisCA        string        `json:"redis_ca"`
	RedisInsecure  bool          `json:"redis_insecure"`
	AllowPlaintext bool          `json:"allow_plaintext"`
	APIURL         string        `json:"api_url"`
	DOToken        string        `json:"-"`
	DOAPIURL       string        `json:"do_api_url"`
	Cluster        string        `json:"cluster"`
	Timeout        time.Duration `json:"-"`
	Limiters       []Limiter     `json:"limiters"`
	SocketIO       SocketIO      `json:"socketio"`
	// Firewall is the context's firewall block (Kind 0 when absent).
	Firewall *yaml.Node `json:"-"`
	// DatabaseSettings is the context's database.settings block (nil when absent).
	DatabaseSettings *yaml.Node `json:"-"`
	// Sources says where each setting came from: flag, env NAME, context, default.
	Sources map[string]string `json:"sources"`
	// Warnings are about the config file itself, for stderr.
	Warnings []string `json:"-"`
}

// Getenv looks up an environment variable.
type Getenv func(string) string

// DefaultPath is $XDG_CONFIG_HOME/oxyctl/config.yaml, or ~/.config/oxyctl/config.yaml.
func DefaultPath(getenv Getenv) string {
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "oxyctl", "config.yaml")
	}
	home := getenv("HOME")
	if home == "" {
		if h, err := os.UserHomeDir(); err == nil {
			home = h
		}
	}
	return filepath.Join(home, ".config", "oxyctl", "config.yaml")
}

// Path is the config file to read: --config, else OXYCTL_CONFIG, else the
// default.
func Path(fl *Flags, getenv Getenv) string {
	if fl != nil && fl.ConfigPath != "" {
		return fl.ConfigPath
	}
	if p := getenv("OXYCTL_CONFIG"); p != "" {
		return p
	}
	return DefaultPath(getenv)
}

// Explicit reports whether the config file was named (--config or
// OXYCTL_CONFIG): then it must exist.
func Explicit(fl *Flags, getenv Getenv) bool {
	return fl != nil && fl.ConfigPath != "" || getenv("OXYCTL_CONFIG") != ""
}

// CheckFlags rejects flag values that parse but mean nothing: an empty --config
// would otherwise fall back to the default file without a word.
func CheckFlags(fl *Flags) error {
	if fl.Changed != nil && fl.Changed("config") && fl.ConfigPath == "" {
		return apperr.Usagef("--config needs a file name (it was empty)")
	}
	return nil
}

// Load reads and checks the config file. A missing file at the default path
// is not an error (an empty File); a missing file named by --config is.
func Load(path string, explicit bool) (*File, bool, error) {
	b, err := userfile.Read(path, MaxFileSize)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return &File{}, false, nil
	}
	if err != nil {
		return nil, false, &apperr.ConfigError{Err: fmt.Errorf("cannot read config file %s: %v", path, err)}
	}
	f, err := Parse(path, b)
	if err == nil {
		f.Warnings = permissionWarnings(path, f)
	}
	return f, true, err
}

// MaxFileSize bounds the config file: a few contexts are a few KiB.
const MaxFileSize = 1 << 20

// permissionWarnings says, as ssh does, when others can write the config
// file (they could point oxyctl at their own server), or can read it while it
// holds a secret (a password in a URL, a token).
func permissionWarnings(path string, f *File) []string {
	st, err := os.Stat(path)
	if err != nil {
		return nil
	}
	mode := st.Mode().Perm()
	switch {
	case mode&0o022 != 0:
		return []string{fmt.Sprintf("others can write the config file %s (mode %04o): run chmod go-w %s", path, mode, path)}
	case mode&0o044 != 0 && f.holdsSecret():
		return []string{fmt.Sprintf("the config file %s holds a password or token and others can read it (mode %04o): run chmod 600 %s", path, mode, path)}
	}
	return nil
}

// holdsSecret reports whether a context has a token or a password in a URL.
func (f *File) holdsSecret() bool {
	for _, c := range f.Contexts {
		if c == nil {
			continue
		}
		if c.DigitalOcean.Token != "" || redact.Password(c.Redis.URL) != "" || redact.Password(c.API.URL) != "" || redact.Password(c.DigitalOcean.APIURL) != "" {
			return true
		}
	}
	return false
}

// The regexps are compiled on first use (a bad config file), not at start-up.
var (
	yamlLineRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)
	})
	yamlLineOnlyRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^yaml: (?:unmarshal errors:\n\s*)?line (\d+): (.*)$`)
	})
)

// Parse decodes a config file. Unknown keys and wrong types are errors that
// name the file and line.
func Parse(path string, b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(path, err)
	}
	for name, c := range f.Contexts {
		if c == nil {
			f.Contexts[name] = &Context{}
		}
	}
	return &f, nil
}

// yamlError turns a yaml error into "file:line: what".
func yamlError(path string, err error) error {
	msg := err.Error()
	if m := yamlLineRE().FindStringSubmatch(msg); m != nil {
		return &apperr.ConfigError{Err: fmt.Errorf("%s:%s: unknown key %q", path, m[1], m[2])}
	}
	first := strings.SplitN(strings.TrimSpace(strings.TrimPrefix(msg, "yaml: unmarshal errors:")), "\n", 2)[0]
	first = strings.TrimSpace(first)
	if m := yamlLineOnlyRE().FindStringSubmatch(first); m != nil {
		return &apperr.ConfigError{Err: fmt.Errorf("%s:%s: %s", path, m[1], m[2])}
	}
	if strings.HasPrefix(first, "line ") {
		if i := strings.Index(first, ":"); i > 0 {
			return &apperr.ConfigError{Err: fmt.Errorf("%s:%s: %s", path, strings.TrimPrefix(first[:i], "line "), strings.TrimSpace(first[i+1:]))}
		}
	}
	return &apperr.ConfigError{Err: fmt.Errorf("%s: %s", path, strings.TrimPrefix(first, "yaml: "))}
}

// Resolve applies flag > env > context > default.
func Resolve(fl *Flags, getenv Getenv) (*Settings, error) {
	if fl.Changed == nil {
		fl.Changed = func(string) bool { return false }
	}
	if err := CheckFlags(fl); err != nil {
		return nil, err
	}
	path := Path(fl, getenv)
	file, found, err := Load(path, Explicit(fl, getenv))
	if err != nil {
		return nil, err
	}
	s := &Settings{ConfigPath: path, ConfigFound: found, Sources: map[string]string{}, Warnings: file.Warnings}

	// The context: flag, env, the file's current_context.
	ctxName, src := pick(fl.Changed("context"), fl.Context, getenv, []string{"OXYCTL_CONTEXT"}, file.CurrentContext, "")
	s.Context = ctxName
	s.Sources["context"] = src
	ctx := &Context{}
	if ctxName != "" {
		c, ok := file.Contexts[ctxName]
		if !ok {
			return nil, &apperr.ConfigError{Err: fmt.Errorf("context %q not found in %s (contexts: %s)", ctxName, path, contextList(file))}
		}
		ctx = c
	}

	set := func(key string, dst *string, flagSet bool, flagVal string, envs []string, ctxVal, def string) {
		*dst, s.Sources[key] = pick(flagSet, flagVal, getenv, envs, ctxVal, def)
	}
	set("redis_url", &s.RedisURL, fl.Changed("redis-url"), fl.RedisURL, []string{"OXYCTL_REDIS_URL", "REDIS_URL"}, ctx.Redis.URL, "")
	set("redis_ca", &s.RedisCA, fl.Changed("redis-ca"), fl.RedisCA, []string{"OXYCTL_REDIS_CA"}, expandHome(ctx.Redis.CAFile, getenv), "")
	set("api_url", &s.APIURL, fl.Changed("api-url"), fl.APIURL, []string{"OXY_API_URL"}, ctx.API.URL, DefaultAPIURL)
	set("do_api_url", &s.DOAPIURL, fl.Changed("do-api-url"), fl.DOAPIURL, []string{"DIGITALOCEAN_API_URL"}, ctx.DigitalOcean.APIURL, DefaultDOAPIURL)
	set("cluster", &s.Cluster, fl.Changed("cluster"), fl.Cluster, []string{"OXYCTL_CLUSTER"}, ctx.DigitalOcean.Cluster, DefaultCluster)
	set("do_token", &s.DOToken, false, "", []string{"DIGITALOCEAN_ACCESS_TOKEN", "DIGITALOCEAN_TOKEN"}, ctx.DigitalOcean.Token, "")
	redact.Register(s.DOToken)
	s.RedisInsecure = fl.RedisInsecure || ctx.Redis.Insecure
	s.AllowPlaintext = fl.AllowPlaintext

	var tStr string
	flagTimeout := ""
	if fl.Changed("timeout") {
		flagTimeout = fl.Timeout.String()
	}
	tStr, s.Sources["timeout"] = pick(fl.Changed("timeout"), flagTimeout, getenv, []string{"OXYCTL_TIMEOUT"}, ctx.Timeout, DefaultTimeout.String())
	d, err := time.ParseDuration(tStr)
	if err != nil || d <= 0 {
		return nil, &apperr.ConfigError{Err: fmt.Errorf("invalid timeout %q (from %s): want a positive duration such as 10s or 1m", tStr, s.Sources["timeout"])}
	}
	s.Timeout = d

	s.Limiters, err = limiters(ctx.Limiters, path)
	if err != nil {
		return nil, err
	}
	s.SocketIO = ctx.SocketIO
	if s.SocketIO.Key == "" {
		s.SocketIO.Key = DefaultSIOKey
	}
	if s.SocketIO.ExpectedInstances < 0 {
		return nil, apperr.Configf("%s: socketio.expected_instances must not be negative", path)
	}
	if ctx.Firewall.Kind != 0 {
		n := ctx.Firewall
		s.Firewall = &n
	}
	if ctx.Database.Settings.Kind != 0 {
		n := ctx.Database.Settings
		s.DatabaseSettings = &n
	}
	// Register the URLs' passwords now, so nothing can print them, even
	// before a parse error quotes a URL.
	redact.Register(redact.Password(s.RedisURL), redact.Password(s.APIURL), redact.Password(s.DOAPIURL))
	return s, nil
}

func pick(flagSet bool, flagVal string, getenv Getenv, envs []string, ctxVal, def string) (string, string) {
	if flagSet {
		return flagVal, "flag"
	}
	for _, e := range envs {
		if v := getenv(e); v != "" {
			return v, "env " + e
		}
	}
	if ctxVal != "" {
		return ctxVal, "context"
	}
	if def != "" {
		return def, "default"
	}
	return "", "unset"
}

func expandHome(p string, getenv Getenv) string {
	if strings.HasPrefix(p, "~/") {
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, p[2:])
		}
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	return p
}

func limiters(in []Limiter, path string) ([]Limiter, error) {
	if len(in) == 0 {
		return []Limiter{DefaultLimiter()}, nil
	}
	seen := map[string]bool{}
	out := make([]Limiter, 0, len(in))
	for i, l := range in {
		def := DefaultLimiter()
		if l.Name == "" {
			return nil, apperr.Configf("%s: limiters[%d] has no name", path, i)
		}
		if seen[l.Name] {
			return nil, apperr.Configf("%s: limiter %q is defined twice", path, l.Name)
		}
		seen[l.Name] = true
		if l.Prefix == "" {
			l.Prefix = def.Prefix
		}
		if l.Limit == 0 {
			l.Limit = def.Limit
		}
		if l.Limit < 0 {
			return nil, apperr.Configf("%s: limiter %q: limit must be positive", path, l.Name)
		}
		if l.Window == "" {
			l.Window = def.Window
		}
		d, err := time.ParseDuration(l.Window)
		if err != nil || d <= 0 {
			return nil, apperr.Configf("%s: limiter %q: invalid window %q", path, l.Name, l.Window)
		}
		l.WindowDuration = d
		switch l.ExpressRateLimit {
		case 0:
			l.ExpressRateLimit = 8
		case 7, 8:
		default:
			return nil, apperr.Configf("%s: limiter %q: express_rate_limit must be 7 or 8, not %d", path, l.Name, l.ExpressRateLimit)
		}
		if l.IPv6Subnet == 0 {
			l.IPv6Subnet = 56
		}
		if l.IPv6Subnet < 32 || l.IPv6Subnet > 64 {
			return nil, apperr.Configf("%s: limiter %q: ipv6_subnet must be 32 to 64, not %s", path, l.Name, strconv.Itoa(l.IPv6Subnet))
		}
		out = append(out, l)
	}
	return out, nil
}

// Limiter finds a limiter by name; "" is the first one.
func (s *Settings) Limiter(name string) (Limiter, error) {
	if name == "" {
		return s.Limiters[0], nil
	}
	var names []string
	for _, l := range s.Limiters {
		if l.Name == name {
			return l, nil
		}
		names = append(names, l.Name)
	}
	return Limiter{}, &apperr.ConfigError{Err: fmt.Errorf("no limiter %q (limiters: %s)", name, strings.Join(names, ", "))}
}

// ContextNames lists the contexts of the file at path, for completion. Errors
// give an empty list.
func ContextNames(path string) []string {
	f, _, err := Load(path, false)
	if err != nil || f == nil {
		return nil
	}
	return f.Names()
}
