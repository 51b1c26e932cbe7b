package iostreams

import (
	"io"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// SafeWriter shows text from servers and APIs (key names, channels, event
// names, INFO fields, resource names, error messages) without letting it
// drive the terminal: every control character but newline and tab, DEL,
// the C1 controls, bidirectional and other invisible format characters,
// line and paragraph separators and bytes that are not UTF-8 are written
// escaped (\x1b, \u202e). A terminal then shows `rl:\u202e4.3.2.1`, not a
// key that looks like 1.2.3.4. With sgr, color sequences (ESC [ ... m, what
// lipgloss writes) pass; nothing else does.
//
// The escapes are JSON's own for every rune that is not ASCII, so a JSON
// line written through it (an error on stderr) decodes to the same text.
type SafeWriter struct {
	w       io.Writer
	sgr     bool
	pending []byte // the start of a rune cut by the end of a write
	buf     []byte
}

// NewSafeWriter wraps w.
func NewSafeWriter(w io.Writer, sgr bool) *SafeWriter { return &SafeWriter{w: w, sgr: sgr} }

// Write writes p, escaped; it reports len(p) when the escaped text was
// written.
func (s *SafeWriter) Write(p []byte) (int, error) {
	in := p
	if len(s.pending) > 0 {
		in = append(s.pending, p...)
		s.pending = nil
	}
	out := s.buf[:0]
	start := 0 // in[start:i] is safe and not yet copied
	for i := 0; i < len(in); {
		c := in[i]
		if c >= 0x20 && c < 0x7f || c == '\n' || c == '\t' {
			i++
			continue
		}
		if c == 0x1b && s.sgr {
			if n := sgrLen(in[i:]); n > 0 {
				i += n
				continue
			}
		}
		if c < 0x80 { // another C0 control, or DEL
			out = append(out, in[start:i]...)
			out = append(out, `\x`...)
			out = append(out, hex[c>>4], hex[c&15])
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(in[i:])
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(in[i:]) && len(in)-i < utf8.UTFMax {
				// Perhaps the rest of the rune comes with the next write.
				out = append(out, in[start:i]...)
				s.pending = append(s.pending[:0], in[i:]...)
				start = len(in)
				break
			}
			out = append(out, in[start:i]...)
			out = append(out, `\x`...)
			out = append(out, hex[c>>4], hex[c&15])
			i++
			start = i
			continue
		}
		if unsafeRune(r) {
			out = append(out, in[start:i]...)
			out = append(out, `\u`...)
			out = append(out, leftPad(strconv.FormatInt(int64(r), 16))...)
			i += size
			start = i
			continue
		}
		i += size
	}
	if start < len(in) {
		out = append(out, in[start:]...)
	}
	s.buf = out[:0]
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a rune start still held back, escaped.
func (s *SafeWriter) Flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	var out []byte
	for _, c := range s.pending {
		out = append(out, '\\', 'x', hex[c>>4], hex[c&15])
	}
	s.pending = nil
	_, err := s.w.Write(out)
	return err
}

const hex = "0123456789abcdef"

func leftPad(h string) string {
	for len(h) < 4 {
		h = "0" + h
	}
	return h
}

// unsafeRune reports a rune that may not reach a terminal as itself: C1
// controls, format characters (bidi overrides and isolates, zero-width
// characters, the BOM), line and paragraph separators.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x2028 || r == 0x2029:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// sgrLen is the length of a color sequence at the start of b (ESC [ digits
// and ; or : ... m), or 0.
func sgrLen(b []byte) int {
	if len(b) < 3 || b[1] != '[' {
		return 0
	}
	for i := 2; i < len(b) && i < 64; i++ {
		switch c := b[i]; {
		case c == 'm':
			return i + 1
		case c >= '0' && c <= '9', c == ';', c == ':':
		default:
			return 0
		}
	}
	return 0
}

// GuardText makes the streams safe for what servers and APIs put in them:
// ErrOut always (warnings, errors, summaries), Out when it carries text
// rather than a JSON document (JSON stays exact: its encoder escapes
// controls, and what it leaves is the data). Call Flush at the end.
func (s *IOStreams) GuardText(stdoutText bool) {
	if _, done := s.ErrOut.(*SafeWriter); done {
		return
	}
	if stdoutText {
		s.Out = NewSafeWriter(s.Out, s.colorEnabled)
	}
	s.ErrOut = NewSafeWriter(s.ErrOut, s.colorEnabled)
}

// Flush writes what a SafeWriter holds back (the start of a rune cut off
// at the end of the output).
func (s *IOStreams) Flush() {
	for _, w := range []io.Writer{s.Out, s.ErrOut} {
		if sw, ok := w.(*SafeWriter); ok {
			_ = sw.Flush()
		}
	}
}

// Control writes oxyctl's own terminal control sequence (clear the screen
// to redraw, erase a progress line) to stdout, past the guard; only on a
// terminal.
func (s *IOStreams) Control(seq string) {
	if s.stdoutTTY {
		_, _ = io.WriteString(raw(s.Out), seq)
	}
}

// raw is the writer under a SafeWriter.
func raw(w io.Writer) io.Writer {
	if sw, ok := w.(*SafeWriter); ok {
		return sw.w
	}
	return w
}
