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

// Reset forgets every registered secret (for tests).
func Reset() {
	mu.Lock()
	secrets = nil
	mu.Unlock()
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
// (rediss://default:***@host:25061). A string that does not parse as a URL is
// scrubbed by hand: whatever sits between "://user:" and the last "@" of the
// authority is masked, so a malformed URL never leaks its password either.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "PASSWORDMASK")
			return String(strings.Replace(u.String(), "PASSWORDMASK", Mask, 1))
		}
		return String(u.String())
	}
	if err == nil {
		return String(raw)
	}
	return String(scrubAuthority(raw))
}

func scrubAuthority(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	rest := raw[i+3:]
	end := len(rest)
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		end = j
	}
	auth := rest[:end]
	at := strings.LastIndex(auth, "@")
	if at < 0 {
		return raw
	}
	userinfo := auth[:at]
	if c := strings.Index(userinfo, ":"); c >= 0 {
		userinfo = userinfo[:c+1] + Mask
	}
	return raw[:i+3] + userinfo + auth[at:] + rest[end:]
}
