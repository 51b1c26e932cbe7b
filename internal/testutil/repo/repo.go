// Package repo finds the repository root (the directory holding go.mod) and
// the shared/ folder that sits beside it, for tests and test tools.
package repo

import (
	"errors"
	"os"
	"path/filepath"
)

// TB is the part of testing.TB used here.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Root walks up from the working directory to the directory with go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// MustRoot is Root, failing tb on error.
func MustRoot(tb TB) string {
	tb.Helper()
	dir, err := Root()
	if err != nil {
		tb.Fatalf("repo: %v", err)
	}
	return dir
}

// Shared is ../shared/<elem...> beside the repository; it fails tb when the
// path does not exist.
func Shared(tb TB, elem ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{MustRoot(tb), "..", "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("repo: %v (shared/ must sit beside the repository)", err)
	}
	return p
}
