package valkeyclient

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/redact"
)

// Target is a parsed Valkey URL.
type Target struct {
	TLS      bool
	Host     string
	Port     int
	Username string
	Password string
	DB       int
}

// Addr is host:port.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// Loopback reports whether the host is a loopback name or address.
func (t Target) Loopback() bool {
	if strings.EqualFold(t.Host, "localhost") {
		return true
	}
	ip := net.ParseIP(t.Host)
	return ip != nil && ip.IsLoopback()
}

// ParseURL parses redis:// and rediss:// URLs (valkey:// and valkeys:// are
// accepted as the same). Errors are ConfigErrors whose text shows the URL
// with its password masked.
func ParseURL(raw string) (Target, error) {
	// Whatever stands where a password would, hide it from every message
	// before anything can quote it (a parse error quotes pieces of the input).
	redact.Register(redact.Password(raw))
	shown := redact.URL(raw)
	bad := func(why string) error {
		return &apperr.ConfigError{
			Err:  fmt.Errorf("invalid Valkey URL %q: %s", shown, why),
			Hint: "use redis://[user:password@]host:port[/db] or rediss://... for TLS",
		}
	}
	if strings.TrimSpace(raw) == "" {
		return Target{}, bad("empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the raw URL: describe it without the input.
		why := "cannot be parsed"
		if ue, ok := err.(*url.Error); ok {
			why = redact.String(strings.ReplaceAll(ue.Err.Error(), raw, shown))
		}
		return Target{}, bad(why)
	}
	var t Target
	switch strings.ToLower(u.Scheme) {
	case "redis", "valkey":
	case "rediss", "valkeys":
		t.TLS = true
	case "":
		return Target{}, bad("no scheme (want redis:// or rediss://)")
	default:
		return Target{}, bad(fmt.Sprintf("scheme %q is not redis:// or rediss://", u.Scheme))
	}
	if u.Opaque != "" {
		return Target{}, bad("missing // after the scheme")
	}
	t.Host = u.Hostname()
	if t.Host == "" {
		return Target{}, bad("no host")
	}
	t.Port = 6379
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Target{}, bad(fmt.Sprintf("port %q is not between 1 and 65535", p))
		}
		t.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return Target{}, bad("empty port")
	}
	if u.User != nil {
		t.Username = u.User.Username()
		t.Password, _ = u.User.Password()
		redact.Register(t.Password)
	}
	if path := strings.Trim(u.Path, "/"); path != "" {
		n, err := strconv.Atoi(path)
		if err != nil || n < 0 {
			return Target{}, bad(fmt.Sprintf("database %q is not a number", path))
		}
		t.DB = n
	}
	if db := u.Query().Get("db"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return Target{}, bad(fmt.Sprintf("database %q is not a number", db))
		}
		t.DB = n
	}
	return t, nil
}

// RedactURL is the URL with its password masked.
func RedactURL(raw string) string { return redact.URL(raw) }
