package valkeyclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/redact"
	"github.com/oxyhq/oxyctl/internal/resp"
)

// Classify turns a dial, handshake or command error into an apperr error of
// the right kind, one line, with a hint that says what to do. It never
// includes the password.
func Classify(err error, t Target) error {
	if err == nil {
		return nil
	}
	var re *apperr.RuntimeError
	var ce *apperr.ConfigError
	if errors.As(err, &re) || errors.As(err, &ce) {
		return err
	}
	addr := t.Addr()
	mk := func(kind, msg, hint string) error {
		return &apperr.RuntimeError{Kind: kind, Err: errors.New(redact.String(msg)), Hint: hint}
	}
	text := err.Error()

	reply := text
	if r, ok := serverReply(err); ok {
		reply = r
	}
	switch authCode(reply) {
	case "WRONGPASS":
		return mk(apperr.KindAuth, fmt.Sprintf("authentication failed at %s: wrong user name or password", addr),
			"check the password in the Valkey URL (DigitalOcean: the database's Connection details, user default)")
	case "NOAUTH":
		return mk(apperr.KindAuth, fmt.Sprintf("authentication required by %s: the URL has no password", addr),
			"put the password in the URL: rediss://default:PASSWORD@host:port")
	case "NOPERM":
		return mk(apperr.KindAuth, fmt.Sprintf("permission denied at %s: %s", addr, firstLine(text)),
			"the user's ACL does not allow this command")
	}

	var unk x509.UnknownAuthorityError
	var host x509.HostnameError
	var inv x509.CertificateInvalidError
	var rec tls.RecordHeaderError
	var dns *net.DNSError
	var verr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unk):
		return mk(apperr.KindTLS, fmt.Sprintf("TLS: the certificate of %s is signed by an unknown authority", addr),
			"pass the server's CA with --redis-ca (DigitalOcean: download it from the database page)")
	case errors.As(err, &host):
		return mk(apperr.KindTLS, fmt.Sprintf("TLS: the certificate of %s is not valid for %q", addr, t.Host),
			"connect with the host name the certificate was issued for (DigitalOcean: the private-... host name)")
	case errors.As(err, &inv):
		if inv.Reason == x509.Expired {
			return mk(apperr.KindTLS, fmt.Sprintf("TLS: the certificate of %s has expired or is not yet valid", addr),
				"the server's certificate must be renewed (or the local clock is wrong)")
		}
		return mk(apperr.KindTLS, fmt.Sprintf("TLS: the certificate of %s is invalid: %v", addr, inv), "check the server's certificate")
	case errors.As(err, &verr):
		return mk(apperr.KindTLS, fmt.Sprintf("TLS: cannot verify %s: %v", addr, verr.Err), "check --redis-ca and the host name")
	case errors.As(err, &rec):
		return mk(apperr.KindTLS, fmt.Sprintf("TLS: %s did not answer with TLS (is it a plaintext port?)", addr),
			"use redis:// for a plaintext server, or the server's TLS port")
	case errors.As(err, &dns):
		return mk(apperr.KindDNS, fmt.Sprintf("cannot resolve host %q: %s", t.Host, dnsReason(dns)),
			"check the host name in the Valkey URL; private-... names resolve only inside the VPC")
	case errors.Is(err, syscall.ECONNREFUSED):
		return mk(apperr.KindConnect, fmt.Sprintf("connection refused by %s", addr),
			"is the server running and is the port right? (DigitalOcean Managed Valkey: 25061)")
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return mk(apperr.KindConnect, fmt.Sprintf("no route to %s", addr), "check the network path (VPN, VPC, trusted sources)")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return mk(apperr.KindTimeout, fmt.Sprintf("timed out talking to %s", addr),
			"the host may be unreachable or firewalled (DigitalOcean trusted sources), or raise --timeout")
	case errors.Is(err, resp.ErrProtocol):
		return mk(apperr.KindAPI, fmt.Sprintf("%s sent a reply that breaks the protocol (%s)", addr, strings.TrimPrefix(firstLine(text), resp.ErrProtocol.Error()+": ")),
			"is this a Valkey or Redis server? A proxy or another service on that port answers like this")
	case errors.Is(err, context.Canceled):
		return apperr.ErrInterrupted
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		if !t.TLS {
			return mk(apperr.KindTLS, fmt.Sprintf("%s closed the connection (does it expect TLS?)", addr),
				"use rediss:// if the server speaks TLS (DigitalOcean Managed Valkey does)")
		}
		return mk(apperr.KindConnect, fmt.Sprintf("%s closed the connection", addr), "check the port and the server's logs")
	case strings.Contains(text, "tls:"):
		return mk(apperr.KindTLS, fmt.Sprintf("TLS with %s failed: %s", addr, firstLine(text)), "check --redis-ca and the URL scheme")
	}
	return mk(apperr.KindConnect, fmt.Sprintf("valkey %s: %s", addr, firstLine(text)), "")
}

// authCodes are the error codes of a server that refuses a login
// (WRONGPASS, NOAUTH) or a command the user's ACL does not allow (NOPERM).
var authCodes = []string{"WRONGPASS", "NOAUTH", "NOPERM"}

// authCode is the auth code a server's error reply starts with, or "".
func authCode(reply string) string {
	for _, c := range authCodes {
		if strings.HasPrefix(reply, c) {
			return c
		}
	}
	return ""
}

// IsAuthReply reports whether a server's error reply (its text, as in
// "NOPERM this user has no permissions ...") refuses a login or a
// permission: such a fault is not fixed by trying again.
func IsAuthReply(reply string) bool { return authCode(reply) != "" }

// IsRefused reports whether err is a server refusing the command itself,
// rather than failing it: "ERR unknown command ..." (the command is renamed
// away, as DigitalOcean does with SCRIPT, CONFIG, CLUSTER and more) or
// "NOPERM ..." (an ACL, as Memorystore answers). Such a read cannot be
// made on that server; the one reading that needs it says so, and the rest
// go on. A network error, a timeout or any other reply is not a refusal.
func IsRefused(err error) bool {
	reply, ok := serverReply(err)
	if !ok {
		return false
	}
	if authCode(reply) == "NOPERM" {
		return true
	}
	return strings.HasPrefix(strings.ToLower(reply), "unknown command")
}

// IsUnsupported reports whether err is a server that does not know a
// subcommand ("ERR unknown subcommand 'LIST'": a Redis-compatible server
// without CLIENT LIST). Like a refusal, that read cannot be made there; it
// is kept apart from IsRefused because it says nothing about what a
// provider allows (a SCRIPT subcommand unknown is not scripting refused).
func IsUnsupported(err error) bool {
	reply, ok := serverReply(err)
	return ok && strings.HasPrefix(strings.ToLower(reply), "unknown subcommand")
}

// serverReply is the text of a server's error reply without its "ERR "
// (valkey-go drops it; package resp keeps it), and whether err is one.
func serverReply(err error) (string, bool) {
	var vErr *valkey.ValkeyError
	var rErr *resp.Error
	switch {
	case err == nil:
		return "", false
	case errors.As(err, &vErr):
		return strings.TrimPrefix(vErr.Error(), "ERR "), true
	case errors.As(err, &rErr):
		return strings.TrimPrefix(rErr.Msg, "ERR "), true
	}
	return "", false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func dnsReason(d *net.DNSError) string {
	if d.IsNotFound {
		return "no such host"
	}
	if d.IsTimeout {
		return "DNS timed out"
	}
	return d.Err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
