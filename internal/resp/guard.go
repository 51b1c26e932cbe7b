package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
)

// Limits bound what a Guard lets through. The zero value means the defaults.
type Limits struct {
	// Bulk is the longest bulk string, blob error or verbatim string.
	Bulk int64
	// Aggregate is the most elements an array, set, push, map (pairs) or
	// attribute may declare.
	Aggregate int64
	// Line is the longest header or simple line (simple strings, errors,
	// numbers), CRLF included.
	Line int
	// Depth is the deepest nesting of aggregates.
	Depth int
}

// Default limits: far above what oxyctl reads from a healthy server (INFO,
// CLIENT LIST with 10,000 clients and a 1 MB Socket.IO broadcast are a few
// MB; a SCAN or MGET reply a few thousand elements), far below what makes a
// client that allocates what the server declares run out of memory.
const (
	DefaultGuardBulk      = 64 << 20
	DefaultGuardAggregate = 1 << 18
	DefaultGuardLine      = 1 << 20
	DefaultGuardDepth     = 64
)

func (l Limits) withDefaults() Limits {
	if l.Bulk <= 0 {
		l.Bulk = DefaultGuardBulk
	}
	if l.Aggregate <= 0 {
		l.Aggregate = DefaultGuardAggregate
	}
	if l.Line <= 0 {
		l.Line = DefaultGuardLine
	}
	if l.Depth <= 0 {
		l.Depth = DefaultGuardDepth
	}
	return l
}

// Guard checks a stream of RESP2 and RESP3 replies as it is read and hands
// on only bytes that it has checked: a reply header reaches the reader only
// once its whole line has arrived and its type and length are valid and
// within Limits. A client that trusts declared lengths (valkey-go makes a
// slice of whatever length a header declares) can then never be made to
// allocate past the limits, whatever the server sends.
//
// After the first violation every Read returns the same error, which wraps
// ErrProtocol.
type Guard struct {
	r   io.Reader
	lim Limits

	// buf[off:ok] is checked and not yet handed on; buf[ok:parse] is a
	// header line being read; buf[parse:] has not been looked at.
	buf            []byte
	off, ok, parse int
	err            error // sticky
	payload        int64 // bulk bytes still to pass
	crlf           int   // CRLF bytes still expected after a bulk string
	stack          []frame
	top            byte // type of the top-level value being read

	// reply, when set, is told of every complete top-level value that is
	// a reply (not a push, not an attribute); an error it returns is the
	// stream's violation.
	reply func() error
}

type frame struct {
	left int64 // elements still to come
	attr bool  // an attribute: it does not count as an element of its parent
}

// NewGuard wraps r.
func NewGuard(r io.Reader, lim Limits) *Guard {
	return &Guard{r: r, lim: lim.withDefaults()}
}

// Read implements io.Reader.
func (g *Guard) Read(p []byte) (int, error) {
	for g.ok == g.off {
		if g.err != nil {
			return 0, g.err
		}
		if g.off > 0 { // keep only the line being read, at the front
			n := copy(g.buf, g.buf[g.off:])
			g.buf = g.buf[:n]
			g.ok -= g.off
			g.parse -= g.off
			g.off = 0
		}
		if cap(g.buf)-len(g.buf) < 4096 {
			nb := make([]byte, len(g.buf), 2*cap(g.buf)+4096)
			copy(nb, g.buf)
			g.buf = nb
		}
		n, err := g.r.Read(g.buf[len(g.buf):cap(g.buf)])
		g.buf = g.buf[:len(g.buf)+n]
		g.scan()
		if err != nil && g.err == nil {
			g.err = err // sticky, after what was checked is handed on
		}
	}
	n := copy(p, g.buf[g.off:g.ok])
	g.off += n
	return n, nil
}

// scan advances the state machine over the bytes not looked at yet.
func (g *Guard) scan() {
	for g.parse < len(g.buf) && g.err == nil {
		switch {
		case g.payload > 0:
			k := min(int64(len(g.buf)-g.parse), g.payload)
			g.parse += int(k)
			g.payload -= k
			g.ok = g.parse
			continue
		case g.crlf > 0:
			want := byte('\n')
			if g.crlf == 2 {
				want = '\r'
			}
			if g.buf[g.parse] != want {
				g.fail("a bulk string not followed by CRLF")
				return
			}
			g.parse++
			if g.crlf--; g.crlf == 0 {
				// The value ends here: it is handed on whole only if it
				// may end (a reply to no command may not).
				if g.done(false); g.err != nil {
					return
				}
			}
			g.ok = g.parse
			continue
		}
		// A header line: g.buf[g.ok:] up to LF.
		end := -1
		for i := g.parse; i < len(g.buf); i++ {
			if g.buf[i] == '\n' {
				end = i
				break
			}
		}
		if end < 0 {
			g.parse = len(g.buf)
			if g.parse-g.ok > g.lim.Line {
				g.fail("a reply line longer than %d bytes", g.lim.Line)
			}
			return // wait for the rest of the line
		}
		line := g.buf[g.ok : end+1]
		if len(line) > g.lim.Line {
			g.fail("a reply line longer than %d bytes", g.lim.Line)
			return
		}
		if len(line) < 3 || line[len(line)-2] != '\r' {
			g.fail("a line that does not end in CRLF")
			return
		}
		g.parse = end + 1
		g.header(line[0], line[1:len(line)-2])
		if g.err != nil {
			return
		}
		g.ok = g.parse
	}
}

// fail makes the error sticky; what was checked before it is still handed on.
func (g *Guard) fail(format string, args ...any) {
	g.err = protoErr(format, args...)
	g.buf = g.buf[:g.ok]
	g.parse = g.ok
}

// header checks one header line (without its type byte and CRLF).
func (g *Guard) header(typ byte, rest []byte) {
	if len(g.stack) == 0 {
		g.top = typ
	}
	switch typ {
	case '+', '-', '(': // simple string, error, big number
		g.done(false)
	case ':':
		if _, ok := guardInt(rest); !ok {
			g.fail("integer %q", clip(rest))
			return
		}
		g.done(false)
	case ',': // double: any text the server formats; bounded by Line
		g.done(false)
	case '_': // null
		if len(rest) != 0 {
			g.fail("null with a payload")
			return
		}
		g.done(false)
	case '#':
		if len(rest) != 1 || (rest[0] != 't' && rest[0] != 'f') {
			g.fail("boolean %q", clip(rest))
			return
		}
		g.done(false)
	case '$', '!', '=':
		n, ok := guardInt(rest)
		switch {
		case !ok:
			g.fail("length %q", clip(rest))
		case n == -1 && typ == '$':
			g.done(false) // RESP2 null bulk
		case n < 0:
			g.fail("negative length %d", n)
		case n > g.lim.Bulk:
			g.fail("a %d-byte string, more than the %d bytes oxyctl reads", n, g.lim.Bulk)
		case n == 0:
			g.crlf = 2
		default:
			g.payload, g.crlf = n, 2
		}
	case '*', '~', '>', '%', '|':
		n, ok := guardInt(rest)
		switch {
		case !ok:
			g.fail("length %q", clip(rest))
			return
		case n == -1 && typ == '*':
			g.done(false) // RESP2 null array
			return
		case n < 0:
			g.fail("negative length %d", n)
			return
		case n > g.lim.Aggregate:
			g.fail("an aggregate of %d elements, more than the %d oxyctl reads", n, g.lim.Aggregate)
			return
		}
		if typ == '%' || typ == '|' {
			n *= 2
		}
		if n == 0 {
			g.done(typ == '|')
			return
		}
		if len(g.stack) >= g.lim.Depth {
			g.fail("aggregates nested deeper than %d", g.lim.Depth)
			return
		}
		g.stack = append(g.stack, frame{left: n, attr: typ == '|'})
	default:
		g.fail("unknown reply type %q", typ)
	}
}

// done records that a value ended: it counts against its parent, which may
// end in turn.
func (g *Guard) done(attr bool) {
	for !attr && len(g.stack) > 0 {
		top := &g.stack[len(g.stack)-1]
		top.left--
		if top.left > 0 {
			return
		}
		attr = top.attr
		g.stack = g.stack[:len(g.stack)-1]
	}
	if attr || len(g.stack) > 0 || g.top == '>' || g.reply == nil {
		return
	}
	if err := g.reply(); err != nil {
		g.fail("%v", err)
	}
}

// guardInt parses a decimal with an optional sign, at most 18 digits, so it
// cannot overflow.
func guardInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func clip(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "..."
	}
	return string(b)
}

// GuardConn is a net.Conn whose reads pass through a Guard, and which
// matches replies to the commands written: a reply that answers no command
// is a protocol violation. valkey-go panics, in a goroutine of its own that
// no caller can recover, on a reply it did not ask for ("protocol bug,
// message handled out of order"); the guard turns that into a read error,
// which valkey-go reports as the command's error.
//
// Once a connection sends a command whose replies do not pair one to one
// with commands (SUBSCRIBE and kin, whose RESP2 messages are arrays that
// answer nothing; MONITOR; CLIENT REPLY), the pairing is no longer checked
// on it. Pushes (RESP3 '>') never count as replies.
type GuardConn struct {
	net.Conn
	g *Guard

	mu      sync.Mutex
	sent    int64 // commands written
	replies int64 // replies read
	free    bool  // pairing no longer checked
	w       cmdScanner
}

// NewGuardConn wraps c.
func NewGuardConn(c net.Conn, lim Limits) *GuardConn {
	gc := &GuardConn{Conn: c, g: NewGuard(c, lim)}
	gc.g.reply = gc.reply
	return gc
}

func (c *GuardConn) Read(p []byte) (int, error) { return c.g.Read(p) }

// Write counts the commands in p before it sends them: a reply can arrive
// before Write returns.
func (c *GuardConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	n, free := c.w.scan(p)
	c.sent += n
	if free {
		c.free = true
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *GuardConn) reply() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.free {
		return nil
	}
	if c.replies >= c.sent {
		return errors.New("a reply to no command (the server answered more than it was asked)")
	}
	c.replies++
	return nil
}

// cmdScanner counts the commands of a client's write stream: RESP arrays of
// bulk strings, as every client library writes them (an inline command, a
// line without '*', counts as one). It notes a command after which replies
// and commands no longer pair (see GuardConn).
type cmdScanner struct {
	line []byte // the header line being read
	args int64  // bulk strings still to come in this command
	argi int    // bulk strings read of this command
	bulk int64  // bytes (with CRLF) still to skip in this bulk string
	name []byte // the first bytes of the command name
}

// unpaired are the commands after which replies do not pair with commands.
// (CLIENT REPLY OFF|SKIP would be one too; oxyctl never sends it.)
var unpaired = map[string]bool{
	"SUBSCRIBE": true, "PSUBSCRIBE": true, "SSUBSCRIBE": true,
	"UNSUBSCRIBE": true, "PUNSUBSCRIBE": true, "SUNSUBSCRIBE": true,
	"MONITOR": true,
}

// isUnpaired reports whether a command name (its first bytes, CRLF
// perhaps included) is one of unpaired.
func isUnpaired(name []byte) bool {
	return unpaired[strings.ToUpper(string(bytes.TrimRight(name, "\r\n")))]
}

func (s *cmdScanner) scan(p []byte) (cmds int64, free bool) {
	for len(p) > 0 {
		if s.bulk > 0 {
			k := min(int64(len(p)), s.bulk)
			if s.argi == 1 && len(s.name) < 16 {
				s.name = append(s.name, p[:min(k, int64(16-len(s.name)))]...)
			}
			p = p[k:]
			if s.bulk -= k; s.bulk == 0 && s.argi == 1 && isUnpaired(s.name) {
				free = true
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.line = append(s.line, p...)
			return cmds, free
		}
		line := append(s.line, p[:i]...)
		p = p[i+1:]
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case s.args > 0 && len(line) > 0 && line[0] == '$':
			n, _ := guardInt(line[1:])
			s.bulk = max(n, 0) + 2
			s.args--
			s.argi++
		case len(line) > 0 && line[0] == '*':
			n, _ := guardInt(line[1:])
			cmds++
			s.args, s.argi, s.name = max(n, 0), 0, s.name[:0]
		case len(line) > 0:
			cmds++ // inline
			if f := bytes.Fields(line); len(f) > 0 && isUnpaired(f[0]) {
				free = true
			}
		}
		s.line = line[:0]
	}
	return cmds, free
}

// String names the guard in errors.
func (c *GuardConn) String() string { return fmt.Sprintf("guarded %s", c.RemoteAddr()) }
