package glob

import "testing"

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"rl:":       "rl:",
		"rl:*":      `rl:\*`,
		`a?b[c]d\e`: `a\?b\[c\]d\\e`,
		"socket.io": "socket.io",
		"\xff*\x00": "\xff\\*\x00",
		"ключ[1]":   `ключ\[1\]`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
