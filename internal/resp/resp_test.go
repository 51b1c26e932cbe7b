package resp

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

func TestAppendCommand(t *testing.T) {
	got := string(AppendCommand(nil, "SET", "rl:\x00\r\n*", ""))
	want := "*3\r\n$3\r\nSET\r\n$7\r\nrl:\x00\r\n*\r\n$0\r\n\r\n"
	if got != want {
		t.Fatalf("AppendCommand = %q, want %q", got, want)
	}
}

func reader(s string) *Reader { return NewReader(strings.NewReader(s)) }

func TestReadReplies(t *testing.T) {
	r := reader(":0\r\n:-2\r\n:9223372036854775807\r\n$-1\r\n$0\r\n\r\n$4\r\na\r\nb\r\n+OK\r\n*2\r\n$1\r\n0\r\n*-1\r\n-WRONGTYPE Operation against a key\r\n")
	for _, want := range []int64{0, -2, 1<<63 - 1} {
		if n, err := r.ReadInt(); err != nil || n != want {
			t.Fatalf("ReadInt = %d, %v; want %d", n, err, want)
		}
	}
	if b, ok, err := r.ReadBulk(); err != nil || ok || b != nil {
		t.Fatalf("null bulk = %q, %v, %v", b, ok, err)
	}
	for _, want := range []string{"", "a\r\nb", "OK"} {
		if b, ok, err := r.ReadBulk(); err != nil || !ok || string(b) != want {
			t.Fatalf("ReadBulk = %q, %v, %v; want %q", b, ok, err, want)
		}
	}
	if n, err := r.ReadArrayLen(); err != nil || n != 2 {
		t.Fatalf("ReadArrayLen = %d, %v", n, err)
	}
	if err := r.Skip(); err != nil {
		t.Fatalf("Skip bulk: %v", err)
	}
	if n, err := r.ReadArrayLen(); err != nil || n != -1 {
		t.Fatalf("null array = %d, %v", n, err)
	}
	_, err := r.ReadInt()
	var re *Error
	if !errors.As(err, &re) || re.Prefix() != "WRONGTYPE" || re.Msg != "WRONGTYPE Operation against a key" {
		t.Fatalf("error reply = %v", err)
	}
	if _, err := r.ReadInt(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

// A bulk string longer than the reader's buffer is read whole.
func TestReadBulkLargerThanBuffer(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 10000) // 160,000 bytes
	r := NewReader(bytes.NewReader(AppendBulk(AppendBulk(nil, big), "next")))
	for _, want := range []string{big, "next"} {
		b, ok, err := r.ReadBulk()
		if err != nil || !ok || string(b) != want {
			t.Fatalf("ReadBulk = %d bytes, %v, %v; want %d bytes", len(b), ok, err, len(want))
		}
	}
}

// Skip reads a whole nested reply and reports an error element after it.
func TestSkip(t *testing.T) {
	r := reader("*3\r\n:1\r\n*2\r\n$2\r\nab\r\n-MOVED 3999 127.0.0.1:7001\r\n+OK\r\n:7\r\n")
	err := r.Skip()
	var re *Error
	if !errors.As(err, &re) || re.Prefix() != "MOVED" {
		t.Fatalf("Skip = %v, want the MOVED element", err)
	}
	if n, err := r.ReadInt(); err != nil || n != 7 {
		t.Fatalf("after Skip: %d, %v; want 7 (the whole reply consumed)", n, err)
	}
}

func TestMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"no CR":              ":1\n",
		"empty line":         "\r\n",
		"int with letters":   ":12a\r\n",
		"int too long":       ":99999999999999999999\r\n",
		"int overflow":       ":9223372036854775808\r\n",
		"int empty":          ":\r\n",
		"int plus":           ":+1\r\n",
		"string for int":     "$1\r\n1\r\n",
		"bulk length -2":     "$-2\r\n",
		"bulk length huge":   "$999999999999\r\n",
		"bulk without CRLF":  "$3\r\nabcde\r\n",
		"unknown type":       "?1\r\n",
		"array length -2":    "*-2\r\n",
		"array for int":      "*1\r\n:1\r\n",
		"array length large": "*99999999\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			switch {
			case strings.HasSuffix(name, "for int"), strings.HasPrefix(name, "int"), name == "no CR", name == "empty line":
				_, err = reader(in).ReadInt()
			case strings.HasPrefix(name, "array"):
				_, err = reader(in).ReadArrayLen()
			case name == "unknown type":
				err = reader(in).Skip()
			default:
				_, _, err = reader(in).ReadBulk()
			}
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("%q: err = %v, want ErrProtocol", in, err)
			}
		})
	}
	for _, in := range []string{":1", "$5\r\nab", "*2\r\n:1\r\n"} {
		r := reader(in)
		var err error
		for err == nil {
			err = r.Skip()
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			t.Errorf("truncated %q: %v, want an EOF error", in, err)
		}
	}
}

func TestDeepNesting(t *testing.T) {
	if err := reader(strings.Repeat("*1\r\n", 100) + ":1\r\n").Skip(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("100-deep array: %v, want ErrProtocol", err)
	}
}

// FuzzReader: any bytes end in a reply or an error, never a panic; commands
// built by AppendCommand read back exactly.
func FuzzReader(f *testing.F) {
	f.Add([]byte("*2\r\n$1\r\n0\r\n*1\r\n$4\r\nrl:a\r\n"), "rl:\x00", "5")
	f.Add([]byte(":-2\r\n$-1\r\n-ERR x\r\n"), "", "")
	f.Add([]byte("$3\r\nab"), "\r\n", "*")
	f.Fuzz(func(t *testing.T, in []byte, a, b string) {
		r := NewReader(bytes.NewReader(in))
		for i := 0; i < 1000; i++ {
			err := r.Skip()
			var re *Error
			if err != nil && !errors.As(err, &re) {
				break
			}
		}
		r = NewReader(bytes.NewReader(AppendCommand(nil, a, b)))
		if n, err := r.ReadArrayLen(); err != nil || n != 2 {
			t.Fatalf("array = %d, %v", n, err)
		}
		for _, want := range []string{a, b} {
			got, ok, err := r.ReadBulk()
			if err != nil || !ok || string(got) != want {
				t.Fatalf("ReadBulk = %q, %v, %v; want %q", got, ok, err, want)
			}
		}
	})
}

// Every length form (the one- and two-digit fast paths, and the rest)
// matches strconv.
func TestAppendLengths(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 42, 99, 100, 101, 999, 12345, 1 << 20} {
		s := strings.Repeat("x", n)
		want := "$" + strconv.Itoa(n) + "\r\n" + s + "\r\n"
		if got := string(AppendBulk(nil, s)); got != want {
			t.Fatalf("AppendBulk(%d bytes) starts %q, want %q", n, got[:min(len(got), 12)], want[:min(len(want), 12)])
		}
		if got, want := string(AppendArray(nil, n)), "*"+strconv.Itoa(n)+"\r\n"; got != want {
			t.Fatalf("AppendArray(%d) = %q, want %q", n, got, want)
		}
	}
}

// ReadSimple reads a status line of any length (MONITOR echoes whole
// commands), an error reply as *Error, and refuses any other type.
func TestReadSimple(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	r := NewReader(strings.NewReader("+OK\r\n+" + long + "\r\n-NOPERM no\r\n:1\r\n+cut"))
	if l, err := r.ReadSimple(); err != nil || string(l) != "OK" {
		t.Fatalf("ReadSimple = %q, %v", l, err)
	}
	if l, err := r.ReadSimple(); err != nil || string(l) != long {
		t.Fatalf("long line: %d bytes, %v", len(l), err)
	}
	var re *Error
	if _, err := r.ReadSimple(); !errors.As(err, &re) || re.Prefix() != "NOPERM" {
		t.Fatalf("error reply: %v", err)
	}
	if _, err := r.ReadSimple(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("an integer: %v, want a protocol error", err)
	}
	if _, err := r.ReadSimple(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a cut line: %v", err)
	}
}
