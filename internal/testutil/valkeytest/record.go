package valkeytest

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/oxyhq/oxyctl/internal/resp"
)

// Recorder is a loopback proxy in front of one server that records the
// name of every command its clients send, before the server sees it: the
// only way to see a command the server does not know (one renamed away
// leaves no trace in INFO commandstats). It speaks TLS on both sides when
// the server does, with the server's certificate, so a client that trusts
// the server's CA trusts it too.
type Recorder struct {
	Addr string // "127.0.0.1:port"
	URL  string // the server's URL with the recorder's address

	l    net.Listener
	srv  *Server
	mu   sync.Mutex
	cmds []string
	wg   sync.WaitGroup
}

// containers are the commands recorded with their subcommand
// ("client|setname"), as INFO commandstats names them.
var containers = map[string]bool{
	"client": true, "pubsub": true, "memory": true, "object": true, "slowlog": true, "latency": true,
	"config": true, "cluster": true, "command": true, "script": true, "function": true, "acl": true, "xinfo": true,
}

// Record starts a Recorder in front of s, closed in t.Cleanup.
func (s *Server) Record(t testing.TB) *Recorder {
	t.Helper()
	var l net.Listener
	var err error
	if s.tls != nil {
		cert, cerr := tls.LoadX509KeyPair(s.tls.CertFile, s.tls.KeyFile)
		if cerr != nil {
			t.Fatalf("valkeytest: recorder: %v", cerr)
		}
		l, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatalf("valkeytest: recorder: %v", err)
	}
	r := &Recorder{Addr: l.Addr().String(), URL: strings.Replace(s.URL, s.Addr, l.Addr().String(), 1), l: l, srv: s}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() {
		l.Close()
		r.wg.Wait()
	})
	return r
}

// Commands returns the command names received so far, in order, lower
// case; a container command with its subcommand ("client|setname").
func (r *Recorder) Commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.cmds...)
}

func (r *Recorder) accept() {
	defer r.wg.Done()
	var conns []net.Conn
	var mu sync.Mutex
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := r.l.Accept()
		if err != nil {
			return
		}
		d := dialer()
		var up net.Conn
		if cfg := r.srv.TLSConfig(); cfg != nil {
			up, err = tls.DialWithDialer(&d, "tcp", r.srv.Addr, cfg)
		} else {
			up, err = d.Dial("tcp", r.srv.Addr)
		}
		if err != nil {
			c.Close()
			continue
		}
		mu.Lock()
		conns = append(conns, c, up)
		mu.Unlock()
		r.wg.Add(2)
		go func() { // server to client, as is
			defer r.wg.Done()
			_, _ = io.Copy(c, up)
			c.Close()
		}()
		go func() { // client to server, read as commands on the way
			defer r.wg.Done()
			defer up.Close()
			tee := io.TeeReader(c, up)
			rd := resp.NewReader(tee)
			for r.command(rd) {
			}
			_, _ = io.Copy(io.Discard, tee) // not RESP arrays: forward the rest unread
		}()
	}
}

// command reads one command and records its name; false at the end of the
// stream or on input it cannot read as an array of bulk strings.
func (r *Recorder) command(rd *resp.Reader) bool {
	n, err := rd.ReadArrayLen()
	if err != nil || n < 1 {
		if err != nil && err != io.EOF && !strings.Contains(err.Error(), "closed") {
			r.record("(unreadable: " + err.Error() + ")")
		}
		return false
	}
	var args []string
	for i := 0; i < n; i++ {
		b, _, err := rd.ReadBulk()
		if err != nil {
			return false
		}
		if i < 2 {
			args = append(args, strings.ToLower(string(b)))
		}
	}
	name := args[0]
	if containers[name] && len(args) > 1 {
		name += "|" + args[1]
	}
	r.record(name)
	return true
}

func (r *Recorder) record(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, name)
}
