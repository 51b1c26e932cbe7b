// Package clientlist reads who is connected to the deployment: the reply of
// CLIENT LIST parsed strictly (Parse), read on every node with the facts
// around it (Read: the caller's own connection, INFO maxclients and the
// output-buffer disconnections), the subscribers that are not Socket.IO
// adapter instances (Strays), and the report of `oxyctl clients` (Build):
// clients grouped by address or name, with findings.
//
// It never sends a command DigitalOcean refuses: CLIENT LIST, CLIENT ID and
// INFO only. A refused CLIENT LIST is a note, not an error.
package clientlist

import (
	"fmt"
	"strconv"
	"strings"
)

// Client is one connection as CLIENT LIST describes it. Strings are slices
// of the reply (no copy); fields the server did not send are zero.
type Client struct {
	ID      int64
	Addr    string // ip:port the client connected from
	LAddr   string // ip:port of the server it connected to
	Name    string
	LibName string
	LibVer  string
	Age     int64 // seconds
	Idle    int64 // seconds
	Flags   string
	DB      int64
	Sub     int64 // channel subscriptions
	PSub    int64 // pattern subscriptions
	SSub    int64 // shard channel subscriptions
	OMem    int64 // output buffer memory, bytes
	Cmd     string
	User    string
}

// PubSub reports whether the client is in pub/sub mode (flag P, or any
// subscription).
func (c *Client) PubSub() bool {
	return strings.Contains(c.Flags, "P") || c.Sub > 0 || c.PSub > 0 || c.SSub > 0
}

// Normal reports whether the client is what CLIENT LIST TYPE normal lists:
// neither pub/sub nor a replica or primary link.
func (c *Client) Normal() bool {
	return !c.PubSub() && !strings.ContainsAny(c.Flags, "SM")
}

// Host is the address without its port ("" when Addr has none).
func (c *Client) Host() string { return host(c.Addr) }

// Lib is "lib-name lib-ver", or the name alone, or "".
func (c *Client) Lib() string {
	switch {
	case c.LibName == "":
		return ""
	case c.LibVer == "":
		return c.LibName
	}
	return c.LibName + " " + c.LibVer
}

func host(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return ""
	}
	h := addr[:i]
	if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return h
}

// ParseError is a malformed reply: the line (1-based) and what is wrong.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("CLIENT LIST reply, line %d: %s", e.Line, e.Msg)
}

// Parse reads a CLIENT LIST reply: one client per line, each a list of
// space-separated field=value pairs. Unknown fields are ignored; a line
// without id or addr, a token without '=', or a number that does not parse
// is an error. Client names and library names cannot hold spaces (the
// server refuses them), so a space always separates fields. dst is appended
// to, so a caller can reuse it.
func Parse(reply string, dst []Client) ([]Client, error) {
	line := 0
	for len(reply) > 0 {
		line++
		var l string
		l, reply = cutLine(reply)
		if l == "" {
			continue
		}
		c, err := parseLine(l)
		if err != nil {
			return dst, &ParseError{Line: line, Msg: err.Error()}
		}
		dst = append(dst, c)
	}
	return dst, nil
}

func parseLine(l string) (Client, error) {
	var c Client
	var haveID, haveAddr bool
	for len(l) > 0 {
		var tok string
		if i := strings.IndexByte(l, ' '); i >= 0 {
			tok, l = l[:i], l[i+1:]
		} else {
			tok, l = l, ""
		}
		if tok == "" {
			continue
		}
		eq := strings.IndexByte(tok, '=')
		if eq <= 0 {
			return c, fmt.Errorf("%q is not field=value", clip(tok))
		}
		k, v := tok[:eq], tok[eq+1:]
		var num *int64
		switch k {
		case "id":
			num, haveID = &c.ID, true
		case "addr":
			c.Addr, haveAddr = v, true
		case "laddr":
			c.LAddr = v
		case "name":
			c.Name = v
		case "lib-name":
			c.LibName = v
		case "lib-ver":
			c.LibVer = v
		case "age":
			num = &c.Age
		case "idle":
			num = &c.Idle
		case "flags":
			c.Flags = v
		case "db":
			num = &c.DB
		case "sub":
			num = &c.Sub
		case "psub":
			num = &c.PSub
		case "ssub":
			num = &c.SSub
		case "omem":
			num = &c.OMem
		case "cmd":
			c.Cmd = v
		case "user":
			c.User = v
		}
		if num != nil {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return c, fmt.Errorf("%s=%q is not a count", k, clip(v))
			}
			*num = n
		}
	}
	if !haveID || !haveAddr {
		return c, fmt.Errorf("no id or addr field")
	}
	return c, nil
}

// cutLine splits s after its first line (LF or CRLF), the line without its end.
func cutLine(s string) (line, rest string) {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		line, rest = s[:i], s[i+1:]
	} else {
		line = s
	}
	return strings.TrimSuffix(line, "\r"), rest
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
