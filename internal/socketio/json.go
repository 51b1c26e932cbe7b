package socketio

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting AppendJSON follows in hand-built values;
// deeper values are written as null. Decoded values never come close.
const maxJSONDepth = 512

// AppendJSON appends m as one line of JSON (no trailing newline) to dst.
// The output has the same fields and values as encoding/json with Message's
// tags, except that it never fails: Time is written in UTC; Args, Rooms and
// Except are [] and Flags {} when nil; non-finite floats and values that
// cannot be represented are null; invalid UTF-8 becomes U+FFFD. HTML
// characters are not escaped. Map keys are sorted, as encoding/json does.
func AppendJSON(dst []byte, m *Message) []byte {
	dst = append(dst, `{"time":"`...)
	dst = appendTime(dst, m.Time.UTC())
	dst = append(dst, `","channel":`...)
	dst = appendString(dst, m.Channel)
	dst = append(dst, `,"kind":`...)
	dst = appendString(dst, m.Kind)
	dst = append(dst, `,"adapter":`...)
	dst = appendString(dst, m.Adapter)
	dst = append(dst, `,"encoding":`...)
	dst = appendString(dst, m.Encoding)
	dst = append(dst, `,"namespace":`...)
	dst = appendString(dst, m.Namespace)
	dst = append(dst, `,"channel_room":`...)
	dst = appendString(dst, m.ChannelRoom)
	dst = append(dst, `,"event":`...)
	dst = appendString(dst, m.Event)
	dst = append(dst, `,"args":`...)
	dst = appendArray(dst, m.Args, 1)
	dst = append(dst, `,"rooms":`...)
	dst = appendStrings(dst, m.Rooms)
	dst = append(dst, `,"except":`...)
	dst = appendStrings(dst, m.Except)
	dst = append(dst, `,"flags":`...)
	if m.Flags == nil {
		dst = append(dst, "{}"...)
	} else {
		dst = appendObject(dst, m.Flags, 1)
	}
	dst = append(dst, `,"origin":`...)
	dst = appendString(dst, m.Origin)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, m.Type)
	dst = append(dst, `,"type_code":`...)
	dst = strconv.AppendInt(dst, int64(m.TypeCode), 10)
	dst = append(dst, `,"request_id":`...)
	dst = appendString(dst, m.RequestID)
	if m.Data != nil {
		dst = append(dst, `,"data":`...)
		dst = appendValue(dst, m.Data, 1)
	}
	if len(m.Raw) > 0 {
		dst = append(dst, `,"raw":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, m.Raw)
		dst = append(dst, '"')
	}
	if m.Problem != "" {
		dst = append(dst, `,"problem":`...)
		dst = appendString(dst, m.Problem)
	}
	return append(dst, '}')
}

func appendValue(dst []byte, v any, depth int) []byte {
	if depth > maxJSONDepth {
		return append(dst, "null"...)
	}
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendString(dst, v)
	case bool:
		return strconv.AppendBool(dst, v)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case uint64:
		return strconv.AppendUint(dst, v, 10)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case int32:
		return strconv.AppendInt(dst, int64(v), 10)
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10)
	case float64:
		return appendFloat(dst, v, 64)
	case float32:
		return appendFloat(dst, float64(v), 32)
	case json.Number:
		if isValidNumber(string(v)) {
			return append(dst, v...)
		}
		return appendString(dst, string(v))
	case Binary:
		return appendBinary(dst, v)
	case *Binary:
		if v == nil {
			return append(dst, "null"...)
		}
		return appendBinary(dst, *v)
	case []byte:
		if v == nil {
			return append(dst, "null"...)
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v)
		return append(dst, '"')
	case []any:
		if v == nil {
			return append(dst, "null"...)
		}
		return appendArray(dst, v, depth+1)
	case []string:
		if v == nil {
			return append(dst, "null"...)
		}
		return appendStrings(dst, v)
	case map[string]any:
		if v == nil {
			return append(dst, "null"...)
		}
		return appendObject(dst, v, depth+1)
	case time.Time:
		dst = append(dst, '"')
		dst = v.AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	}
	// Anything else (a hand-built value): let encoding/json try.
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

func appendArray(dst []byte, a []any, depth int) []byte {
	dst = append(dst, '[')
	for i, v := range a {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendValue(dst, v, depth)
	}
	return append(dst, ']')
}

func appendStrings(dst []byte, a []string) []byte {
	dst = append(dst, '[')
	for i, s := range a {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

type kv struct {
	k string
	v any
}

func appendObject(dst []byte, m map[string]any, depth int) []byte {
	var buf [16]kv
	pairs := buf[:0]
	for k, v := range m {
		pairs = append(pairs, kv{k, v})
	}
	if len(pairs) <= len(buf) {
		// insertion sort: objects are small, and this beats a generic sort
		for i := 1; i < len(pairs); i++ {
			for j := i; j > 0 && pairs[j].k < pairs[j-1].k; j-- {
				pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
			}
		}
	} else {
		slices.SortFunc(pairs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	}
	dst = append(dst, '{')
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, p.k)
		dst = append(dst, ':')
		dst = appendValue(dst, p.v, depth)
	}
	return append(dst, '}')
}

// appendTime writes t (in UTC) exactly as t.AppendFormat(dst,
// time.RFC3339Nano) would, without the general layout interpreter.
func appendTime(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, time.RFC3339Nano)
	}
	hour, minute, sec := t.Clock()
	dst = append(dst, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		dst = append(dst, frac[:n]...)
	}
	return append(dst, 'Z')
}

// appendFloat formats like encoding/json; non-finite values become null.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// safeASCII marks the bytes below utf8.RuneSelf that need no escaping.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString writes s as a JSON string: control characters, quotes and
// backslashes escaped, U+2028/U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip 8 plain ASCII bytes at a time: none below 0x20, none of
		// '"' and '\\', none with the high bit set.
		for i+8 <= len(s) {
			x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
				uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
			if (x|hasLess(x, 0x20)|hasZero(x^(lsb*'"'))|hasZero(x^(lsb*'\\')))&msb != 0 {
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasZero has the high bit set in each byte of x that is zero (or, past
// the first such byte, possibly others: only "any" is used).
func hasZero(x uint64) uint64 { return (x - lsb) &^ x & msb }

// hasLess has a high bit set if some byte of x is below n (n <= 128).
func hasLess(x uint64, n uint64) uint64 { return (x - lsb*n) &^ x & msb }

// isValidNumber reports whether s is a JSON number literal.
func isValidNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		if s = s[1:]; s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			if s = s[1:]; s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}
