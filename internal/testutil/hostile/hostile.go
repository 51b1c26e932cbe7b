// Package hostile is a scripted RESP server on loopback for tests: it
// answers like a small healthy Valkey (RESP2 only, as a server without
// HELLO) except where a test tells it to answer badly: a malformed length,
// a wrong type, broken framing, a redirect, a SCAN that never ends, silence
// or a dropped connection. It lets the end-to-end suite drive every
// Valkey-facing command through what no healthy server says.
package hostile

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Special replies.
const (
	Hang  = "\x00hang"  // stop answering, keep the connection open
	Close = "\x00close" // close the connection
	Flood = "\x00flood" // write an endless bulk string
)

// Answer returns the raw reply to a command (its name upper-cased in
// args[0]), or "" for the healthy answer.
type Answer func(args []string) string

// Server is a running hostile server.
type Server struct {
	Addr   string
	answer Answer

	mu    sync.Mutex
	conns map[net.Conn]bool
	seen  []string
	done  chan struct{}
}

// Start listens on a free loopback port; t.Cleanup stops it and closes
// every connection.
func Start(t testing.TB, answer Answer) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: l.Addr().String(), answer: answer, conns: map[net.Conn]bool{}, done: make(chan struct{})}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			go s.serve(c)
		}
	}()
	t.Cleanup(func() {
		close(s.done)
		l.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}

// Commands returns the names of the commands received so far, in order.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func (s *Server) serve(c net.Conn) {
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	r := bufio.NewReader(c)
	st := &connState{}
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		args[0] = strings.ToUpper(args[0])
		s.mu.Lock()
		s.seen = append(s.seen, args[0])
		s.mu.Unlock()
		out := s.answer(args)
		if out == "" {
			out = st.healthy(args)
		}
		switch out {
		case Hang:
			<-s.done
			return
		case Close:
			return
		case Flood:
			_, _ = io.WriteString(c, "$1073741824\r\n")
			chunk := []byte(strings.Repeat("x", 64<<10))
			for {
				select {
				case <-s.done:
					return
				default:
				}
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}
		if _, err := io.WriteString(c, out); err != nil {
			return
		}
	}
}

// readCommand reads one command: a RESP array of bulk strings (bounded: a
// test client never sends more than a few MiB).
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return strings.Fields(line), nil // an inline command
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 1 || n > 1<<20 {
		return nil, fmt.Errorf("bad command array %q", line)
	}
	args := make([]string, n)
	for i := range args {
		h, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		m, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(h, "$")))
		if err != nil || m < 0 || m > 64<<20 {
			return nil, fmt.Errorf("bad bulk %q", h)
		}
		b := make([]byte, m+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:m])
	}
	return args, nil
}

type connState struct{ subs int }

// healthy answers like a small standalone server that holds no keys.
func (st *connState) healthy(args []string) string {
	switch args[0] {
	case "HELLO":
		return "-ERR unknown command 'HELLO', with args beginning with: \r\n"
	case "AUTH", "SELECT", "QUIT", "UNWATCH", "MULTI":
		return "+OK\r\n"
	case "CLIENT":
		if len(args) > 1 && strings.EqualFold(args[1], "ID") {
			return ":7\r\n"
		}
		if len(args) > 1 && strings.EqualFold(args[1], "LIST") {
			return Bulk("id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name=oxyctl age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|list user=default redir=-1 resp=2 lib-name= lib-ver=\n")
		}
		return "+OK\r\n"
	case "PING":
		return "+PONG\r\n"
	case "INFO":
		return Bulk("# Server\r\nredis_version:7.2.4\r\nvalkey_version:8.0.1\r\nserver_name:valkey\r\nrun_id:0000000000000000000000000000000000000000\r\nuptime_in_seconds:100\r\n" +
			"# Clients\r\nconnected_clients:1\r\nmaxclients:10000\r\n# Memory\r\nused_memory:1000000\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n" +
			"# Stats\r\nevicted_keys:0\r\nrejected_connections:0\r\nclient_output_buffer_limit_disconnections:0\r\n# Replication\r\nrole:master\r\n# Cluster\r\ncluster_enabled:0\r\n# Keyspace\r\n")
	case "DBSIZE", "EXISTS", "UNLINK", "DEL":
		return ":0\r\n"
	case "SCAN":
		return "*2\r\n$1\r\n0\r\n*0\r\n"
	case "GET":
		return "$-1\r\n"
	case "MGET":
		return Array(repeat("$-1\r\n", len(args)-1)...)
	case "PTTL", "TTL":
		return ":-2\r\n"
	case "TYPE":
		return "+none\r\n"
	case "MEMORY":
		return ":0\r\n"
	case "PUBSUB":
		if len(args) > 1 && (strings.EqualFold(args[1], "NUMSUB") || strings.EqualFold(args[1], "SHARDNUMSUB")) {
			items := []string{}
			for _, ch := range args[2:] {
				items = append(items, Bulk(ch), ":0\r\n")
			}
			return Array(items...)
		}
		if len(args) > 1 && strings.EqualFold(args[1], "NUMPAT") {
			return ":0\r\n"
		}
		return "*0\r\n"
	case "SCRIPT":
		return Array(repeat(":0\r\n", len(args)-2)...)
	case "PSUBSCRIBE", "SUBSCRIBE", "SSUBSCRIBE":
		kind := strings.ToLower(args[0])
		out := ""
		for _, p := range args[1:] {
			st.subs++
			out += Array(Bulk(kind), Bulk(p), fmt.Sprintf(":%d\r\n", st.subs))
		}
		return out
	}
	return fmt.Sprintf("-ERR unknown command '%s', with args beginning with: \r\n", strings.ToLower(args[0]))
}

// Bulk is s as a bulk string reply.
func Bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

// Array is an array reply of raw items.
func Array(items ...string) string {
	return fmt.Sprintf("*%d\r\n", len(items)) + strings.Join(items, "")
}

func repeat(s string, n int) []string {
	out := make([]string, max(n, 0))
	for i := range out {
		out[i] = s
	}
	return out
}

// Malformed are the replies that break the protocol, by name: each must
// make any command that reads it fail as a protocol error, promptly, within
// bounded memory.
var Malformed = map[string]string{
	"negative bulk":     "$-5\r\n",
	"negative array":    "*-7\r\n",
	"overflowing bulk":  "$99999999999999999999\r\n",
	"huge array":        "*99999999999\r\n",
	"huge bulk":         "$4294967296\r\n",
	"huge map":          "%99999999999\r\n",
	"unknown type":      "?x\r\n",
	"no CR":             "+OK\n",
	"bad integer":       ":12x\r\n",
	"deep nesting":      strings.Repeat("*1\r\n", 1000) + ":1\r\n",
	"bulk without CRLF": "$3\r\nabcdef",
	"endless bulk":      Flood, // declares 1 GiB and keeps sending
}
