package probe

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/standin/healthstub"
)

func TestAPIProbe(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		reply  healthstub.Reply
		status Status
		detail string
		http   int
	}{
		{"healthy", healthstub.Healthy(), OK, "operational, database connected, redis connected (HTTP 200)", 200},
		{"redis not configured", healthstub.RedisIs(healthstub.NotConfigured), Warn, "redis: not configured", 200},
		{"redis disconnected", healthstub.RedisIs(healthstub.Disconnected), Fail, `redis is "disconnected"`, 200},
		{"other status", healthstub.Reply{Status: "maintenance"}, Fail, `status is "maintenance", not operational`, 200},
		{"database down", healthstub.Reply{Database: "disconnected"}, Fail, `database is "disconnected"`, 200},
		{"503", healthstub.Unavailable(), Fail, "HTTP 503 Service Unavailable", 503},
		{"500 not json", healthstub.Reply{Code: 500, Body: "<html>oops</html>"}, Fail, "HTTP 500 Internal Server Error", 500},
		{"bad json", healthstub.BadJSON(), Fail, "not the health JSON", 200},
		{"other json", healthstub.Reply{Body: `{"ok":true}`}, Fail, "not the health JSON", 200},
		{"redis missing", healthstub.Reply{Body: `{"status":"operational","database":"connected"}`}, Fail, "redis is missing", 200},
		{"delayed", healthstub.Reply{Delay: 150 * time.Millisecond}, OK, "operational", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := healthstub.Start(t, c.reply)
			p := &APIProbe{BaseURL: srv.URL + "/", UserAgent: "oxyctl/test"}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			out := p.Run(ctx)
			if out.Status != c.status || !strings.Contains(out.Detail, c.detail) {
				t.Fatalf("got %s %q, want %s containing %q", out.Status, out.Detail, c.status, c.detail)
			}
			d := out.Data.(*APIData)
			if d.HTTPStatus != c.http || d.URL != srv.URL+"/health" {
				t.Fatalf("data %+v", d)
			}
			if c.name == "503" && (d.Database != "disconnected" || d.Status != "degraded") {
				t.Fatalf("503 body fields not kept: %+v", d)
			}
			if c.name == "delayed" && d.LatencyMS < 140 {
				t.Fatalf("latency %dms for a 150ms delay", d.LatencyMS)
			}
			if got := srv.Paths(); len(got) != 1 || got[0] != "/health" {
				t.Fatalf("paths %v", got)
			}
		})
	}
}

func TestAPIProbeHangAndRefused(t *testing.T) {
	t.Parallel()
	srv := healthstub.Start(t, healthstub.Reply{Hang: true})
	r := &Runner{Timeout: 300 * time.Millisecond}
	start := time.Now()
	rep, err := r.Run(context.Background(), []Check{{Name: "api", Probe: &APIProbe{BaseURL: srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("hang took %s with a 300ms deadline", took)
	}
	if c := rep.Checks[0]; c.Status != Fail || !strings.Contains(c.Detail, "timed out") {
		t.Fatalf("hang: %+v", c)
	}

	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := (&APIProbe{BaseURL: "http://" + addr}).Run(context.Background())
	if out.Status != Fail || !strings.Contains(out.Detail, "connection refused") {
		t.Fatalf("refused: %s %q", out.Status, out.Detail)
	}
	out = (&APIProbe{BaseURL: "ftp://x"}).Run(context.Background())
	if out.Status != Fail || !strings.Contains(out.Detail, "invalid API URL") {
		t.Fatalf("bad url: %s %q", out.Status, out.Detail)
	}
}
