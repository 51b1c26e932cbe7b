// Package redact hides secrets in anything oxyctl prints: passwords in
// Valkey URLs and DigitalOcean tokens.
//
// URL rewrites the password of a URL to ***. Register adds a secret the
// process knows (a password, a token), and String replaces every registered
// secret in a text; app.Main passes every error and log line through it, so a
// secret that slipped into an error from a library is still not shown.
package redact

import (
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Mask replaces a secret.
const Mask = "***"

var (
	mu      sync.RWMutex
	secrets []string
)

// Register adds secrets to hide from String. Empty and very short values
// (under 3 bytes) are ignored: masking them would mangle ordinary text.
func Register(values ...string) {
	mu.Lock()
	defer mu.Unlock()
	for _, v := range values {
		if len(v) < 3 {
			continue
		}
		dup := false
		for _, s := range secrets {
			if s == v {
				dup = true
				break
			}
		}
		if !dup {
			secrets = append(secrets, v)
			// Longest first, so a secret that contains another is masked whole.
			sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
		}
	}
	// A URL-escaped spelling of a secret may show up in URLs.
	for _, v := range values {
		if e := url.QueryEscape(v); e != v && len(v) >= 3 {
			secrets = append(secrets, e)
		}
		if e := url.PathEscape(v); e != v && len(v) >= 3 {
			secrets = append(secrets, e)
		}
	}
}

// String replaces every registered secret in s with ***.
func String(s string) string {
	mu.RLock()
	defer mu.RUnlock()
	for _, v := range secrets {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

// URL returns raw with its password replaced by ***. The user name stays
// (rediss://default:***@host:25061). It works on the text, not on a parsed
// URL: a password may hold '#', '?', '/' or '@' unescaped, which a URL parser
// would read as a fragment, query or path and show. Everything between the
// first ':' after "://" and the last '@' is masked.
func URL(raw string) string { return String(scrubAuthority(raw)) }

// Password returns what URL masks in raw ("" when raw has no password).
func Password(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return ""
	}
	rest := raw[i+3:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	c := strings.Index(rest[:at], ":")
	if c < 0 {
		return ""
	}
	return rest[c+1 : at]
}

func scrubAuthority(raw string) string {
	pw := Password(raw)
	if pw == "" {
		return raw
	}
	i := strings.Index(raw, "://") + 3
	rest := raw[i:]
	at := strings.LastIndex(rest, "@")
	c := strings.Index(rest[:at], ":")
	return raw[:i] + rest[:c+1] + Mask + rest[at:]
}
