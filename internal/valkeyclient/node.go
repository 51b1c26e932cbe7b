package valkeyclient

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/resp"
)

// Node is one primary: a valkey-go client for ordinary commands, and Open
// for a connection of the caller's own, for the pipelines of a full scan
// (see package resp for why).
type Node struct {
	Addr   string
	Client valkey.Client
	open   func(ctx context.Context) (*resp.Conn, error)
}

// Open dials the node with the client's settings: TLS with the same
// verification, the same user, password, database and client name. Its
// reads do not touch the keys' LRU/LFU clocks (CLIENT NO-TOUCH, on servers
// that know it), so a full scan does not change what eviction picks.
func (n Node) Open(ctx context.Context) (*resp.Conn, error) {
	if n.open == nil {
		return nil, apperr.Runtime(apperr.KindInternal, errors.New("valkeyclient: Node has no dialer"), "")
	}
	return n.open(ctx)
}

// node describes the server at addr with c's settings.
func (c *Conn) node(addr string, client valkey.Client) Node {
	return Node{Addr: addr, Client: client, open: func(ctx context.Context) (*resp.Conn, error) {
		return c.openRaw(ctx, addr)
	}}
}

func (c *Conn) openRaw(ctx context.Context, addr string) (*resp.Conn, error) {
	t := c.Target
	if host, port, err := net.SplitHostPort(addr); err == nil {
		t.Host = host
		t.Port, _ = strconv.Atoi(port)
	}
	timeout := c.opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{Timeout: timeout, Resolver: c.opts.Resolver}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, Classify(err, t)
	}
	if c.TLS != nil {
		tc := tls.Client(nc, c.TLS.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, Classify(err, t)
		}
		nc = tc
	}
	rc := resp.NewConn(nc, timeout)
	stop := rc.Watch(ctx)
	defer stop()
	if err := handshake(rc, c.Target, c.opts.ClientName); err != nil {
		rc.Close()
		if cerr := ctx.Err(); cerr != nil {
			err = cerr // the conn only says that its deadline passed
		}
		return nil, Classify(err, t)
	}
	// Later reads get their own deadlines; the handshake's must not linger.
	_ = nc.SetDeadline(time.Time{})
	return rc, nil
}

// handshake authenticates, selects the database and names the connection,
// in one round trip. Only AUTH and SELECT must succeed: an ACL may refuse
// CLIENT, and servers before 7.2 do not know NO-TOUCH.
func handshake(rc *resp.Conn, t Target, name string) error {
	var b []byte
	var must []bool
	if t.Password != "" {
		if t.Username != "" {
			b = resp.AppendCommand(b, "AUTH", t.Username, t.Password)
		} else {
			b = resp.AppendCommand(b, "AUTH", t.Password)
		}
		must = append(must, true)
	}
	if t.DB != 0 {
		b = resp.AppendCommand(b, "SELECT", strconv.Itoa(t.DB))
		must = append(must, true)
	}
	if name != "" {
		b = resp.AppendCommand(b, "CLIENT", "SETNAME", name)
		must = append(must, false)
	}
	b = resp.AppendCommand(b, "CLIENT", "NO-TOUCH", "ON")
	must = append(must, false)
	if err := rc.Write(b); err != nil {
		return err
	}
	var first error
	for _, m := range must {
		rc.Expect()
		err := rc.R.Skip()
		var re *resp.Error
		if err != nil && !errors.As(err, &re) {
			return err
		}
		if err != nil && m && first == nil {
			first = err
		}
	}
	return first
}
