// Package glob escapes text for Valkey glob patterns (SCAN MATCH,
// PSUBSCRIBE, PUBSUB CHANNELS), so that a key prefix, a namespace or a
// client typed by a user matches only itself.
package glob

import "strings"

// Escape puts a backslash before each of * ? [ ] \ in s.
func Escape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
