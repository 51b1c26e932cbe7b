package valkeyclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

const secret = "Sup3r-Secret-pw"

// blackhole is a loopback listener that accepts connections and never answers.
func blackhole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		close(done)
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func refusedAddr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", valkeytest.FreePort(t))
}

// noDNS is a resolver that never sends a query anywhere.
var noDNS = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
	return nil, &net.DNSError{Err: "no such host", Name: "valkey.invalid", IsNotFound: true}
}}

func TestConnectMatrix(t *testing.T) {
	pwPlain := valkeytest.Start(t, valkeytest.Options{Password: secret})
	tlsSrv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: secret})
	otherCA := valkeytest.NewTLSFiles(t, "127.0.0.1")
	mismatch := valkeytest.Start(t, valkeytest.Options{TLSFiles: valkeytest.NewTLSFiles(t, "db.example.com")})
	expired := valkeytest.Start(t, valkeytest.Options{TLSFiles: valkeytest.NewTLSFilesSpec(t, valkeytest.CertSpec{
		Hosts: []string{"127.0.0.1"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})})
	hole := blackhole(t)

	cases := []struct {
		name    string
		opts    Options
		code    int
		kind    string
		contain string
	}{
		{"ok plaintext with password", Options{URL: pwPlain.URL}, 0, "", ""},
		{"ok tls with CA", Options{URL: tlsSrv.URL, CAFile: tlsSrv.CAFile}, 0, "", ""},
		{"wrong password", Options{URL: "redis://default:wrong-" + secret + "@" + pwPlain.Addr}, 3, apperr.KindAuth, "wrong user name or password"},
		{"no password", Options{URL: "redis://" + pwPlain.Addr}, 3, apperr.KindAuth, "has no password"},
		{"wrong CA", Options{URL: tlsSrv.URL, CAFile: otherCA.CAFile}, 3, apperr.KindTLS, "unknown authority"},
		{"no CA", Options{URL: tlsSrv.URL}, 3, apperr.KindTLS, "unknown authority"},
		{"name mismatch", Options{URL: "rediss://" + mismatch.Addr, CAFile: mismatch.CAFile}, 3, apperr.KindTLS, "not valid for"},
		{"expired certificate", Options{URL: "rediss://" + expired.Addr, CAFile: expired.CAFile}, 3, apperr.KindTLS, "expired"},
		{"TLS to plaintext port", Options{URL: "rediss://default:" + secret + "@" + pwPlain.Addr, CAFile: tlsSrv.CAFile}, 3, apperr.KindTLS, "did not answer with TLS"},
		{"plaintext to TLS port", Options{URL: "redis://default:" + secret + "@" + tlsSrv.Addr}, 3, apperr.KindTLS, "expect TLS"},
		{"refused port", Options{URL: "redis://default:" + secret + "@" + refusedAddr(t)}, 3, apperr.KindConnect, "connection refused"},
		{"black-holed address", Options{URL: "redis://default:" + secret + "@" + hole, Timeout: time.Second}, 3, apperr.KindTimeout, "timed out"},
		{"DNS failure", Options{URL: "rediss://default:" + secret + "@valkey.invalid:25061", Resolver: noDNS}, 3, apperr.KindDNS, "cannot resolve"},
		{"malformed: no host", Options{URL: "rediss://:" + secret + "@"}, 2, "config", "no host"},
		{"malformed: http scheme", Options{URL: "http://host"}, 2, "config", "scheme"},
		{"malformed: port range", Options{URL: "redis://host:99999"}, 2, "config", "65535"},
		{"malformed: bad escape", Options{URL: "redis://u:" + secret + "%zz@host:1"}, 2, "config", "invalid"},
		{"plaintext password to remote host", Options{URL: "redis://default:" + secret + "@db.example.com:6379"}, 2, "config", "plaintext"},
		{"plaintext allowed by flag", Options{URL: "redis://default:" + secret + "@" + pwPlain.Addr, AllowPlaintext: true}, 0, "", ""},
		{"unreadable CA file", Options{URL: tlsSrv.URL, CAFile: filepath.Join(t.TempDir(), "missing.crt")}, 2, "config", "cannot read CA file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			timeout := tc.opts.Timeout
			if timeout == 0 {
				timeout = 2 * time.Second
				tc.opts.Timeout = timeout
			}
			start := time.Now()
			conn, err := Connect(context.Background(), tc.opts)
			elapsed := time.Since(start)
			if elapsed > timeout+500*time.Millisecond {
				t.Errorf("took %v, timeout %v", elapsed, timeout)
			}
			code, kind := apperr.Classify(err)
			if conn != nil {
				defer conn.Close()
			}
			if code != tc.code || kind != tc.kind {
				t.Fatalf("got code %d kind %q (%v), want %d %q", code, kind, err, tc.code, tc.kind)
			}
			if err == nil {
				if err := conn.Client.Do(context.Background(), conn.Client.B().Ping().Build()).Error(); err != nil {
					t.Fatalf("PING: %v", err)
				}
				return
			}
			msg := err.Error() + " " + apperr.HintOf(err)
			if !strings.Contains(err.Error(), tc.contain) {
				t.Errorf("error %q does not contain %q", err, tc.contain)
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "\n") {
				t.Errorf("error leaks the password or is not one line: %q", msg)
			}
		})
	}
}

func TestClusterDetectedAndEverySlotReachable(t *testing.T) {
	c := valkeytest.StartCluster(t, valkeytest.Options{Password: secret})
	ctx := context.Background()
	conn, err := Connect(ctx, Options{URL: c.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !conn.Cluster {
		t.Fatal("cluster not detected")
	}
	prim, err := conn.Primaries(ctx)
	if err != nil || len(prim) != 3 {
		t.Fatalf("primaries = %d, %v", len(prim), err)
	}
	// Keys in every slot range: hash tags {0}..{N} spread over all 16384 slots.
	cl := conn.Client
	for i := 0; i < 2000; i++ {
		k := fmt.Sprintf("slot-test:{%d}", i)
		if err := cl.Do(ctx, cl.B().Set().Key(k).Value(k).Build()).Error(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	var total int64
	for _, p := range prim {
		n, err := p.Client.Do(ctx, p.Client.B().Dbsize().Build()).AsInt64()
		if err != nil || n == 0 {
			t.Fatalf("DBSIZE on a primary = %d, %v", n, err)
		}
		total += n
		// A connection of one's own reaches the same node, authenticated.
		if raw := rawInt(t, p, "DBSIZE"); raw != n {
			t.Fatalf("DBSIZE on %s over Open = %d, over the client %d", p.Addr, raw, n)
		}
	}
	if total != 2000 {
		t.Fatalf("total keys over primaries = %d, want 2000", total)
	}
	for i := 0; i < 2000; i += 97 {
		k := fmt.Sprintf("slot-test:{%d}", i)
		if v, err := cl.Do(ctx, cl.B().Get().Key(k).Build()).ToString(); err != nil || v != k {
			t.Fatalf("GET %s = %q, %v", k, v, err)
		}
	}
	standalone := valkeytest.Start(t, valkeytest.Options{})
	sc, err := Connect(ctx, Options{URL: standalone.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if sc.Cluster {
		t.Fatal("standalone server detected as a cluster")
	}
	if !errors.Is(nil, nil) {
		t.Fatal("unreachable")
	}
}
