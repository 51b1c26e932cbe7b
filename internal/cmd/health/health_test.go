package health

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/probe"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func TestNewCmdHealth(t *testing.T) {
	cases := []struct {
		argv     string
		checks   string
		strict   bool
		watch    bool
		interval time.Duration
		usage    bool
	}{
		{argv: "", checks: "api,valkey,pubsub,ratelimit,do", interval: DefaultInterval},
		{argv: "--check do,api --check pubsub", checks: "api,pubsub,do", interval: DefaultInterval},
		{argv: "--check do,ratelimit", checks: "ratelimit,do", interval: DefaultInterval},
		{argv: "--strict --check valkey", checks: "valkey", strict: true, interval: DefaultInterval},
		{argv: "--watch --interval 2s", checks: "api,valkey,pubsub,ratelimit,do", watch: true, interval: 2 * time.Second},
		{argv: "-w", checks: "api,valkey,pubsub,ratelimit,do", watch: true, interval: DefaultInterval},
		{argv: "--check redis", usage: true},
		{argv: "--check ,", usage: true},
		{argv: "--interval 2s", usage: true},
		{argv: "--watch --interval 0s", usage: true},
		{argv: "extra", usage: true},
		{argv: "--bogus", usage: true},
	}
	for _, c := range cases {
		t.Run(c.argv, func(t *testing.T) {
			var got *healthOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdHealth(f, func(_ context.Context, o *healthOptions) error { got = o; return nil })
			}, strings.Fields(c.argv))
			if c.usage {
				if !clitest.IsUsage(err) {
					t.Fatalf("err %v (%T), want UsageError", err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.Checks, ",") != c.checks || got.Strict != c.strict || got.Watch != c.watch || got.Interval != c.interval {
				t.Fatalf("opts %+v", got)
			}
		})
	}
}

func fixed(st probe.Status, detail string, data any) probe.Probe {
	return probe.Func(func(context.Context) probe.Outcome { return probe.Outcome{Status: st, Detail: detail, Data: data} })
}

func testOpts(ios *iostreams.IOStreams, format output.Format, checks map[string]probe.Probe) *healthOptions {
	return &healthOptions{
		IO: ios, Format: format, Interval: time.Second,
		Settings: func() (*config.Settings, error) {
			return &config.Settings{Timeout: 2 * time.Second, Sources: map[string]string{}}, nil
		},
		Now:    func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
		Checks: probe.Names,
		Build: func(_ *config.Settings, names []string) []probe.Check {
			var out []probe.Check
			for _, n := range names {
				out = append(out, probe.Check{Name: n, Probe: checks[n]})
			}
			return out
		},
	}
}

func mixed() map[string]probe.Probe {
	return map[string]probe.Probe{
		"api":    fixed(probe.OK, "operational, database connected, redis connected (HTTP 200)", nil),
		"valkey": fixed(probe.Warn, "maxmemory-policy allkeys-lru can evict rate-limit counters", map[string]any{"server": "valkey"}),
		"pubsub": fixed(probe.Fail, "no API instance is subscribed", nil),
	}
}

func TestHealthRunText(t *testing.T) {
	ios, _, stdout, stderr := iostreams.Test()
	err := healthRun(context.Background(), testOpts(ios, output.Text, mixed()))
	if code, _ := apperr.Classify(err); code != apperr.ExitFindings {
		t.Fatalf("err %v, want exit 1", err)
	}
	want := "" +
		"CHECK      STATUS  LATENCY  DETAIL\n" +
		"api        ✓ ok    0ms      operational, database connected, redis connected (HTTP 200)\n" +
		"valkey     ! warn  0ms      maxmemory-policy allkeys-lru can evict rate-limit counters\n" +
		"pubsub     ✗ FAIL  0ms      no API instance is subscribed\n" +
		"ratelimit  – skip  -        not configured\n" +
		"do         – skip  -        not configured\n" +
		"overall: ✗ FAIL (1 ok, 1 warn, 1 fail, 2 skip)\n"
	if stdout.String() != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	if stderr.Len() != 0 {
		t.Fatalf("stderr %q", stderr)
	}
}

func TestHealthRunTTYColor(t *testing.T) {
	ios, _, stdout, _ := iostreams.Test()
	ios.SetStdoutTTY(true)
	ios.SetColorEnabled(true)
	ios.SetTerminalWidth(120)
	_ = healthRun(context.Background(), testOpts(ios, output.Text, mixed()))
	out := stdout.String()
	if !strings.Contains(out, "\x1b[") {
		t.Fatalf("no color on a color terminal:\n%s", out)
	}
	plain := clitest.StripANSI(out)
	for _, w := range []string{"✓ ok", "! warn", "✗ FAIL", "– skip", "not configured"} {
		if !strings.Contains(plain, w) {
			t.Errorf("TTY output lacks %q:\n%s", w, plain)
		}
	}
	// The table's rows all have the same width (columns line up).
	var widths []int
	for _, l := range strings.Split(plain, "\n") {
		if strings.HasPrefix(l, "│") || strings.HasPrefix(l, "╭") || strings.HasPrefix(l, "╰") || strings.HasPrefix(l, "├") {
			widths = append(widths, len([]rune(l)))
		}
	}
	if len(widths) < 6 {
		t.Fatalf("table rows %v:\n%s", widths, plain)
	}
	for _, w := range widths {
		if w != widths[0] {
			t.Fatalf("rows of different widths %v:\n%s", widths, plain)
		}
	}
}

func TestHealthRunJSONAndStrict(t *testing.T) {
	ios, _, stdout, _ := iostreams.Test()
	checks := map[string]probe.Probe{
		"api":    fixed(probe.OK, "fine", nil),
		"valkey": fixed(probe.Warn, "careful", map[string]any{"maxmemory_policy": "allkeys-lru"}),
	}
	opts := testOpts(ios, output.JSON, checks)
	if err := healthRun(context.Background(), opts); err != nil {
		t.Fatalf("warn without --strict: %v", err)
	}
	var doc struct {
		Status string `json:"status"`
		Checks []struct {
			Name      string          `json:"name"`
			Status    string          `json:"status"`
			LatencyMS *int64          `json:"latency_ms"`
			Detail    string          `json:"detail"`
			Data      json.RawMessage `json:"data"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if doc.Status != "warn" || len(doc.Checks) != 5 {
		t.Fatalf("doc %+v", doc)
	}
	wantNames := []string{"api", "valkey", "pubsub", "ratelimit", "do"}
	wantStatus := []string{"ok", "warn", "skip", "skip", "skip"}
	for i, c := range doc.Checks {
		if c.Name != wantNames[i] || c.Status != wantStatus[i] || c.LatencyMS == nil || len(c.Data) == 0 || c.Data[0] != '{' {
			t.Fatalf("check %d: %+v data %s", i, c, c.Data)
		}
	}
	if string(doc.Checks[2].Data) != "{}" || doc.Checks[2].Detail != "not configured" {
		t.Fatalf("skip: %+v %s", doc.Checks[2], doc.Checks[2].Data)
	}
	if !strings.Contains(string(doc.Checks[1].Data), `"maxmemory_policy": "allkeys-lru"`) {
		t.Fatalf("data %s", doc.Checks[1].Data)
	}
	opts.Strict = true
	stdout.Reset()
	if code, _ := apperr.Classify(healthRun(context.Background(), opts)); code != apperr.ExitFindings {
		t.Fatalf("warn with --strict: exit %d, want 1", code)
	}
}

func TestHealthRunPanic(t *testing.T) {
	ios, _, stdout, _ := iostreams.Test()
	checks := map[string]probe.Probe{"do": probe.Func(func(context.Context) probe.Outcome { panic("boom") })}
	err := healthRun(context.Background(), testOpts(ios, output.Text, checks))
	code, kind := apperr.Classify(err)
	if code != apperr.ExitRuntime || kind != apperr.KindInternal {
		t.Fatalf("panic: exit %d kind %s (%v)", code, kind, err)
	}
	if !strings.Contains(stdout.String(), "internal error (a bug): boom") {
		t.Fatalf("stdout %s", stdout)
	}
}

func TestHealthWatch(t *testing.T) {
	for _, format := range []output.Format{output.JSON, output.Text} {
		t.Run(string(format), func(t *testing.T) {
			ios, _, stdout, stderr := iostreams.Test()
			opts := testOpts(ios, format, map[string]probe.Probe{"api": fixed(probe.OK, "fine", nil), "valkey": fixed(probe.Fail, "down", nil)})
			opts.Watch, opts.Interval = true, 30*time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			// Ctrl-C cancels the context; a deadline stands in for it here.
			ctx, stop := context.WithCancel(ctx)
			go func() { <-ctx.Done(); stop() }()
			err := watchUntilDone(ctx, opts)
			if err != nil {
				t.Fatalf("watch ended with %v, want nil (exit 0)", err)
			}
			out := stdout.String()
			if format == output.JSON {
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) < 3 {
					t.Fatalf("%d rounds in 200ms at 30ms:\n%s", len(lines), out)
				}
				for i, l := range lines {
					var r struct {
						Kind, Status, Time string
						Round              int
						Checks             []probe.Result
					}
					if err := json.Unmarshal([]byte(l), &r); err != nil {
						t.Fatalf("line %d %q: %v", i, l, err)
					}
					if r.Kind != "round" || r.Round != i+1 || r.Status != "fail" || len(r.Checks) != 5 || r.Time != "2026-03-01T12:00:00Z" {
						t.Fatalf("line %d: %+v", i, r)
					}
				}
			} else {
				if n := strings.Count(out, "overall: ✗ FAIL"); n < 3 {
					t.Fatalf("%d text rounds:\n%s", n, out)
				}
				if strings.Contains(out, "\x1b[") {
					t.Fatal("escape codes off a terminal")
				}
				if !strings.Contains(out, "oxyctl health — round 2 at 2026-03-01T12:00:00Z") {
					t.Fatalf("no round header:\n%s", out)
				}
			}
			if !strings.HasPrefix(stderr.String(), "health: ") || !strings.Contains(stderr.String(), "fail (last: fail)") {
				t.Fatalf("summary %q", stderr)
			}
		})
	}
}

// watchUntilDone runs healthRun in watch mode and checks that it ends soon
// after the context.
func watchUntilDone(ctx context.Context, opts *healthOptions) error {
	done := make(chan error, 1)
	go func() { done <- healthRun(ctx, opts) }()
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Second):
		return errors.New("watch did not stop after Ctrl-C")
	}
}
