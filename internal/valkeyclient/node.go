package valkeyclient

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/resp"
)

// Node is one server of the deployment: a valkey-go client for ordinary
// commands, and Open (or Dial) for a connection of the caller's own, for
// the pipelines of a full scan or the stream of MONITOR (see package resp
// for why).
type Node struct {
	Addr   string
	Client valkey.Client
	conn   *Conn
}

// Open dials the node with the client's settings (see Dial) and turns a
// failure into a one-line error of the right kind (Classify).
func (n Node) Open(ctx context.Context) (*resp.Conn, error) {
	rc, err := n.Dial(ctx, "")
	if err != nil {
		return nil, Classify(err, n.Target())
	}
	return rc, nil
}

// Dial dials the node with the client's settings: TLS with the same
// verification, the same user, password, database and client name (name,
// when not empty, names the connection instead). Its reads do not touch the
// keys' LRU/LFU clocks (CLIENT NO-TOUCH, on servers that know it), so a
// full scan does not change what eviction picks. TCP keep-alive notices a
// peer that vanished under a long-lived stream. Dial and handshake are
// bounded by the client's timeout and ctx. Errors are returned as the
// network, TLS or server gave them (a server's refusal is a *resp.Error),
// for a caller that tells a passing fault from a lasting one; Classify
// turns them into one-line errors.
func (n Node) Dial(ctx context.Context, name string) (*resp.Conn, error) {
	c := n.conn
	if c == nil {
		return nil, apperr.Runtime(apperr.KindInternal, errors.New("valkeyclient: Node has no dialer"), "")
	}
	if name == "" {
		name = c.opts.ClientName
	}
	timeout := c.opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := checkPlaintext(c.Target, n.Addr, c.opts.AllowPlaintext); err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: timeout, Resolver: c.opts.Resolver,
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}}
	nc, err := d.DialContext(ctx, "tcp", n.Addr)
	if err != nil {
		return nil, err
	}
	if c.TLS != nil {
		tc := tls.Client(nc, c.TLS.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	rc := resp.NewConn(nc, timeout)
	stop := rc.Watch(ctx)
	defer stop()
	if err := handshake(rc, c.Target, name); err != nil {
		rc.Close()
		if cerr := ctx.Err(); cerr != nil {
			err = cerr // the conn only says that its deadline passed
		}
		return nil, err
	}
	// Later reads get their own deadlines; the handshake's must not linger.
	_ = nc.SetDeadline(time.Time{})
	return rc, nil
}

// Target is the Conn's target with the node's host and port, for
// messages (Classify).
func (n Node) Target() Target {
	var t Target
	if n.conn != nil {
		t = n.conn.Target
	}
	if host, port, err := net.SplitHostPort(n.Addr); err == nil {
		t.Host = host
		t.Port, _ = strconv.Atoi(port)
	}
	return t
}

// node describes the server at addr with c's settings.
func (c *Conn) node(addr string, client valkey.Client) Node {
	return Node{Addr: addr, Client: client, conn: c}
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

// Nodes returns every server the client knows, sorted by address: the
// server itself when standalone, every node (primaries and replicas) of a
// cluster. Classic pub/sub is per node, so its counts need them all.
func (c *Conn) Nodes() []Node {
	if !c.Cluster {
		return []Node{c.node(c.Addr, c.Client)}
	}
	var out []Node
	for addr, n := range c.Client.Nodes() {
		out = append(out, c.node(addr, n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// Primaries returns every primary, sorted by address: every master of a
// cluster (asked with ROLE, each within the timeout), or the server itself
// when standalone.
func (c *Conn) Primaries(ctx context.Context) ([]Node, error) {
	if !c.Cluster {
		return []Node{c.node(c.Addr, c.Client)}, nil
	}
	timeout := c.opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var out []Node
	for _, n := range c.Nodes() {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		role, err := n.Client.Do(rctx, n.Client.B().Role().Build()).ToArray()
		cancel()
		if err != nil {
			return nil, Classify(err, c.Target)
		}
		if len(role) > 0 {
			if r, _ := role[0].ToString(); r == "master" {
				out = append(out, n)
			}
		}
	}
	if len(out) == 0 {
		return nil, apperr.Runtime(apperr.KindConnect, errors.New("the cluster reports no primary"), "check CLUSTER NODES on the server")
	}
	return out, nil
}
