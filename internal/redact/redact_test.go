package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"rediss://default:hunter2@db.example.com:25061", "rediss://default:***@db.example.com:25061"},
		{"redis://:p%40ss@127.0.0.1:6379/2", "redis://:***@127.0.0.1:6379/2"},
		{"redis://127.0.0.1:6379", "redis://127.0.0.1:6379"},
		{"rediss://user@host:1", "rediss://user@host:1"},
		{"redis://u:pa ss%zz@host:1", "redis://u:***@host:1"}, // malformed escape: scrubbed by hand
		{"rediss://:x@", "rediss://:***@"},
		{"://:000#00@", "://:***@"},
		{"redis://u:ab#cd@host:1", "redis://u:***@host:1"},
		{"redis://u:a/b?c@d@host:1/0", "redis://u:***@host:1/0"},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// reset forgets every registered secret.
func reset() {
	mu.Lock()
	secrets = nil
	mu.Unlock()
}

func TestString(t *testing.T) {
	reset()
	t.Cleanup(reset)
	Register("dop_v1_abcdef", "pa/ss", "", "x")
	got := String("token dop_v1_abcdef and pa%2Fss and pa/ss and x")
	for _, secret := range []string{"dop_v1_abcdef", "pa%2Fss", "pa/ss"} {
		if strings.Contains(got, secret) {
			t.Errorf("String left %q in %q", secret, got)
		}
	}
	if !strings.HasSuffix(got, " x") {
		t.Errorf("short value was masked: %q", got)
	}
}
