package adaptertap

import (
	"bytes"
	"errors"
	"strconv"
	"time"
)

// MonitorLine is one parsed MONITOR line:
//
//	+1712345678.123456 [0 127.0.0.1:54321] "SPUBLISH" "socket.io#/#" "\x93\xa6..."
type MonitorLine struct {
	Time   time.Time
	Client string   // what the brackets say: "0 127.0.0.1:54321", "0 lua"
	Args   [][]byte // the command and its arguments, unescaped byte-exactly
}

// ParseMonitorLine parses one MONITOR line (with or without the leading '+'
// and the trailing CRLF). Arguments are unescaped exactly as the server
// escaped them (sdscatrepr): \\ \" \n \r \t \a \b and \xHH; every other
// byte stands for itself. It never panics.
func ParseMonitorLine(line []byte) (MonitorLine, error) {
	var ml MonitorLine
	line = bytes.TrimRight(line, "\r\n")
	line = bytes.TrimPrefix(line, []byte("+"))
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return ml, errors.New("no timestamp")
	}
	ts, err := parseMonitorTime(line[:sp])
	if err != nil {
		return ml, err
	}
	ml.Time = ts
	rest := line[sp+1:]
	if len(rest) == 0 || rest[0] != '[' {
		return ml, errors.New("no [db client] part")
	}
	// The client part may itself hold brackets ("[0 [::1]:6379]"); the
	// arguments start after the first `] "`.
	end := bytes.Index(rest, []byte(`] "`))
	if end < 0 {
		return ml, errors.New("no arguments")
	}
	ml.Client = string(rest[1:end])
	args, err := parseMonitorArgs(rest[end+2:], nil)
	if err != nil {
		return ml, err
	}
	ml.Args = args
	return ml, nil
}

// monitorCommandIs reports quickly whether the line's command is name
// (ASCII, compared without case), without unescaping anything.
func monitorCommandIs(line []byte, name string) bool {
	i := bytes.Index(line, []byte(`] "`))
	if i < 0 {
		return false
	}
	rest := line[i+3:]
	if len(rest) < len(name)+1 || rest[len(name)] != '"' {
		return false
	}
	for j := 0; j < len(name); j++ {
		c := rest[j]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != name[j] {
			return false
		}
	}
	return true
}

func parseMonitorTime(b []byte) (time.Time, error) {
	sec, frac, _ := bytes.Cut(b, []byte("."))
	s, err := strconv.ParseInt(string(sec), 10, 64)
	if err != nil || s < 0 {
		return time.Time{}, errors.New("bad timestamp")
	}
	var ns int64
	if len(frac) > 0 {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		f, err := strconv.ParseInt(string(frac), 10, 64)
		if err != nil || f < 0 {
			return time.Time{}, errors.New("bad timestamp")
		}
		for i := len(frac); i < 9; i++ {
			f *= 10
		}
		ns = f
	}
	return time.Unix(s, ns), nil
}

// parseMonitorArgs reads `"a" "b\x00c" ...` and appends each argument.
func parseMonitorArgs(b []byte, args [][]byte) ([][]byte, error) {
	for len(b) > 0 {
		if b[0] == ' ' {
			b = b[1:]
			continue
		}
		if b[0] != '"' {
			return args, errors.New("argument does not start with a quote")
		}
		b = b[1:]
		arg := make([]byte, 0, len(b))
		closed := false
		for len(b) > 0 && !closed {
			c := b[0]
			switch c {
			case '"':
				closed = true
				b = b[1:]
			case '\\':
				if len(b) < 2 {
					return args, errors.New("truncated escape")
				}
				switch b[1] {
				case '\\', '"':
					arg = append(arg, b[1])
					b = b[2:]
				case 'n':
					arg, b = append(arg, '\n'), b[2:]
				case 'r':
					arg, b = append(arg, '\r'), b[2:]
				case 't':
					arg, b = append(arg, '\t'), b[2:]
				case 'a':
					arg, b = append(arg, '\a'), b[2:]
				case 'b':
					arg, b = append(arg, '\b'), b[2:]
				case 'x':
					if len(b) < 4 {
						return args, errors.New("truncated \\x escape")
					}
					hi, ok1 := unhex(b[2])
					lo, ok2 := unhex(b[3])
					if !ok1 || !ok2 {
						return args, errors.New("bad \\x escape")
					}
					arg, b = append(arg, hi<<4|lo), b[4:]
				default:
					return args, errors.New("unknown escape")
				}
			default:
				arg = append(arg, c)
				b = b[1:]
			}
		}
		if !closed {
			return args, errors.New("unterminated argument")
		}
		args = append(args, arg)
	}
	return args, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
