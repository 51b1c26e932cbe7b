package clitest

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer that a test can read while a command writes to
// it from another goroutine (a running tail, a --watch loop). It is safe for
// one writer and concurrent readers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines returns the complete lines written so far.
func (s *Buffer) Lines() []string {
	str := s.String()
	i := strings.LastIndexByte(str, '\n')
	if i < 0 {
		return nil
	}
	return strings.Split(str[:i], "\n")
}
