package valkeytest

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/resp"
)

// SubscriberOptions describe a raw subscriber connection.
type SubscriberOptions struct {
	// LocalAddr is the loopback source address (e.g. 127.0.0.9), as if the
	// subscriber ran on its own host; "" lets the system choose.
	LocalAddr string
	Name      string   // CLIENT SETNAME, when not empty
	Channels  []string // SUBSCRIBEd first
	Patterns  []string // then PSUBSCRIBEd, on the same connection
	// ReadBuffer, when set, is the socket's receive buffer (SO_RCVBUF):
	// small, so that a subscriber that stops reading fills its output
	// buffer on the server soon.
	ReadBuffer int
}

// Subscriber connects to the (plaintext) server, names itself, subscribes
// and reads the confirmations, then never reads again, like a tool left
// running or a consumer stuck in a slow loop. It is closed when the test
// ends; the returned conn lets a test close it earlier.
func (s *Server) Subscriber(t testing.TB, o SubscriberOptions) net.Conn {
	t.Helper()
	if s.tls != nil {
		t.Fatalf("valkeytest: Subscriber speaks plaintext only")
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	if o.LocalAddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(o.LocalAddr)}
	}
	c, err := d.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatalf("valkeytest: subscriber: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if o.ReadBuffer > 0 {
		_ = c.(*net.TCPConn).SetReadBuffer(o.ReadBuffer)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	send := func(args ...string) {
		if _, err := c.Write(resp.AppendCommand(nil, args...)); err != nil {
			t.Fatalf("valkeytest: subscriber: %v", err)
		}
	}
	expectOK := func(what string) {
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
			t.Fatalf("valkeytest: subscriber %s: %q %v", what, line, err)
		}
	}
	if s.Password != "" {
		send("AUTH", s.Password)
		expectOK("AUTH")
	}
	if o.Name != "" {
		send("CLIENT", "SETNAME", o.Name)
		expectOK("CLIENT SETNAME")
	}
	for _, sub := range []struct {
		cmd  string
		list []string
	}{{"SUBSCRIBE", o.Channels}, {"PSUBSCRIBE", o.Patterns}} {
		if len(sub.list) == 0 {
			continue
		}
		send(append([]string{sub.cmd}, sub.list...)...)
		// One confirmation each, 6 lines: *3, $n, subscribe, $n, channel, :n
		for range sub.list {
			for i := 0; i < 6; i++ {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("valkeytest: subscriber %s: %v", sub.cmd, err)
				}
				if strings.HasPrefix(line, "-") {
					t.Fatalf("valkeytest: subscriber %s: %s", sub.cmd, line)
				}
			}
		}
	}
	_ = c.SetDeadline(time.Time{})
	return c
}
