package limits

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func TestNewCmdList(t *testing.T) {
	tests := []struct {
		args    []string
		want    listOptions
		wantErr bool
	}{
		{args: nil, want: listOptions{Top: 20, Sort: "hits"}},
		{args: []string{"--top", "5", "--blocked", "--min-hits", "3", "--sort", "ttl", "--limiter", "auth", "--pace", "1000"},
			want: listOptions{Top: 5, Blocked: true, MinHits: 3, Sort: "ttl", Scan: scanFlags{Pace: 1000}}},
		{args: []string{"--top", "0", "--sort", "CLIENT"}, want: listOptions{Top: 0, Sort: "client"}},
		{args: []string{"--top", "-1"}, wantErr: true},
		{args: []string{"--min-hits", "-1"}, wantErr: true},
		{args: []string{"--pace", "-5"}, wantErr: true},
		{args: []string{"--sort", "size"}, wantErr: true},
		{args: []string{"--top", "many"}, wantErr: true},
		{args: []string{"extra"}, wantErr: true},
		{args: []string{"--watch", "--sort", "rate", "--interval", "500ms"}, want: listOptions{Top: 20, Sort: "rate", Watch: true, Interval: 500 * time.Millisecond}},
		{args: []string{"-w"}, want: listOptions{Top: 20, Sort: "hits", Watch: true, Interval: 2 * time.Second}},
		{args: []string{"--sort", "rate"}, wantErr: true},
		{args: []string{"--interval", "1s"}, wantErr: true},
		{args: []string{"--rounds", "2"}, wantErr: true},
		{args: []string{"--watch", "--rounds", "-1"}, wantErr: true},
		{args: []string{"--watch", "--rounds", "3"}, want: listOptions{Top: 20, Sort: "hits", Watch: true, Interval: 2 * time.Second, Rounds: 3}},
		{args: []string{"--watch", "--interval", "0s"}, wantErr: true},
		{args: []string{"--watch", "--interval", "-1s"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *listOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdList(f, func(_ context.Context, o *listOptions) error { got = o; return nil })
			}, tt.args)
			if tt.wantErr {
				if !clitest.IsUsage(err) {
					t.Fatalf("err = %v, want a UsageError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.Watch && (!got.Watch || got.Interval != tt.want.Interval || got.Rounds != tt.want.Rounds) {
				t.Errorf("watch %v interval %s, want %+v", got.Watch, got.Interval, tt.want)
			}
			if got.Top != tt.want.Top || got.Blocked != tt.want.Blocked || got.MinHits != tt.want.MinHits || got.Sort != tt.want.Sort || got.Scan != tt.want.Scan {
				t.Errorf("opts = top %d blocked %v min %d sort %q scan %+v, want %+v", got.Top, got.Blocked, got.MinHits, got.Sort, got.Scan, tt.want)
			}
			if wantLimiter := map[bool]string{true: "auth", false: ""}[strings.Contains(strings.Join(tt.args, " "), "auth")]; got.LimiterName != wantLimiter {
				t.Errorf("limiter = %q", got.LimiterName)
			}
			if got.Format != output.Text {
				t.Errorf("format = %q", got.Format)
			}
		})
	}
}

func TestListRun(t *testing.T) {
	s := startServer(t)
	s.seedStandard(t)
	tests := []struct {
		name       string
		tty        bool
		format     output.Format
		opts       listOptions
		limiter    string
		wantOut    string
		wantErrOut string
		wantErr    func(error) bool
	}{
		{
			name: "text, no terminal",
			opts: listOptions{Top: 20, Sort: "hits"},
			wantOut: `limiter api (rl:*, 150 per 15m): 4 keys scanned, 3 clients matched, 3 shown
CLIENT                   HITS  REMAINING  BLOCKED  RESETS
198.51.100.23            152   0          yes      <time>
2001:db8:abcd:1200::/56  150   0          no       <time>
203.0.113.7              3     147        no       <time>
`,
			wantErrOut: `warning: 1 key is not a valid counter (not counted as clients):
KEY   PROBLEM
rl:h  wrong_type
`,
		},
		{
			name: "text, terminal",
			tty:  true,
			opts: listOptions{Top: 2, Sort: "ttl"},
			wantOut: `limiter api (rl:*, 150 per 15m): 4 keys scanned, 3 clients matched, 2 shown
╭─────────────────────────┬──────┬───────────┬─────────┬───────────╮
│ CLIENT                  │ HITS │ REMAINING │ BLOCKED │ RESETS    │
├─────────────────────────┼──────┼───────────┼─────────┼───────────┤
│ 203.0.113.7             │ 3    │ 147       │ no      │ ~~~~~~~~~ │
│ 2001:db8:abcd:1200::/56 │ 150  │ 0         │ no      │ ~~~~~~~~~ │
╰─────────────────────────┴──────┴───────────┴─────────┴───────────╯
`,
			wantErrOut: `warning: 1 key is not a valid counter (not counted as clients):
╭──────┬────────────╮
│ KEY  │ PROBLEM    │
├──────┼────────────┤
│ rl:h │ wrong_type │
╰──────┴────────────╯
`,
		},
		{
			name:   "json, blocked only",
			format: output.JSON,
			opts:   listOptions{Top: 20, Sort: "hits", Blocked: true},
			wantOut: `{
  "limiter": {
    "name": "api",
    "prefix": "rl:",
    "limit": 150,
    "window_ms": 900000
  },
  "scanned_keys": 4,
  "clients": [
    {
      "client": "198.51.100.23",
      "key": "rl:198.51.100.23",
      "hits": 152,
      "remaining": 0,
      "blocked": true,
      "reset_in_ms": N,
      "resets_at": "<time>"
    }
  ],
  "anomalies": [
    {
      "key": "rl:h",
      "problem": "wrong_type"
    }
  ],
  "matched_clients": 1,
  "anomaly_count": 1
}
`,
		},
		{
			name:    "unknown limiter",
			limiter: "nope",
			opts:    listOptions{Top: 20},
			wantErr: func(err error) bool { _, ok := err.(*apperr.ConfigError); return ok },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, errOut := ttyStreams(tt.tty)
			opts := tt.opts
			opts.limiterOptions = testLimiterOptions(ios, s)
			opts.LimiterName = tt.limiter
			opts.Format = tt.format
			if opts.Format == "" {
				opts.Format = output.Text
			}
			err := listRun(context.Background(), &opts)
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Fatalf("err = %T %v", err, err)
				}
				if out.Len() != 0 {
					t.Errorf("stdout on error: %q", out.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkOutput(t, "stdout", normalize(out.String()), tt.wantOut)
			checkOutput(t, "stderr", errOut.String(), tt.wantErrOut)
		})
	}
}

func TestListProgress(t *testing.T) {
	s := startServer(t)
	var seeds []func(valkey.Builder) valkey.Completed
	for i := range 3000 {
		seeds = append(seeds, set(fmt.Sprintf("rl:c%d", i), 1, time.Minute))
	}
	s.seed(t, seeds...)
	for _, tty := range []bool{true, false} {
		ios, _, out, errOut := iostreams.Test()
		ios.SetStderrTTY(tty)
		c := testLimiterOptions(ios, s)
		c.ProgressAfter = 0
		// 3,000 keys at 6,000 keys/s: about half a second, long enough for a redraw.
		opts := &listOptions{limiterOptions: c, Format: output.JSON, Top: 1, Sort: "hits", Scan: scanFlags{Pace: 6000}}
		if err := listRun(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		got := errOut.String()
		if tty {
			if !strings.Contains(got, "scanning rl:*: ") || !strings.Contains(got, " keys scanned") || !strings.HasSuffix(got, "\r\x1b[K") {
				t.Errorf("stderr on a terminal = %q, want progress then a cleared line", got)
			}
		} else if got != "" {
			t.Errorf("stderr off a terminal = %q, want nothing", got)
		}
		if !strings.Contains(out.String(), `"scanned_keys": 3000`) {
			t.Errorf("stdout = %s", out)
		}
	}
}

// TestListRunColor turns color on and checks only that the columns line up.
func TestListRunColor(t *testing.T) {
	s := startServer(t)
	s.seedStandard(t)
	ios, _, out, _ := ttyStreams(true)
	ios.SetColorEnabled(true)
	opts := &listOptions{limiterOptions: testLimiterOptions(ios, s), Format: output.Text, Top: 20, Sort: "hits"}
	if err := listRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\x1b[") {
		t.Fatalf("no escape codes with color on:\n%s", out)
	}
	plain := clitest.StripANSI(out.String())
	checkBoxes(t, plain)
	if !strings.Contains(plain, "│ 198.51.100.23 ") {
		t.Errorf("table:\n%s", plain)
	}
}
