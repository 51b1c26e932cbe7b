package valkeyclient

import (
	"strconv"
	"strings"
)

// Info is an INFO reply's fields, by name.
type Info map[string]string

// ParseInfo reads INFO's "name:value" lines (CRLF or LF), skipping section
// headers ("# Clients") and blank lines; a RESP3 verbatim string's "txt:"
// prefix is dropped. A name given twice keeps its last value.
func ParseInfo(s string) Info {
	m := Info{}
	s = strings.TrimPrefix(s, "txt:")
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// Int is a field as an integer; ok is false when the field is absent or
// not an integer.
func (i Info) Int(name string) (n int64, ok bool) {
	v, ok := i[name]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n, err == nil
}

// Count is the count=N of a "name:count=N,..." field (INFO errorstats,
// commandstats); 0 when absent.
func (i Info) Count(name string) int64 {
	for f := range strings.SplitSeq(i[name], ",") {
		if v, ok := strings.CutPrefix(f, "count="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
