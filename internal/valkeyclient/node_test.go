package valkeyclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/resp"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// rawDo opens n, sends one command and returns its reply as read by fn.
func rawDo[T any](t *testing.T, n Node, fn func(*resp.Reader) (T, error), args ...string) T {
	t.Helper()
	rc, err := n.Open(context.Background())
	if err != nil {
		t.Fatalf("Open %s: %v", n.Addr, err)
	}
	defer rc.Close()
	if err := rc.Write(resp.AppendCommand(nil, args...)); err != nil {
		t.Fatalf("write %v: %v", args, err)
	}
	rc.Expect()
	v, err := fn(rc.R)
	if err != nil {
		t.Fatalf("%v on %s: %v", args, n.Addr, err)
	}
	return v
}

func rawInt(t *testing.T, n Node, args ...string) int64 {
	return rawDo(t, n, (*resp.Reader).ReadInt, args...)
}

func rawString(t *testing.T, n Node, args ...string) string {
	return rawDo(t, n, func(r *resp.Reader) (string, error) {
		b, _, err := r.ReadBulk()
		return string(b), err
	}, args...)
}

// Open speaks TLS with the same verification, authenticates, selects the
// URL's database, names the connection and turns on NO-TOUCH.
func TestNodeOpenTLSPasswordDatabase(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: secret})
	ctx := context.Background()
	conn, err := Connect(ctx, Options{URL: srv.URL + "/3", CAFile: srv.CAFile, ClientName: "oxyctl-test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Client.Do(ctx, conn.Client.B().Set().Key("in-db-3").Value("x").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	prim, err := conn.Primaries(ctx)
	if err != nil || len(prim) != 1 {
		t.Fatalf("Primaries = %v, %v", prim, err)
	}
	if got := rawInt(t, prim[0], "EXISTS", "in-db-3"); got != 1 {
		t.Fatalf("EXISTS in-db-3 over Open = %d: not database 3", got)
	}
	info := rawString(t, prim[0], "CLIENT", "INFO")
	if !strings.Contains(info, "name=oxyctl-test ") || !strings.Contains(info, " db=3 ") {
		t.Errorf("CLIENT INFO = %q, want name=oxyctl-test and db=3", info)
	}
	// NO-TOUCH came with 7.2; an older server (the redis-server 7.0
	// fallback) refuses it, and Open goes on without it.
	if flags := field(info, "flags"); !strings.Contains(flags, "T") && !before72(srv.Version) {
		t.Errorf("CLIENT INFO flags = %q, want T (no-touch) on %s", flags, srv)
	}

	// The same settings with another CA fail verification, as valkey-go does.
	other := *conn
	other.TLS = conn.TLS.Clone()
	other.TLS.RootCAs = nil
	_, err = other.node(srv.Addr, conn.Client).Open(ctx)
	if _, kind := apperr.Classify(err); kind != apperr.KindTLS {
		t.Errorf("Open without the CA: %v (kind %q), want a TLS error", err, kind)
	}

	// A wrong password is an authentication error that does not show it.
	wrong := *conn
	wrong.Target.Password = "Wr0ng-" + secret
	_, err = wrong.node(srv.Addr, conn.Client).Open(ctx)
	if _, kind := apperr.Classify(err); kind != apperr.KindAuth || strings.Contains(err.Error(), secret) {
		t.Errorf("Open with a wrong password: %v (kind %q), want an auth error without the password", err, kind)
	}
}

// before72 reports whether a server version ("7.0.15", "8.0.1") is older than 7.2.
func before72(version string) bool {
	var major, minor int
	fmt.Sscanf(version, "%d.%d", &major, &minor)
	return major < 7 || major == 7 && minor < 2
}

func field(info, name string) string {
	for _, f := range strings.Fields(info) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	return ""
}

// Open gives up within the timeout on a server that never answers, and at
// once when the context is cancelled.
func TestNodeOpenTimeoutAndCancel(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{Password: secret})
	ctx := context.Background()
	conn, err := Connect(ctx, Options{URL: srv.URL, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hole := blackhole(t)
	start := time.Now()
	_, err = conn.node(hole, conn.Client).Open(ctx)
	if _, kind := apperr.Classify(err); kind != apperr.KindTimeout || time.Since(start) > 3*time.Second {
		t.Errorf("Open of a silent server: %v (kind %q) after %s, want a timeout within the 300ms setting", err, kind, time.Since(start))
	}
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, cancel)
	conn.opts.Timeout = time.Minute
	start = time.Now()
	_, err = conn.node(hole, conn.Client).Open(cctx)
	if !errors.Is(err, apperr.ErrInterrupted) || time.Since(start) > 3*time.Second {
		t.Errorf("Open cancelled: %v after %s, want interrupted at once", err, time.Since(start))
	}
}
