package valkeyclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/resp"
)

// checkPlaintext refuses to send t's password in plaintext to addr unless
// addr is loopback or the user allowed it. It runs for every address oxyctl
// dials, not only the URL's: a cluster announces its nodes' addresses, and
// a tunnel to 127.0.0.1 must not lead to AUTH in plaintext to 10.x.
func checkPlaintext(t Target, addr string, allow bool) error {
	if t.Password == "" || t.TLS || allow {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if (Target{Host: host}).Loopback() {
		return nil
	}
	return &apperr.ConfigError{
		Err:  fmt.Errorf("refusing to send a password in plaintext to %s (redis:// URL)", addr),
		Hint: "use rediss:// for TLS (DigitalOcean Managed Valkey listens with TLS on 25061), or pass --allow-plaintext if you really mean it",
	}
}

// dialGuarded is valkey-go's dialer: the plaintext check for each address,
// TLS when configured, and a resp.Guard on every byte read, so that a
// malformed length in any reply is a protocol error before valkey-go
// allocates what it declares.
func dialGuarded(t Target, allow bool) func(context.Context, string, *net.Dialer, *tls.Config) (net.Conn, error) {
	return func(ctx context.Context, addr string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
		if err := checkPlaintext(t, addr, allow); err != nil {
			return nil, err
		}
		var c net.Conn
		var err error
		if cfg != nil {
			c, err = (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", addr)
		} else {
			c, err = d.DialContext(ctx, "tcp", addr)
		}
		if err != nil {
			return nil, err
		}
		return resp.NewGuardConn(c, resp.Limits{}), nil
	}
}
