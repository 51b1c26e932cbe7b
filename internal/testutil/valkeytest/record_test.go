package valkeytest

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// The recorder sees what the server never runs: a refused command.
func TestRecorder(t *testing.T) {
	for _, opts := range []Options{{Refused: true}, {Refused: true, TLS: true, Password: "rec-pw"}} {
		srv := Start(t, opts)
		rec := srv.Record(t)
		via := &Server{Addr: rec.Addr, Password: srv.Password, tls: srv.tls}
		cl, err := via.SingleClient()
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := cl.Do(ctx, cl.B().ConfigGet().Parameter("maxclients").Build()).Error(); err == nil || !strings.Contains(err.Error(), "unknown command") {
			t.Fatalf("CONFIG GET on a refused server: %v", err)
		}
		if err := cl.Do(ctx, cl.B().Set().Key("k").Value(strings.Repeat("v", 100000)).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if v, err := cl.Do(ctx, cl.B().Get().Key("k").Build()).ToString(); err != nil || len(v) != 100000 {
			t.Fatalf("GET through the recorder: %d bytes, %v", len(v), err)
		}
		cl.Close()
		got := rec.Commands()
		for _, want := range []string{"hello", "config|get", "set", "get"} {
			if !slices.Contains(got, want) {
				t.Fatalf("tls %v: recorded %q, want %s among them", opts.TLS, got, want)
			}
		}
	}
}
