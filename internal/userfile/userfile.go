// Package userfile reads the files a user names (the config file, a
// --policy file, a --redis-ca bundle): regular files only, up to a size, so
// that a wrong path such as /dev/zero or a FIFO is a clear error at once
// instead of a read that never ends.
package userfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Read returns the contents of the regular file at path, at most max bytes.
// Errors are one line without the path (callers name the file): "no such
// file or directory", "is a directory", "is not a regular file (a named
// pipe)", "is larger than 1 MiB".
func Read(path string, max int64) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO without a writer would block forever.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("is %s, not a regular file", kind(st.Mode()))
	}
	if st.Size() > max {
		return nil, fmt.Errorf("is larger than %s", size(max))
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	if int64(len(b)) > max { // grew while read
		return nil, fmt.Errorf("is larger than %s", size(max))
	}
	return b, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
