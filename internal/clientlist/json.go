package clientlist

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the report as output.WriteJSON writes it (two-space
// indent, HTML characters as they are, a final newline), byte for byte
// (TestAppendJSONMatchesEncodingJSON), without encoding/json's buffers: with
// 10,000 clients the document is 3 MB, and encoding it through
// encoding/json held three growing copies of it.
func (r *Report) AppendJSON(b []byte) []byte {
	if b == nil {
		// About 300 bytes a client: one allocation, not a doubling series.
		b = make([]byte, 0, 4096+320*len(r.Clients))
	}
	b = append(b, "{\n"...)
	b = field(b, 1, "total")
	b = strconv.AppendInt(b, r.Total, 10)
	b = next(b, 1, "cap")
	b = strconv.AppendInt(b, r.Cap, 10)
	b = next(b, 1, "cap_from")
	b = appendString(b, r.CapFrom)
	b = next(b, 1, "soft_limit_bytes")
	b = strconv.AppendInt(b, r.SoftLimitBytes, 10)
	b = next(b, 1, "soft_limit_from")
	b = appendString(b, r.SoftLimitFrom)
	b = next(b, 1, "groups")
	b = appendList(b, 1, len(r.Groups), func(b []byte, i int) []byte {
		g := &r.Groups[i]
		b = field(b, 3, "key")
		b = appendString(b, g.Key)
		b = next(b, 3, "resolves_to")
		b = appendString(b, g.ResolvesTo)
		b = next(b, 3, "connections")
		b = strconv.AppendInt(b, int64(g.Connections), 10)
		b = next(b, 3, "pubsub")
		b = strconv.AppendInt(b, int64(g.PubSub), 10)
		b = next(b, 3, "omem_bytes")
		b = strconv.AppendInt(b, g.OMemBytes, 10)
		b = next(b, 3, "max_idle_s")
		b = strconv.AppendInt(b, g.MaxIdleS, 10)
		b = next(b, 3, "names")
		b = appendStrings(b, 3, g.Names)
		b = next(b, 3, "libs")
		return appendStrings(b, 3, g.Libs)
	})
	b = next(b, 1, "clients")
	b = appendList(b, 1, len(r.Clients), func(b []byte, i int) []byte {
		c := &r.Clients[i]
		b = field(b, 3, "id")
		b = strconv.AppendInt(b, c.ID, 10)
		b = next(b, 3, "addr")
		b = appendString(b, c.Addr)
		b = next(b, 3, "name")
		b = appendString(b, c.Name)
		b = next(b, 3, "lib")
		b = appendString(b, c.Lib)
		for _, f := range [...]struct {
			k string
			v int64
		}{{"age_s", c.AgeS}, {"idle_s", c.IdleS}, {"sub", c.Sub}, {"psub", c.PSub}, {"ssub", c.SSub}, {"omem_bytes", c.OMemBytes}} {
			b = next(b, 3, f.k)
			b = strconv.AppendInt(b, f.v, 10)
		}
		b = next(b, 3, "flags")
		b = appendString(b, c.Flags)
		b = next(b, 3, "resolves_to")
		b = appendString(b, c.ResolvesTo)
		b = next(b, 3, "node")
		return appendString(b, c.Node)
	})
	b = next(b, 1, "findings")
	b = appendList(b, 1, len(r.Findings), func(b []byte, i int) []byte {
		f := &r.Findings[i]
		b = field(b, 3, "severity")
		b = appendString(b, f.Severity)
		b = next(b, 3, "kind")
		b = appendString(b, f.Kind)
		b = next(b, 3, "client")
		b = appendString(b, f.Client)
		b = next(b, 3, "name")
		b = appendString(b, f.Name)
		b = next(b, 3, "message")
		return appendString(b, f.Message)
	})
	b = next(b, 1, "notes")
	b = appendStrings(b, 1, r.Notes)
	return append(b, "\n}\n"...)
}

func indent(b []byte, depth int) []byte {
	for range depth {
		b = append(b, "  "...)
	}
	return b
}

// field starts the first field of an object at depth.
func field(b []byte, depth int, k string) []byte {
	b = indent(b, depth)
	b = appendString(b, k)
	return append(b, ": "...)
}

// next ends the previous field and starts the next.
func next(b []byte, depth int, k string) []byte {
	b = append(b, ",\n"...)
	return field(b, depth, k)
}

// appendList writes n objects at depth+1 (their fields at depth+2); an
// empty list is [].
func appendList(b []byte, depth, n int, obj func([]byte, int) []byte) []byte {
	if n == 0 {
		return append(b, "[]"...)
	}
	b = append(b, "[\n"...)
	for i := range n {
		if i > 0 {
			b = append(b, ",\n"...)
		}
		b = indent(b, depth+1)
		b = append(b, "{\n"...)
		b = obj(b, i)
		b = append(b, '\n')
		b = indent(b, depth+1)
		b = append(b, '}')
	}
	b = append(b, '\n')
	b = indent(b, depth)
	return append(b, ']')
}

func appendStrings(b []byte, depth int, list []string) []byte {
	if len(list) == 0 {
		return append(b, "[]"...)
	}
	b = append(b, "[\n"...)
	for i, s := range list {
		if i > 0 {
			b = append(b, ",\n"...)
		}
		b = indent(b, depth+1)
		b = appendString(b, s)
	}
	b = append(b, '\n')
	b = indent(b, depth)
	return append(b, ']')
}

// appendString quotes s as encoding/json does with HTML escaping off:
// plain printable ASCII is copied; anything else goes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s) // a string always encodes
			return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
