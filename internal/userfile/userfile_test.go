package userfile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(ok, []byte("a: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(ok, 1024); err != nil || string(b) != "a: 1\n" {
		t.Fatalf("%q %v", b, err)
	}
	for path, want := range map[string]string{
		big:                           "larger than 1 KiB",
		fifo:                          "a named pipe",
		dir:                           "a directory",
		"/dev/zero":                   "a character device",
		filepath.Join(dir, "missing"): "no such file",
	} {
		start := time.Now()
		_, err := Read(path, 1024)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: want a one-line error with %q, got %v", path, want, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %s", path, d)
		}
	}
}
