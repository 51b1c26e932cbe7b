package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Like ssh: a config file that others can write, or read while it holds a
// secret, is named with the chmod that fixes it. (Before: nothing was said.)
func TestPermissionWarnings(t *testing.T) {
	const secret = "contexts:\n  prod:\n    digitalocean:\n      token: dop_v1_abcdef\n"
	const plain = "contexts:\n  prod:\n    redis:\n      url: redis://127.0.0.1:6379\n"
	for _, tc := range []struct {
		body string
		mode os.FileMode
		want string
	}{
		{secret, 0o600, ""},
		{secret, 0o640, "chmod 600"},
		{secret, 0o644, "chmod 600"},
		{plain, 0o644, ""},
		{plain, 0o664, "chmod go-w"},
		{plain, 0o646, "chmod go-w"},
	} {
		p := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		f, _, err := Load(p, true)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(f.Warnings, "\n")
		if tc.want == "" && got != "" || tc.want != "" && (!strings.Contains(got, tc.want) || !strings.Contains(got, p)) {
			t.Errorf("mode %04o: warnings %q, want %q", tc.mode, got, tc.want)
		}
		if strings.Contains(got, "dop_v1_abcdef") {
			t.Errorf("the warning shows the token")
		}
	}
}
