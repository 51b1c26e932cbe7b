// Package repo finds the repository root (the directory holding go.mod) and
// the captured traffic under its testdata/fixtures/, for tests and test
// tools.
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

// Fixtures is testdata/fixtures/<name> of the repository: traffic the real
// libraries produced, e.g. "socketio-redis-adapter" or "rate-limit-redis"
// (testdata/fixtures/README.md). It fails tb when the directory is missing.
func Fixtures(tb TB, name string) string {
	tb.Helper()
	p := filepath.Join(MustRoot(tb), "testdata", "fixtures", name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("repo: %v", err)
	}
	return p
}
