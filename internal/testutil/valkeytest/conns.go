package valkeytest

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// RefusedAtCap is what a server answers a connection beyond maxclients
// before it closes it.
const RefusedAtCap = "max number of clients reached"

// Hold opens n raw connections to the server (TLS when it has TLS; no AUTH)
// and sends PING on each, one after another, so that each one is counted
// before the next: it returns the connections and the first line each was
// answered, "+PONG" (or "-NOAUTH ..." with a password) when accepted, an
// error containing RefusedAtCap when the server was at maxclients. Every
// connection is closed in t.Cleanup; closing one earlier frees its slot.
func (s *Server) Hold(t testing.TB, n int) ([]net.Conn, []string) {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	replies := make([]string, 0, n)
	for i := 0; i < n; i++ {
		var c net.Conn
		var err error
		d := &net.Dialer{Timeout: 5 * time.Second}
		if cfg := s.TLSConfig(); cfg != nil {
			c, err = tls.DialWithDialer(d, "tcp", s.Addr, cfg)
		} else {
			c, err = d.Dial("tcp", s.Addr)
		}
		if err != nil {
			t.Fatalf("valkeytest: connection %d to %s: %v", i, s.Addr, err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			t.Fatalf("valkeytest: connection %d to %s: %v", i, s.Addr, err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("valkeytest: connection %d to %s: no answer to PING: %v", i, s.Addr, err)
		}
		_ = c.SetDeadline(time.Time{})
		conns = append(conns, c)
		replies = append(replies, strings.TrimSpace(line))
	}
	return conns, replies
}
