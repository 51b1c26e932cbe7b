package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"time"
)

// TLSInfo is what the TLS handshake with a server showed.
type TLSInfo struct {
	Version string `json:"version"` // "TLS 1.3"
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	// NotAfter is when the server's certificate expires (RFC 3339 UTC).
	NotAfter string `json:"not_after"`
	DaysLeft int    `json:"days_left"` // negative once expired
	Verified bool   `json:"verified"`
	// VerifyError is why verification failed ("" when it passed or was off).
	VerifyError string `json:"verify_error,omitempty"`

	notAfter  time.Time
	notBefore time.Time
}

// inspectTLS does a TLS handshake with addr that accepts any certificate,
// then verifies the certificate itself, at now, so that an expired or
// otherwise bad certificate can still be described (a verifying client
// would only see the handshake fail). Nothing but the handshake is sent.
// insecure skips the verification, as --redis-insecure does.
func inspectTLS(ctx context.Context, addr string, base *tls.Config, insecure bool, now time.Time) (*TLSInfo, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	serverName := ""
	var roots *x509.CertPool
	if base != nil {
		cfg.MinVersion = base.MinVersion
		serverName = base.ServerName
		roots = base.RootCAs
	}
	if serverName == "" {
		if h, _, err := net.SplitHostPort(addr); err == nil {
			serverName = h
		}
	}
	if net.ParseIP(serverName) == nil {
		cfg.ServerName = serverName // SNI only for names
	}
	cfg.InsecureSkipVerify = true // verified below, by hand, to describe failures
	conn := tls.Client(raw, cfg)
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	st := conn.ConnectionState()
	_ = conn.Close()
	if len(st.PeerCertificates) == 0 {
		return nil, errors.New("the server sent no certificate")
	}
	leaf := st.PeerCertificates[0]
	info := &TLSInfo{
		Version:   tls.VersionName(st.Version),
		Subject:   leaf.Subject.String(),
		Issuer:    leaf.Issuer.String(),
		NotAfter:  leaf.NotAfter.UTC().Format(time.RFC3339),
		DaysLeft:  daysUntil(leaf.NotAfter, now),
		notAfter:  leaf.NotAfter,
		notBefore: leaf.NotBefore,
	}
	if insecure {
		return info, nil
	}
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, verr := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, DNSName: serverName, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if verr != nil {
		info.VerifyError = describeVerify(verr, serverName)
	} else {
		info.Verified = true
	}
	return info, nil
}

// daysUntil is whole days from now to t, rounded down (negative when past).
func daysUntil(t, now time.Time) int {
	return int(math.Floor(t.Sub(now).Hours() / 24))
}

func describeVerify(err error, host string) string {
	var unk x509.UnknownAuthorityError
	var hn x509.HostnameError
	var inv x509.CertificateInvalidError
	switch {
	case errors.As(err, &unk):
		return "signed by an unknown authority (pass the CA with --redis-ca)"
	case errors.As(err, &hn):
		return fmt.Sprintf("not valid for %q", host)
	case errors.As(err, &inv):
		if inv.Reason == x509.Expired {
			return "expired or not yet valid"
		}
		return inv.Error()
	}
	return err.Error()
}

// judgeTLS adds the certificate's findings for the server at addr.
func judgeTLS(f *findings, addr string, info *TLSInfo, now time.Time, warnDays int) {
	if info == nil {
		return
	}
	switch {
	case now.After(info.notAfter):
		f.fail("TLS certificate of %s expired on %s (%s ago)", addr, info.notAfter.UTC().Format("2006-01-02"), ago(now.Sub(info.notAfter)))
	case now.Before(info.notBefore):
		f.fail("TLS certificate of %s is not valid before %s (check the local clock)", addr, info.notBefore.UTC().Format(time.RFC3339))
	case info.VerifyError != "":
		f.fail("TLS certificate of %s cannot be verified: %s", addr, info.VerifyError)
	case info.DaysLeft < warnDays:
		f.warn("TLS certificate of %s expires in %s (%s)", addr, plural(int64(info.DaysLeft), "day"), info.notAfter.UTC().Format("2006-01-02"))
	}
}

// ago renders a positive duration as days, hours or minutes.
func ago(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes()))
}
