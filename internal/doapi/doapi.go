// Package doapi is oxyctl's narrow layer over godo: find the database
// cluster, read and replace its firewall, and list what firewall rules can
// point at (Droplets, apps, Kubernetes clusters, tags).
//
// Every method returns apperr types: a missing or refused token is a
// RuntimeError of kind auth, an unreachable API kind connect (or dns, tls), a
// deadline kind timeout, anything else the API says kind api. 429 and 5xx are
// retried with backoff first. The token is never part of an error or a log
// line.
package doapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/digitalocean/godo"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

// DefaultBaseURL is the public API.
const DefaultBaseURL = "https://api.digitalocean.com"

// Defaults for Options.
const (
	DefaultRetryMax     = 4
	DefaultRetryWaitMin = time.Second
	DefaultRetryWaitMax = 30 * time.Second
	DefaultPerPage      = 200
)

// Options configure a Client.
type Options struct {
	// BaseURL is the API root (default DefaultBaseURL). Only scheme, host and
	// port count: godo's paths are absolute.
	BaseURL string
	// Token is the API token, from the environment or the config file.
	Token string
	// UserAgent is sent in front of godo's own, e.g. "oxyctl/1.2.3".
	UserAgent string
	// Timeout bounds each method call, retries included (0: only ctx's deadline).
	Timeout time.Duration
	// RetryMax is the number of retries after the first attempt. 0 means
	// DefaultRetryMax; a negative value turns retries off.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the backoff (defaults 1s and 30s).
	// A server-requested wait longer than RetryWaitMax is not waited for.
	RetryWaitMin, RetryWaitMax time.Duration
	// PerPage is the page size for lists (default 200, the API's maximum).
	PerPage int
	// Logf, when set, receives one line per HTTP exchange (verbose mode).
	Logf func(format string, args ...any)
	// Transport is the base HTTP transport (default http.DefaultTransport).
	Transport http.RoundTripper
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxResponse caps the bytes read of one answer (default
	// DefaultMaxResponse); a longer answer is an API fault.
	MaxResponse int64
}

// DefaultMaxResponse bounds one answer of the API: the largest page oxyctl
// asks for (200 apps with their specs) is a few MiB.
const DefaultMaxResponse = 32 << 20

// Client talks to the DigitalOcean API.
type Client struct {
	godo    *godo.Client
	token   string
	base    string
	timeout time.Duration
	perPage int
}

// New builds a Client. It does no I/O.
func New(o Options) (*Client, error) {
	if strings.TrimSpace(o.Token) == "" {
		return nil, &apperr.ConfigError{
			Err:  errors.New("no DigitalOcean token is set"),
			Hint: "set DIGITALOCEAN_ACCESS_TOKEN (or DIGITALOCEAN_TOKEN), or add digitalocean.token to the context",
		}
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, apperr.Configf("invalid DigitalOcean API URL %q: want https://host[:port]", o.BaseURL)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, apperr.Configf("refusing to send the DigitalOcean token over plain http to %s: use https", u.Host)
	}
	switch {
	case o.RetryMax == 0:
		o.RetryMax = DefaultRetryMax
	case o.RetryMax < 0:
		o.RetryMax = 0
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = DefaultRetryWaitMin
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = DefaultRetryWaitMax
	}
	if o.RetryWaitMax < o.RetryWaitMin {
		o.RetryWaitMax = o.RetryWaitMin
	}
	if o.PerPage <= 0 || o.PerPage > 200 {
		o.PerPage = DefaultPerPage
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxResponse <= 0 {
		o.MaxResponse = DefaultMaxResponse
	}
	hc := &http.Client{
		Transport: &transport{
			base: o.Transport, token: o.Token, host: u.Host, retries: o.RetryMax,
			minWait: o.RetryWaitMin, maxWait: o.RetryWaitMax, now: o.Now, logf: o.Logf,
			maxBody: o.MaxResponse,
		},
		CheckRedirect: checkRedirect(u),
	}
	opts := []godo.ClientOpt{godo.SetBaseURL(u.Scheme + "://" + u.Host)}
	if o.UserAgent != "" {
		opts = append(opts, godo.SetUserAgent(o.UserAgent))
	}
	gc, err := godo.New(hc, opts...)
	if err != nil {
		return nil, apperr.Configf("DigitalOcean client: %s", redactToken(err.Error(), o.Token))
	}
	return &Client{godo: gc, token: o.Token, base: u.Host, timeout: o.Timeout, perPage: o.PerPage}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// call prepares the context of one method call: its deadline and the record
// the transport fills in.
func (c *Client) call(ctx context.Context) (context.Context, context.CancelFunc, *callInfo) {
	cancel := context.CancelFunc(func() {})
	if c.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	ctx, ci := withCall(ctx)
	return ctx, cancel, ci
}

// ErrNotFound is wrapped by errors for a 404 (errors.Is(err, ErrNotFound)).
var ErrNotFound = errors.New("not found")

// Scopes the token needs, for hints.
const scopeHint = "oxyctl needs a token with database:read (database:update for firewall apply), droplet:read, app:read, kubernetes:read and tag:read"

// wrap turns an error from a call into an apperr type. what says what failed,
// e.g. "list Droplets".
func (c *Client) wrap(ctx context.Context, what string, ci *callInfo, err error) error {
	if err == nil {
		return nil
	}
	attempts, gaveUp := ci.get()
	tries := ""
	if attempts > 1 {
		tries = fmt.Sprintf(" (after %d attempts)", attempts)
	}
	red := func(s string) string { return redactToken(s, c.token) }

	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		status := er.Response.StatusCode
		msg := strings.TrimSpace(er.Message)
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		msg = strings.Join(strings.Fields(msg), " ")
		reqID := ""
		if er.RequestID != "" {
			reqID = fmt.Sprintf(" [request %s]", er.RequestID)
		}
		text := red(fmt.Sprintf("%s: DigitalOcean API answered %d %s%s%s", what, status, msg, tries, reqID))
		switch {
		case status == http.StatusUnauthorized:
			return &apperr.RuntimeError{Kind: apperr.KindAuth, Err: errors.New(text),
				Hint: "the DigitalOcean token was refused: check DIGITALOCEAN_ACCESS_TOKEN or the context's digitalocean.token (it may be expired or revoked)"}
		case status == http.StatusForbidden:
			return &apperr.RuntimeError{Kind: apperr.KindAuth, Err: errors.New(text), Hint: "the token lacks a scope: " + scopeHint}
		case status == http.StatusNotFound:
			return &apperr.RuntimeError{Kind: apperr.KindAPI, Err: fmt.Errorf("%s: %w", text, ErrNotFound)}
		case status == http.StatusTooManyRequests:
			hint := "the API allows 250 requests a minute and 5,000 an hour per token; try again later"
			if reset := er.Response.Header.Get("ratelimit-reset"); reset != "" {
				var sec int64
				if _, e := fmt.Sscan(reset, &sec); e == nil && sec > 0 {
					hint = fmt.Sprintf("the API allows 250 requests a minute and 5,000 an hour per token; the oldest counted request expires at %s", time.Unix(sec, 0).UTC().Format(time.RFC3339))
				}
			}
			if gaveUp != "" {
				text += "; " + gaveUp
			}
			return &apperr.RuntimeError{Kind: apperr.KindAPI, Err: errors.New(red(text)), Hint: hint}
		case status >= 500:
			if gaveUp != "" {
				text += "; " + gaveUp
			}
			return &apperr.RuntimeError{Kind: apperr.KindAPI, Err: errors.New(red(text)),
				Hint: "DigitalOcean had a server error; check https://status.digitalocean.com and try again"}
		}
		return &apperr.RuntimeError{Kind: apperr.KindAPI, Err: errors.New(text)}
	}

	var re *apperr.RuntimeError
	var ce *apperr.ConfigError
	if errors.As(err, &re) || errors.As(err, &ce) {
		return err
	}
	var rd *redirectError
	if errors.As(err, &rd) {
		return &apperr.RuntimeError{Kind: apperr.KindAPI,
			Err:  errors.New(red(fmt.Sprintf("%s: %s", what, rd.Error()))),
			Hint: "check --do-api-url (env DIGITALOCEAN_API_URL): it should be the API's own address, " + DefaultBaseURL}
	}
	if errors.Is(err, errTooLarge) {
		return &apperr.RuntimeError{Kind: apperr.KindAPI,
			Err: errors.New(red(fmt.Sprintf("%s: the DigitalOcean API sent a response oxyctl cannot read: %s", what, rootCause(err))))}
	}
	if errors.Is(err, context.Canceled) && ctx.Err() == context.Canceled {
		return err // interrupted: app.Main reports it
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return &apperr.RuntimeError{Kind: apperr.KindTimeout,
			Err:  errors.New(red(fmt.Sprintf("%s: the DigitalOcean API did not answer in time%s", what, tries))),
			Hint: "raise --timeout, or check the network path to " + c.base}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &apperr.RuntimeError{Kind: apperr.KindDNS,
			Err: errors.New(red(fmt.Sprintf("%s: cannot resolve %s: %s", what, dnsErr.Name, dnsErr.Err)))}
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) ||
		strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "HTTP response to HTTPS client") {
		return &apperr.RuntimeError{Kind: apperr.KindTLS,
			Err: errors.New(red(fmt.Sprintf("%s: TLS with %s failed: %s", what, c.base, rootCause(err))))}
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) {
		return &apperr.RuntimeError{Kind: apperr.KindConnect,
			Err:  errors.New(red(fmt.Sprintf("%s: cannot connect to %s: %s%s", what, c.base, rootCause(err), tries))),
			Hint: "check --do-api-url (env DIGITALOCEAN_API_URL) and the network"}
	}
	var synErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &synErr) || errors.As(err, &typeErr) || errors.Is(err, errUnexpected) ||
		errors.Is(err, io.ErrUnexpectedEOF) {
		return &apperr.RuntimeError{Kind: apperr.KindAPI,
			Err: errors.New(red(fmt.Sprintf("%s: the DigitalOcean API sent a response oxyctl cannot read: %s", what, rootCause(err))))}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return &apperr.RuntimeError{Kind: apperr.KindConnect,
			Err: errors.New(red(fmt.Sprintf("%s: cannot reach %s: %s%s", what, c.base, rootCause(err), tries)))}
	}
	return &apperr.RuntimeError{Kind: apperr.KindAPI, Err: errors.New(red(fmt.Sprintf("%s: %s", what, rootCause(err))))}
}

var errUnexpected = errors.New("unexpected response")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// rootCause drops the "GET https://...: " prefixes of url.Error and keeps
// the innermost text that still says something.
func rootCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError // "connect: connection refused"
		if errors.As(oe.Err, &se) {
			return se.Err.Error()
		}
		return oe.Err.Error()
	}
	return err.Error()
}

func redactToken(s, token string) string {
	if len(token) >= 3 {
		s = strings.ReplaceAll(s, token, "***")
	}
	return s
}
