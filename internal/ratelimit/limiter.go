// Package ratelimit reads and resets the counters that express-rate-limit's
// rate-limit-redis store keeps in Valkey: one string key `<prefix><client>`
// per client, holding the hit count, with a millisecond expiry at the end of a
// fixed window. testdata/fixtures/rate-limit-redis/keys.json holds keys the
// real libraries wrote (express-rate-limit 8 and 7).
//
// The package knows nothing about cobra, terminals or output formats. It works
// over a valkey-go routing client (standalone or cluster) for per-key
// commands, and the list of primaries for SCAN, each of which it reads over
// a connection of its own with a lean RESP pipeline (see scanNode).
//
// Keys are binary-safe. Go strings carry arbitrary bytes, so a key read from
// the server is kept byte for byte and can be reset by exactly those bytes.
// JSON strings cannot hold invalid UTF-8: encoding/json replaces each invalid
// byte with U+FFFD, so records whose key is not valid UTF-8 also carry
// key_base64 with the exact bytes (see Record and Anomaly).
package ratelimit

import (
	"net/netip"
	"strings"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/glob"
)

// Defaults of the Oxy API's limiter.
const (
	DefaultName       = "api"
	DefaultPrefix     = "rl:"
	DefaultLimit      = 150
	DefaultWindow     = 15 * time.Minute
	DefaultERLVersion = 8
	DefaultIPv6Subnet = 56
)

// Limiter describes one express-rate-limit limiter backed by rate-limit-redis.
type Limiter struct {
	Name   string
	Prefix string // the store's prefix, "rl:" by default
	Limit  int64  // max requests per window
	Window time.Duration
	// ERLVersion is the major version of express-rate-limit that generates
	// the keys: 7 keeps req.ip as written, 8 unmaps IPv4-mapped addresses
	// and masks IPv6 to IPv6Subnet bits.
	ERLVersion int
	IPv6Subnet int // 56 by default; erl accepts 32-64
}

// DefaultLimiter is the limiter used when the config names none.
func DefaultLimiter() Limiter {
	return Limiter{
		Name:       DefaultName,
		Prefix:     DefaultPrefix,
		Limit:      DefaultLimit,
		Window:     DefaultWindow,
		ERLVersion: DefaultERLVersion,
		IPv6Subnet: DefaultIPv6Subnet,
	}
}

// WithDefaults fills zero fields with the defaults. Prefix is not filled: an
// empty prefix is an error that Validate reports.
func (l Limiter) WithDefaults() Limiter {
	if l.Name == "" {
		l.Name = DefaultName
	}
	if l.Limit == 0 {
		l.Limit = DefaultLimit
	}
	if l.Window == 0 {
		l.Window = DefaultWindow
	}
	if l.ERLVersion == 0 {
		l.ERLVersion = DefaultERLVersion
	}
	if l.IPv6Subnet == 0 {
		l.IPv6Subnet = DefaultIPv6Subnet
	}
	return l
}

// Validate reports a limiter that cannot be used safely as a ConfigError.
// An empty prefix is refused: its SCAN pattern would match every key in the
// database.
func (l Limiter) Validate() error {
	switch {
	case l.Prefix == "":
		return apperr.Configf("limiter %q: prefix is empty; set the store's prefix (rate-limit-redis uses \"rl:\" by default)", l.Name)
	case l.Limit <= 0:
		return apperr.Configf("limiter %q: limit must be positive, got %d", l.Name, l.Limit)
	case l.Window < time.Millisecond:
		return apperr.Configf("limiter %q: window must be at least 1ms, got %s", l.Name, l.Window)
	case l.ERLVersion != 7 && l.ERLVersion != 8:
		return apperr.Configf("limiter %q: express_rate_limit must be 7 or 8, got %d", l.Name, l.ERLVersion)
	case l.IPv6Subnet < 32 || l.IPv6Subnet > 64:
		return apperr.Configf("limiter %q: ipv6_subnet must be between 32 and 64, got %d", l.Name, l.IPv6Subnet)
	}
	return nil
}

// WindowMS is the window in milliseconds.
func (l Limiter) WindowMS() int64 { return l.Window.Milliseconds() }

// KeyFor returns the Valkey key under which l counts client, deriving the
// client key the way express-rate-limit's default key generator does.
//
// client is what the API's key generator saw or produced: an IP address
// (req.ip), an IPv6 subnet key such as "2001:db8::/56", or a custom key.
// Only a string that parses as an IP address is transformed:
//
//   - v7: nothing is transformed; the key is the address as written.
//   - v8: IPv4 is unchanged; IPv4-mapped IPv6 (dotted or hex) becomes the
//     dotted IPv4; the IPv4-compatible form written with a dotted quad
//     (::203.0.113.7) becomes the IPv4 too (erl >= 8.6.2); every other IPv6
//     address is masked to IPv6Subnet bits and written in canonical form with
//     a "/<bits>" suffix. Zones (%eth0) are dropped.
//
// Anything else (a subnet key, "ip:port", a custom key) is used byte for byte.
func KeyFor(l Limiter, client string) string {
	return l.Prefix + ClientKey(l, client)
}

// ClientKey is KeyFor without the prefix.
func ClientKey(l Limiter, client string) string {
	if l.ERLVersion == 7 {
		return client
	}
	addr, err := netip.ParseAddr(client)
	if err != nil || addr.Is4() {
		return client
	}
	if addr.Is4In6() {
		return addr.Unmap().String()
	}
	if strings.Contains(client, ".") && isIPv4Compatible(addr) {
		b := addr.As16()
		return netip.AddrFrom4([4]byte(b[12:])).String()
	}
	bits := l.IPv6Subnet
	if bits == 0 {
		bits = DefaultIPv6Subnet
	}
	p := netip.PrefixFrom(addr.WithZone(""), bits).Masked()
	if !p.IsValid() {
		return client
	}
	return p.String()
}

// isIPv4Compatible reports whether the upper 96 bits of an IPv6 address are zero.
func isIPv4Compatible(a netip.Addr) bool {
	b := a.As16()
	for _, x := range b[:12] {
		if x != 0 {
			return false
		}
	}
	return true
}

// ClientOf returns the client part of a key of l (the key without the prefix).
func ClientOf(l Limiter, key string) string {
	return strings.TrimPrefix(key, l.Prefix)
}

// HasPrefix reports whether key belongs to l's key space.
func (l Limiter) HasPrefix(key string) bool {
	return l.Prefix != "" && strings.HasPrefix(key, l.Prefix)
}

// EscapeGlob escapes the characters SCAN MATCH treats as pattern syntax, so
// that s matches only itself (see glob.Escape).
func EscapeGlob(s string) string { return glob.Escape(s) }

// Pattern is the SCAN MATCH pattern for every key of l.
func (l Limiter) Pattern() string { return EscapeGlob(l.Prefix) + "*" }
