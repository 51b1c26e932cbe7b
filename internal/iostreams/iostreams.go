// Package iostreams holds the standard streams and the answers about them
// (terminal or not, color, width) that are decided once at start-up.
package iostreams

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/oxyhq/oxyctl/internal/redact"
)

// IOStreams are the process's streams and what we know about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	colorEnabled                   bool
	width                          int

	// Verbose turns on Debugf.
	Verbose bool
	// NoHeaders leaves the header row out of text tables (--no-headers).
	NoHeaders bool

	mu sync.Mutex
}

// System returns the streams of this process. Color is decided in this order:
// NO_COLOR (no-color.org) and CLICOLOR=0 turn it off, CLICOLOR_FORCE turns it
// on, TERM=dumb turns it off, else it is on for a terminal.
func System() *IOStreams {
	ios := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	ios.stdinTTY = isTerminal(os.Stdin)
	ios.stdoutTTY = isTerminal(os.Stdout)
	ios.stderrTTY = isTerminal(os.Stderr)
	ios.colorEnabled = decideColor(os.Getenv, ios.stdoutTTY)
	ios.width = 80
	if ios.stdoutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
			ios.width = w
		}
	} else if c := os.Getenv("COLUMNS"); c != "" {
		var w int
		if _, err := fmt.Sscan(c, &w); err == nil && w > 0 {
			ios.width = w
		}
	}
	return ios
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func decideColor(getenv func(string) string, stdoutTTY bool) bool {
	switch {
	case getenv("NO_COLOR") != "":
		return false
	case getenv("CLICOLOR") == "0":
		return false
	case getenv("CLICOLOR_FORCE") != "" && getenv("CLICOLOR_FORCE") != "0":
		return true
	case getenv("TERM") == "dumb":
		return false
	}
	return stdoutTTY
}

// Test returns streams on buffers, every terminal answer false.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, width: 80}, in, out, errOut
}

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// ColorEnabled reports whether output may carry color.
func (s *IOStreams) ColorEnabled() bool { return s.colorEnabled }

// TerminalWidth is the width to fit text lines into.
func (s *IOStreams) TerminalWidth() int { return s.width }

// SetStdinTTY and friends are for tests.
func (s *IOStreams) SetStdinTTY(v bool)     { s.stdinTTY = v }
func (s *IOStreams) SetStdoutTTY(v bool)    { s.stdoutTTY = v }
func (s *IOStreams) SetStderrTTY(v bool)    { s.stderrTTY = v }
func (s *IOStreams) SetColorEnabled(v bool) { s.colorEnabled = v }
func (s *IOStreams) SetTerminalWidth(w int) { s.width = w }

// CanPrompt reports whether a person can answer a question: stdin and
// stderr are terminals.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stderrTTY }

// ShowProgress reports whether progress may be drawn on stderr.
func (s *IOStreams) ShowProgress() bool { return s.stderrTTY }

// Confirm asks a yes/no question on stderr and reads the answer from stdin.
// Only "y" or "yes" is a yes. Ctrl-C or SIGTERM while it waits (ctx ends)
// returns ctx's error at once: the read is abandoned, not waited for.
func (s *IOStreams) Confirm(ctx context.Context, question string) (bool, error) {
	fmt.Fprintf(s.ErrOut, "%s [y/N]: ", question)
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := readLine(s.In)
		got <- answer{line, err}
	}()
	var a answer
	select {
	case a = <-got:
	case <-ctx.Done():
		fmt.Fprintln(s.ErrOut)
		return false, ctx.Err()
	}
	if a.err != nil && a.line == "" {
		fmt.Fprintln(s.ErrOut)
		return false, nil
	}
	yes := strings.ToLower(strings.TrimSpace(a.line))
	return yes == "y" || yes == "yes", nil
}

// readLine reads up to a newline one byte at a time: a buffered reader
// would swallow the answer to the next question (two prompts in one run).
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	var c [1]byte
	for b.Len() < 4096 {
		n, err := r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				return b.String(), nil
			}
			b.WriteByte(c[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
	return b.String(), nil
}

// Warnf writes a warning line to stderr.
func (s *IOStreams) Warnf(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(s.ErrOut, redact.String("warning: "+fmt.Sprintf(format, a...)))
}

// Debugf writes a line to stderr under --verbose. Secrets are masked.
func (s *IOStreams) Debugf(format string, a ...any) {
	if !s.Verbose {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(s.ErrOut, redact.String("debug: "+fmt.Sprintf(format, a...)))
}
