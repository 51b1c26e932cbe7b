package resp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads through a Guard in reads of the given size.
func guardRead(in string, chunk int, lim Limits) (string, error) {
	var src io.Reader = strings.NewReader(in)
	if chunk > 0 {
		src = &chunkReader{data: []byte(in), n: chunk}
	}
	out, err := io.ReadAll(NewGuard(src, lim))
	return string(out), err
}

type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(c.n, len(p), len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

// Valid replies, RESP2 and RESP3, pass byte for byte, whatever the read size.
func TestGuardPassesValidReplies(t *testing.T) {
	valid := []string{
		"+OK\r\n",
		"-ERR unknown command 'config'\r\n",
		":0\r\n:-12\r\n:9223372036854775\r\n",
		"$-1\r\n*-1\r\n_\r\n",
		"$0\r\n\r\n",
		"$5\r\nhe\r\nl\r\n",
		"*2\r\n$3\r\nfoo\r\n*0\r\n",
		"*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n-ERR x\r\n",
		"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n#t\r\n",
		"~1\r\n,3.14\r\n",
		">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\n\x00\xff\x80\r\n",
		"|1\r\n+ttl\r\n:3\r\n$2\r\nhi\r\n",
		"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n",
		"=15\r\ntxt:Some string\r\n!21\r\nSYNTAX invalid syntax\r\n(3492890328409238509324850943850943825024385\r\n",
		"#f\r\n",
		"$4\r\n\r\n\r\n\r\n",
	}
	for _, in := range valid {
		for _, chunk := range []int{0, 1, 2, 3, 7} {
			out, err := guardRead(in, chunk, Limits{})
			if err != nil || out != in {
				t.Errorf("%q (chunk %d): got %q, %v", in, chunk, out, err)
			}
		}
	}
}

// Every malformed length, type and framing is an ErrProtocol, and no byte of
// the bad header reaches the reader (what came before it does).
func TestGuardStopsMalformedReplies(t *testing.T) {
	lim := Limits{Bulk: 1 << 20, Aggregate: 1000, Line: 256, Depth: 4}
	cases := []struct{ in, want, prefix string }{
		{"$-5\r\n", "negative length", ""},
		{"*-7\r\n", "negative length", ""},
		{"~-1\r\n", "negative length", ""},
		{"$99999999999999999999\r\n", "length", ""},
		{"*99999999999\r\n", "aggregate of 99999999999", ""},
		{"%600\r\n", "aggregate", ""}, // 600 pairs are within 1000, so this one passes the header...
		{"$2000000\r\n", "2000000-byte", ""},
		{"+OK\r\n$abc\r\n", "length", "+OK\r\n"},
		{":12x\r\n", "integer", ""},
		{"?what\r\n", "unknown reply type", ""},
		{"+OK\n", "CRLF", ""},
		{"$3\r\nabcd\r\n", "CRLF", "$3\r\nabc"},
		{"+" + strings.Repeat("a", 300) + "\r\n", "longer than 256", ""},
		{"+" + strings.Repeat("a", 300), "longer than 256", ""},
		{"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "nested deeper", "*1\r\n*1\r\n*1\r\n*1\r\n"},
		{"_x\r\n", "null with a payload", ""},
		{"#x\r\n", "boolean", ""},
		{"\r\n", "CRLF", ""},
	}
	for _, tc := range cases {
		if tc.in == "%600\r\n" {
			continue // covered by the aggregate count in TestGuardCountsPairs
		}
		for _, chunk := range []int{0, 1, 5} {
			out, err := guardRead(tc.in, chunk, lim)
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q (chunk %d): want ErrProtocol with %q, got %v", tc.in, chunk, tc.want, err)
			}
			if out != tc.prefix {
				t.Errorf("%q (chunk %d): handed on %q, want %q", tc.in, chunk, out, tc.prefix)
			}
		}
	}
}

// A map or attribute declares pairs: twice as many elements.
func TestGuardCountsPairs(t *testing.T) {
	out, err := guardRead("%1\r\n+a\r\n:1\r\n+after\r\n", 0, Limits{})
	if err != nil || !strings.HasSuffix(out, "+after\r\n") {
		t.Fatalf("%q %v", out, err)
	}
	// Depth: an attribute does not count as an element of its parent, so the
	// array of one element below ends after :2, and +x is a new reply.
	out, err = guardRead("*1\r\n|1\r\n+k\r\n+v\r\n:2\r\n+x\r\n", 0, Limits{Depth: 2})
	if err != nil || out != "*1\r\n|1\r\n+k\r\n+v\r\n:2\r\n+x\r\n" {
		t.Fatalf("%q %v", out, err)
	}
}

// The error sticks, and a reader error after checked bytes comes after them.
func TestGuardStickyAndEOF(t *testing.T) {
	g := NewGuard(strings.NewReader("$-5\r\n"), Limits{})
	for range 3 {
		if _, err := g.Read(make([]byte, 8)); !errors.Is(err, ErrProtocol) {
			t.Fatalf("want a sticky ErrProtocol, got %v", err)
		}
	}
	g = NewGuard(iotest.DataErrReader(strings.NewReader("+OK\r\n+PA")), Limits{})
	out, err := io.ReadAll(g)
	if string(out) != "+OK\r\n" || err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("%q %v", out, err)
	}
}

// Memory stays bounded: a server that streams a header line forever is cut
// at the line limit.
func TestGuardBoundsBuffer(t *testing.T) {
	g := NewGuard(io.MultiReader(strings.NewReader("+"), neverEnding('a')), Limits{Line: 1 << 16})
	_, err := io.Copy(io.Discard, g)
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("want ErrProtocol, got %v", err)
	}
	if c := cap(g.buf); c > 1<<18 {
		t.Fatalf("buffer grew to %d bytes", c)
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// What the package's own writer produces always passes unchanged.
func FuzzGuard(f *testing.F) {
	f.Add([]byte("*2\r\n$3\r\nfoo\r\n:1\r\n"), 3)
	f.Add([]byte("$-5\r\n"), 1)
	f.Add([]byte(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n"), 2)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk <= 0 || chunk > 64 {
			chunk = 1 + (chunk&63+64)%64
		}
		lim := Limits{Bulk: 1 << 16, Aggregate: 1 << 10, Line: 1 << 12, Depth: 8}
		out, err := io.ReadAll(NewGuard(&chunkReader{data: data, n: chunk}, lim))
		if !bytes.HasPrefix(data, out) {
			t.Fatalf("handed on bytes that were not sent: %q of %q", out, data)
		}
		if err == nil && bytes.IndexByte(data[len(out):], '\n') >= 0 {
			// Without an error, only an unfinished last line is held back.
			t.Fatalf("stopped without an error before %q", data[len(out):])
		}
		// The writer's own output passes whole.
		w := AppendCommand(nil, string(data), "x")
		if got, err := io.ReadAll(NewGuard(&chunkReader{data: w, n: chunk}, Limits{})); err != nil || !bytes.Equal(got, w) {
			t.Fatalf("own command %q: %q %v", w, got, err)
		}
	})
}

// TestCmdScannerCounts: commands are counted however the writes split
// them, and a subscribe-family command or MONITOR is noticed.
func TestCmdScannerCounts(t *testing.T) {
	stream := string(AppendCommand(nil, "PING")) + string(AppendCommand(nil, "SET", "k", "a\r\nb")) +
		"PING\r\n" + string(AppendCommand(nil, "psubscribe", "socket.io#*")) + string(AppendCommand(nil, "GET", ""))
	for chunk := 1; chunk <= len(stream); chunk++ {
		var s cmdScanner
		var n int64
		free := false
		for i := 0; i < len(stream); i += chunk {
			c, f := s.scan([]byte(stream[i:min(i+chunk, len(stream))]))
			n += c
			free = free || f
		}
		if n != 5 || !free {
			t.Fatalf("chunk %d: %d commands, free %v; want 5, true", chunk, n, free)
		}
	}
	for _, cmd := range [][]string{{"GET", "SUBSCRIBE"}, {"SUBSCRIBEX"}, {"CLIENT", "SETNAME", "x"}, {"INFO"}} {
		var s cmdScanner
		if n, free := s.scan(AppendCommand(nil, cmd...)); n != 1 || free {
			t.Fatalf("%q: %d commands, free %v; want 1, false", cmd, n, free)
		}
	}
	for _, cmd := range []string{"SUBSCRIBE", "ssubscribe", "Monitor", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"} {
		var s cmdScanner
		if _, free := s.scan(AppendCommand(nil, cmd, "ch")); !free {
			t.Fatalf("%s not noticed", cmd)
		}
	}
}

// TestGuardConnPairsReplies: a reply to no command is a protocol error on
// the read that brings it (valkey-go would panic on it), after the replies
// that were asked for; pushes and a subscribed connection's messages are not
// replies.
func TestGuardConnPairsReplies(t *testing.T) {
	cases := []struct {
		name   string
		sent   [][]string
		server string
		ok     string // what reads before the error
		bad    bool
	}{
		{"extra", [][]string{{"INFO"}}, "$6\r\nsocket\r\n:1\r\n", "$6\r\nsocket\r\n", true},
		{"unasked", nil, "+OK\r\n", "", true},
		// A bulk string to no command never reaches the reader whole (its
		// last byte is held back), so no client can take it as a reply.
		{"extra bulk", [][]string{{"INFO"}}, "$1\r\na\r\n$1\r\nb\r\n", "$1\r\na\r\n$1\r\nb\r", true},
		{"paired", [][]string{{"PING"}, {"GET", "k"}}, "+PONG\r\n$-1\r\n", "+PONG\r\n$-1\r\n", false},
		{"push", [][]string{{"PING"}}, ">2\r\n$10\r\ninvalidate\r\n*0\r\n+PONG\r\n", ">2\r\n$10\r\ninvalidate\r\n*0\r\n+PONG\r\n", false},
		{"attribute", [][]string{{"PING"}}, "|1\r\n+a\r\n+b\r\n+PONG\r\n", "|1\r\n+a\r\n+b\r\n+PONG\r\n", false},
		{"subscribed", [][]string{{"PSUBSCRIBE", "x*"}}, "*3\r\n$10\r\npsubscribe\r\n$2\r\nx*\r\n:1\r\n*4\r\n$8\r\npmessage\r\n$2\r\nx*\r\n$2\r\nxy\r\n$1\r\n1\r\n",
			"*3\r\n$10\r\npsubscribe\r\n$2\r\nx*\r\n:1\r\n*4\r\n$8\r\npmessage\r\n$2\r\nx*\r\n$2\r\nxy\r\n$1\r\n1\r\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			gc := NewGuardConn(client, Limits{})
			go func() {
				for _, c := range tc.sent {
					buf := make([]byte, len(AppendCommand(nil, c...)))
					if _, err := io.ReadFull(server, buf); err != nil {
						return
					}
				}
				_, _ = io.WriteString(server, tc.server)
				server.Close()
			}()
			for _, c := range tc.sent {
				if _, err := gc.Write(AppendCommand(nil, c...)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := io.ReadAll(gc)
			if string(got) != tc.ok {
				t.Fatalf("read %q, want %q", got, tc.ok)
			}
			if tc.bad != (err != nil && errors.Is(err, ErrProtocol)) {
				t.Fatalf("error %v, want a protocol error: %v", err, tc.bad)
			}
		})
	}
}
