// Package valkeyclient is oxyctl's one way to Valkey. It builds a valkey-go
// client from oxyctl's settings (a redis:// or rediss:// URL, a CA bundle, a
// timeout): it verifies TLS, refuses to send a password in plaintext to a
// host that is not loopback, and detects a Valkey Cluster. It knows the
// deployment's topology (Conn.Nodes, Conn.Primaries), dials and
// authenticates the connections of oxyctl's own that speak package resp
// (Node.Open, Node.Dial), and turns every failure into a one-line apperr
// error that says what to do (Classify; IsAuthReply tells a refused login
// or permission).
package valkeyclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/redact"
	"github.com/oxyhq/oxyctl/internal/userfile"
)

// Options are the connection settings.
type Options struct {
	URL            string
	CAFile         string
	Insecure       bool // skip TLS verification (the caller warns loudly)
	AllowPlaintext bool // allow a password over redis:// to a non-loopback host
	Timeout        time.Duration
	ClientName     string
	// Resolver resolves host names; nil uses the system resolver. Tests inject
	// one so that no DNS query leaves the machine.
	Resolver *net.Resolver
}

// Conn is a connected client.
type Conn struct {
	Client  valkey.Client
	Cluster bool
	Addr    string
	Target  Target
	TLS     *tls.Config
	opts    Options
}

// Close closes the client.
// Close closes the client, waiting at most closeTimeout: closing must never
// keep oxyctl from ending (valkey-go waits for its connections' goroutines).
func (c *Conn) Close() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Client.Close()
	}()
	select {
	case <-done:
	case <-time.After(closeTimeout):
	}
}

const closeTimeout = 2 * time.Second

// Redacted is the URL with its password masked.
func (c *Conn) Redacted() string { return redact.URL(c.opts.URL) }

// maxCAFile bounds a CA bundle: the system's whole bundle is about 200 KiB.
const maxCAFile = 4 << 20

// DefaultTimeout bounds a step when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// ClientOption builds the valkey-go option for the settings, without dialing.
func ClientOption(o Options) (valkey.ClientOption, Target, error) {
	t, err := ParseURL(o.URL)
	if err != nil {
		return valkey.ClientOption{}, t, err
	}
	if err := checkPlaintext(t, t.Addr(), o.AllowPlaintext); err != nil {
		return valkey.ClientOption{}, t, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	opt := valkey.ClientOption{
		InitAddress:      []string{t.Addr()},
		Username:         t.Username,
		Password:         t.Password,
		SelectDB:         t.DB,
		DisableCache:     true,
		ClientName:       o.ClientName,
		ConnWriteTimeout: timeout,
		Dialer:           net.Dialer{Timeout: timeout, Resolver: o.Resolver},
		// A CLI wants an answer or an error, not silent retries.
		DisableRetry: true,
		DialCtxFn:    dialGuarded(t, o.AllowPlaintext),
		// Pipelining mode waits for a reply in a select that ctx's end
		// interrupts; the synchronous mode reads until the deadline, so
		// Ctrl-C went unheard for up to --timeout.
		AlwaysPipelining: true,
		// One connection per server: a command-line run gains nothing from
		// valkey-go's default of four, which it dials lazily, and a wire
		// still being dialed when the client closes outlived the run.
		PipelineMultiplex: -1,
	}
	if t.Username == "" && t.Password != "" {
		opt.Username = ""
	}
	if t.TLS {
		cfg, err := TLSConfig(o, t.Host)
		if err != nil {
			return valkey.ClientOption{}, t, err
		}
		opt.TLSConfig = cfg
	}
	return opt, t, nil
}

// TLSConfig is TLS 1.2 or later, verifying the host name against the system
// roots or the CA file.
func TLSConfig(o Options, host string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if o.Insecure {
		cfg.InsecureSkipVerify = true
	}
	if o.CAFile != "" {
		pem, err := userfile.Read(o.CAFile, maxCAFile)
		if err != nil {
			return nil, &apperr.ConfigError{Err: fmt.Errorf("cannot read CA file %s: %v", o.CAFile, err), Hint: "check --redis-ca / OXYCTL_REDIS_CA"}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &apperr.ConfigError{Err: fmt.Errorf("CA file %s holds no PEM certificate", o.CAFile), Hint: "download the CA certificate from the database's page in the DigitalOcean control panel"}
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Connect dials, authenticates and detects a cluster, all within ctx and
// Options.Timeout, ending a little before ctx's deadline when that comes
// first.
func Connect(ctx context.Context, o Options) (*Conn, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		// End a little before ctx's deadline, so that the explanation of a
		// timeout (such as "the port speaks plaintext") still arrives.
		rem := time.Until(dl)
		margin := min(rem/5, time.Second)
		if t := rem - margin; t > 0 && t < timeout {
			timeout = t
		}
	}
	o.Timeout = timeout
	opt, t, err := ClientOption(o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// Ask a single connection first whether the server is a cluster node,
	// rather than trust valkey-go's probe (CLUSTER SLOTS), which some
	// Redis-compatible servers answer without being clusters.
	single := opt
	single.ForceSingleClient = true
	client, err := newClient(ctx, single)
	if err != nil {
		return nil, explainTimeout(Classify(err, t), t, o.Resolver)
	}
	info, err := client.Do(ctx, client.B().Info().Section("cluster").Build()).ToString()
	if verr, ok := valkey.IsValkeyErr(err); ok && !IsAuthReply(verr.Error()) {
		// A server that does not know INFO cluster (an embedded
		// Redis-compatible one) is no cluster.
		info, err = "", nil
	}
	if err != nil {
		client.Close()
		return nil, Classify(err, t)
	}
	conn := &Conn{Client: client, Addr: t.Addr(), Target: t, TLS: opt.TLSConfig, opts: o}
	if !strings.Contains(info, "cluster_enabled:1") {
		return conn, nil
	}
	client.Close()
	if conn.Client, err = newClient(ctx, opt); err != nil {
		return nil, Classify(err, t)
	}
	conn.Cluster = true
	return conn, nil
}

// newClient runs valkey.NewClient (which dials and authenticates without a
// context) within ctx, closing a late client.
func newClient(ctx context.Context, opt valkey.ClientOption) (valkey.Client, error) {
	type result struct {
		c   valkey.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := valkey.NewClient(opt)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// explainTimeout tells a TLS client that waited in vain apart from a server
// that speaks plaintext on that port: such a server sits silently on a TLS
// ClientHello, so the handshake only times out. A short plaintext PING
// settles it (at most probeTimeout more).
func explainTimeout(err error, t Target, r *net.Resolver) error {
	if code, kind := apperr.Classify(err); code != apperr.ExitRuntime || kind != apperr.KindTimeout || !t.TLS {
		return err
	}
	d := net.Dialer{Timeout: probeTimeout, Resolver: r}
	c, derr := d.Dial("tcp", t.Addr())
	if derr != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(probeTimeout))
	if _, werr := c.Write([]byte("PING\r\n")); werr != nil {
		return err
	}
	buf := make([]byte, 1)
	if n, _ := c.Read(buf); n == 1 && (buf[0] == '+' || buf[0] == '-') {
		return &apperr.RuntimeError{Kind: apperr.KindTLS,
			Err:  fmt.Errorf("TLS: %s did not answer with TLS (it speaks plaintext: is it a plaintext port?)", t.Addr()),
			Hint: "use redis:// for a plaintext server, or the server's TLS port"}
	}
	return err
}

const probeTimeout = 300 * time.Millisecond
