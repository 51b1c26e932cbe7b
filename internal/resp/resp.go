// Package resp speaks just enough RESP2 for the connections oxyctl opens
// itself, outside valkey-go (which it uses for everything else), where a
// reply is read where it arrives and no value is built for it:
//
//   - the pipelines of a full scan: a scan of a million keys reads two
//     million replies; valkey-go allocates a message for each, and that
//     client-side work, not the server's, then bounds how fast a Valkey
//     Cluster can be scanned on a small machine;
//   - the stream of MONITOR, which valkey-go cannot run (its connections
//     expect one reply per command): one status line per command the server
//     runs, as long as the command it echoes.
//
// package valkeyclient dials these connections and runs their handshake
// (AUTH, SELECT, CLIENT SETNAME) through this package too.
//
// The reader is strict: a reply of a type the caller did not expect, a
// length that does not parse or exceeds the server's own limit, or a line
// that does not end in CRLF is an error, never a guess.
package resp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxBulk is the longest bulk string the reader accepts: the server's own
// default limit (proto-max-bulk-len, 512 MB).
const MaxBulk = 512 << 20

// MaxArray bounds an array's length, so that a corrupt length cannot make a
// caller allocate without limit.
const MaxArray = 1 << 24

// Error is an error reply from the server ("-ERR ...", "-WRONGTYPE ...").
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// Prefix is the error's first word ("ERR", "WRONGTYPE", "MOVED", ...).
func (e *Error) Prefix() string {
	for i := 0; i < len(e.Msg); i++ {
		if e.Msg[i] == ' ' {
			return e.Msg[:i]
		}
	}
	return e.Msg
}

// ErrProtocol is wrapped by every error about a malformed reply.
var ErrProtocol = errors.New("malformed reply")

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// AppendArray appends the header of an array of n elements.
func AppendArray(b []byte, n int) []byte {
	return appendLen(b, '*', n)
}

// AppendBulk appends s as a bulk string; any bytes are allowed.
func AppendBulk(b []byte, s string) []byte {
	b = appendLen(b, '$', len(s))
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// appendLen appends a type byte, a length and CRLF. Most lengths in a scan
// are under 100 (key names, command names): those skip strconv.
func appendLen(b []byte, typ byte, n int) []byte {
	switch {
	case n >= 0 && n < 10:
		return append(b, typ, byte('0'+n), '\r', '\n')
	case n >= 10 && n < 100:
		return append(b, typ, byte('0'+n/10), byte('0'+n%10), '\r', '\n')
	}
	b = append(b, typ)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// AppendCommand appends one command: an array of bulk strings.
func AppendCommand(b []byte, args ...string) []byte {
	b = AppendArray(b, len(args))
	for _, a := range args {
		b = AppendBulk(b, a)
	}
	return b
}

// MaxLine bounds a status line read by ReadSimple: MONITOR echoes a command
// with every byte of a bulk argument escaped in at most 4.
const MaxLine = 4*MaxBulk + 64<<10

// Reader reads replies from a stream, one at a time and in order.
type Reader struct {
	r    *bufio.Reader
	long []byte // a status line longer than the buffer, reused
}

// NewReader reads from r through a 64 KiB buffer.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReaderSize(r, 64<<10)} }

// line returns the next line without its CRLF. The slice is valid until the
// next read.
func (r *Reader) line() ([]byte, error) { return r.readLine(false) }

// readLine is line; long allows a line longer than the buffer (up to
// MaxLine).
func (r *Reader) readLine(long bool) ([]byte, error) {
	l, err := r.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		if !long {
			return nil, protoErr("a line longer than %d bytes", r.r.Size())
		}
		r.long = append(r.long[:0], l...)
		for err == bufio.ErrBufferFull {
			if len(r.long) > MaxLine {
				return nil, protoErr("a line longer than %d bytes", MaxLine)
			}
			l, err = r.r.ReadSlice('\n')
			r.long = append(r.long, l...)
		}
		l = r.long
	}
	if err != nil {
		if err == io.EOF && len(l) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(l) < 3 || l[len(l)-2] != '\r' {
		return nil, protoErr("a line without CRLF: %q", truncate(l))
	}
	return l[:len(l)-2], nil
}

// header reads a reply's first line and returns its type byte and the rest.
// An error reply is returned as *Error.
func (r *Reader) header() (byte, []byte, error) {
	l, err := r.line()
	if err != nil {
		return 0, nil, err
	}
	if l[0] == '-' {
		return '-', nil, &Error{Msg: string(l[1:])}
	}
	return l[0], l[1:], nil
}

// parseInt parses a RESP decimal integer: an optional '-' and 1 to 19
// digits, nothing else.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n, true
}

// ReadInt reads an integer reply.
func (r *Reader) ReadInt() (int64, error) {
	return r.number(':', "an integer", -1<<63, 1<<63-1)
}

// ReadArrayLen reads an array header and returns its length (-1 for a null
// array). The elements follow as replies of their own.
func (r *Reader) ReadArrayLen() (int, error) {
	n, err := r.number('*', "an array", -1, MaxArray)
	return int(n), err
}

// number reads a reply of type typ whose line is a decimal in [lo, hi].
func (r *Reader) number(typ byte, what string, lo, hi int64) (int64, error) {
	t, rest, err := r.header()
	if err != nil {
		return 0, err
	}
	if t != typ {
		return 0, protoErr("expected %s, got %q", what, truncate(append([]byte{t}, rest...)))
	}
	n, ok := parseInt(rest)
	if !ok || n < lo || n > hi {
		return 0, protoErr("%s: %q", what, truncate(rest))
	}
	return n, nil
}

// ReadBulk reads a bulk string (or a simple string) reply. ok is false for a
// null bulk string. The returned slice is valid until the next read: copy
// what must be kept.
func (r *Reader) ReadBulk() (b []byte, ok bool, err error) {
	t, rest, err := r.header()
	if err != nil {
		return nil, false, err
	}
	switch t {
	case '+':
		return rest, true, nil
	case '$':
	default:
		return nil, false, protoErr("expected a string, got %q", truncate(append([]byte{t}, rest...)))
	}
	n, okN := parseInt(rest)
	if !okN || n < -1 || n > MaxBulk {
		return nil, false, protoErr("bulk length %q", truncate(rest))
	}
	if n == -1 {
		return nil, false, nil
	}
	size := int(n) + 2
	if size <= r.r.Size() {
		b, err = r.r.Peek(size)
		if err == nil {
			_, _ = r.r.Discard(size)
		}
	} else {
		b = make([]byte, size)
		_, err = io.ReadFull(r.r, b)
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, false, err
	}
	if b[n] != '\r' || b[n+1] != '\n' {
		return nil, false, protoErr("a bulk string of %d bytes not followed by CRLF", n)
	}
	return b[:n:n], true, nil
}

// ReadSimple reads a status reply ("+..."), however long: the line without
// its '+' and CRLF. The slice is valid until the next read. An error reply
// is returned as *Error.
func (r *Reader) ReadSimple() ([]byte, error) {
	l, err := r.readLine(true)
	if err != nil {
		return nil, err
	}
	switch l[0] {
	case '+':
		return l[1:], nil
	case '-':
		return nil, &Error{Msg: string(l[1:])}
	}
	return nil, protoErr("expected a status line, got %q", truncate(l))
}

// Skip reads and discards one reply of any type, with its elements. An error
// reply is returned as *Error (after the whole reply has been read).
func (r *Reader) Skip() error {
	return r.skip(0)
}

func (r *Reader) skip(depth int) error {
	if depth > 64 {
		return protoErr("replies nested more than 64 deep")
	}
	t, rest, err := r.header()
	if err != nil {
		return err
	}
	switch t {
	case '+':
		return nil
	case ':':
		if _, ok := parseInt(rest); !ok {
			return protoErr("integer %q", truncate(rest))
		}
		return nil
	case '$':
		n, ok := parseInt(rest)
		if !ok || n < -1 || n > MaxBulk {
			return protoErr("bulk length %q", truncate(rest))
		}
		if n >= 0 {
			if _, err := r.r.Discard(int(n)); err != nil {
				return err
			}
			crlf, err := r.r.Peek(2)
			if err != nil {
				return err
			}
			if crlf[0] != '\r' || crlf[1] != '\n' {
				return protoErr("a bulk string of %d bytes not followed by CRLF", n)
			}
			_, _ = r.r.Discard(2)
		}
		return nil
	case '*':
		n, ok := parseInt(rest)
		if !ok || n < -1 || n > MaxArray {
			return protoErr("array length %q", truncate(rest))
		}
		var firstErr error
		for range n {
			if err := r.skip(depth + 1); err != nil {
				var re *Error
				if !errors.As(err, &re) {
					return err
				}
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		return firstErr
	}
	return protoErr("unknown reply type %q", t)
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
