package limits

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func TestNewCmdReset(t *testing.T) {
	tests := []struct {
		args    []string
		check   func(o *resetOptions) bool
		wantErr bool
	}{
		{args: []string{"203.0.113.7", "*"}, check: func(o *resetOptions) bool {
			return fmt.Sprint(o.Clients) == "[203.0.113.7 *]" && !o.All && !o.Blocked && !o.DryRun && !o.Yes
		}},
		{args: []string{"--all", "--yes"}, check: func(o *resetOptions) bool { return o.All && o.Yes && len(o.Clients) == 0 }},
		{args: []string{"--blocked", "--dry-run", "--pace", "500"}, check: func(o *resetOptions) bool {
			return o.Blocked && o.DryRun && !o.Yes && o.Scan.Pace == 500
		}},
		{args: []string{"-y", "--all", "--limiter", "auth"}, check: func(o *resetOptions) bool { return o.All && o.Yes && o.LimiterName == "auth" }},
		{args: []string{"--key-base64", "cmw6eA==", "--key-base64", "cmw6eQ=="}, check: func(o *resetOptions) bool {
			return fmt.Sprint(o.KeysBase64) == "[cmw6eA== cmw6eQ==]"
		}},
		{args: nil, wantErr: true},
		{args: []string{"--dry-run"}, wantErr: true},
		{args: []string{"203.0.113.7", "--all"}, wantErr: true},
		{args: []string{"--all", "--blocked"}, wantErr: true},
		{args: []string{"--key-base64", "cmw6eA==", "--blocked"}, wantErr: true},
		{args: []string{"--all", "--pace", "-1"}, wantErr: true},
		{args: []string{"--force"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *resetOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdReset(f, func(_ context.Context, o *resetOptions) error { got = o; return nil })
			}, tt.args)
			if tt.wantErr {
				if !clitest.IsUsage(err) {
					t.Fatalf("err = %v, want a UsageError", err)
				}
				if got != nil {
					t.Fatal("run called despite the usage error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(got) {
				t.Errorf("opts = %+v", *got)
			}
		})
	}
}

func TestResetRun(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		name        string
		tty         bool
		stdin       string
		format      output.Format
		opts        resetOptions
		wantOut     string
		wantErrOut  string
		wantErr     func(error) bool
		wantDeleted []string
	}{
		{
			name: "clients, text, no terminal",
			opts: resetOptions{Clients: []string{"198.51.100.23", "2001:db8:abcd:12ff::1", "9.9.9.9", "h"}},
			wantOut: `deleted 2 counters of limiter api (rl:*, 150 per 15m)
  rl:198.51.100.23
  rl:2001:db8:abcd:1200::/56
not found: rl:9.9.9.9 (no hits in the current window)
skipped: rl:h is not a counter (wrong_type): left alone
`,
			wantDeleted: []string{"rl:198.51.100.23", "rl:2001:db8:abcd:1200::/56"},
		},
		{
			name:   "clients, dry run, json",
			format: output.JSON,
			opts:   resetOptions{Clients: []string{"203.0.113.7", "*"}, DryRun: true},
			wantOut: `{
  "dry_run": true,
  "deleted": [
    "rl:203.0.113.7"
  ],
  "not_found": [
    "rl:*"
  ],
  "skipped": []
}
`,
		},
		{
			name:   "key by base64",
			format: output.JSON,
			opts:   resetOptions{KeysBase64: []string{"cmw6MjAzLjAuMTEzLjc="}},
			wantOut: `{
  "dry_run": false,
  "deleted": [
    "rl:203.0.113.7"
  ],
  "not_found": [],
  "skipped": []
}
`,
			wantDeleted: []string{"rl:203.0.113.7"},
		},
		{
			name:    "key by base64 outside the prefix",
			opts:    resetOptions{KeysBase64: []string{"cmwyOng="}}, // rl2:x
			wantErr: clitest.IsUsage,
		},
		{
			name:    "key by bad base64",
			opts:    resetOptions{KeysBase64: []string{"%%%"}},
			wantErr: clitest.IsUsage,
		},
		{
			name: "all without a terminal and without --yes refuses",
			opts: resetOptions{All: true},
			wantErrOut: `limiter api (rl:*, 150 per 15m): 4 keys scanned; every counter: 3 to delete
CLIENT                   HITS  REMAINING  BLOCKED  RESETS
198.51.100.23            152   0          yes      <time>
2001:db8:abcd:1200::/56  150   0          no       <time>
203.0.113.7              3     147        no       <time>
`,
			wantErr: clitest.IsUsage,
		},
		{
			name:  "all on a terminal, declined",
			tty:   true,
			stdin: "n\n",
			opts:  resetOptions{All: true},
			wantErrOut: `limiter api (rl:*, 150 per 15m): 4 keys scanned; every counter: 3 to delete
╭─────────────────────────┬──────┬───────────┬─────────┬───────────╮
│ CLIENT                  │ HITS │ REMAINING │ BLOCKED │ RESETS    │
├─────────────────────────┼──────┼───────────┼─────────┼───────────┤
│ 198.51.100.23           │ 152  │ 0         │ yes     │ ~~~~~~~~~ │
│ 2001:db8:abcd:1200::/56 │ 150  │ 0         │ no      │ ~~~~~~~~~ │
│ 203.0.113.7             │ 3    │ 147       │ no      │ ~~~~~~~~~ │
╰─────────────────────────┴──────┴───────────┴─────────┴───────────╯
Delete 3 counters of limiter api? [y/N]: `,
			wantErr: clitest.IsUsage,
		},
		{
			name:  "blocked on a terminal, confirmed",
			tty:   true,
			stdin: "y\n",
			opts:  resetOptions{Blocked: true},
			wantOut: `deleted 1 counter of limiter api (rl:*, 150 per 15m)
  rl:198.51.100.23
`,
			wantErrOut: `limiter api (rl:*, 150 per 15m): 4 keys scanned; every blocked counter: 1 to delete
╭───────────────┬──────┬───────────┬─────────┬───────────╮
│ CLIENT        │ HITS │ REMAINING │ BLOCKED │ RESETS    │
├───────────────┼──────┼───────────┼─────────┼───────────┤
│ 198.51.100.23 │ 152  │ 0         │ yes     │ ~~~~~~~~~ │
╰───────────────┴──────┴───────────┴─────────┴───────────╯
Delete 1 counter of limiter api? [y/N]: `,
			wantDeleted: []string{"rl:198.51.100.23"},
		},
		{
			name:   "all with --yes, json, no terminal",
			format: output.JSON,
			opts:   resetOptions{All: true, Yes: true},
			wantOut: `{
  "dry_run": false,
  "deleted": [
    "rl:198.51.100.23",
    "rl:2001:db8:abcd:1200::/56",
    "rl:203.0.113.7"
  ],
  "not_found": [],
  "skipped": []
}
`,
			wantErrOut: `limiter api (rl:*, 150 per 15m): 4 keys scanned; every counter: 3 found
CLIENT                   HITS  REMAINING  BLOCKED  RESETS
198.51.100.23            152   0          yes      <time>
2001:db8:abcd:1200::/56  150   0          no       <time>
203.0.113.7              3     147        no       <time>
`,
			wantDeleted: []string{"rl:198.51.100.23", "rl:2001:db8:abcd:1200::/56", "rl:203.0.113.7"},
		},
		{
			name: "blocked dry run needs no confirmation",
			opts: resetOptions{Blocked: true, DryRun: true},
			wantOut: `dry run: would delete 1 counter of limiter api (rl:*, 150 per 15m)
  rl:198.51.100.23
`,
			wantErrOut: `limiter api (rl:*, 150 per 15m): 4 keys scanned; every blocked counter: 1 to delete
CLIENT         HITS  REMAINING  BLOCKED  RESETS
198.51.100.23  152   0          yes      <time>
`,
		},
	}
	all := []string{"rl:198.51.100.23", "rl:2001:db8:abcd:1200::/56", "rl:203.0.113.7", "rl:h", "rl2:x"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.client.Do(context.Background(), s.client.B().Flushall().Build()).Error(); err != nil {
				t.Fatal(err)
			}
			s.seedStandard(t)
			ios, in, out, errOut := ttyStreams(tt.tty)
			in.WriteString(tt.stdin)
			opts := tt.opts
			opts.limiterOptions = testLimiterOptions(ios, s)
			opts.Format = tt.format
			if opts.Format == "" {
				opts.Format = output.Text
			}
			err := resetRun(context.Background(), &opts)
			switch {
			case tt.wantErr != nil && !tt.wantErr(err):
				t.Fatalf("err = %T %v", err, err)
			case tt.wantErr == nil && err != nil:
				t.Fatal(err)
			}
			checkOutput(t, "stdout", normalize(out.String()), tt.wantOut)
			checkOutput(t, "stderr", normalize(errOut.String()), tt.wantErrOut)
			deleted := map[string]bool{}
			for _, k := range tt.wantDeleted {
				deleted[k] = true
			}
			for _, k := range all {
				if s.exists(t, k) == deleted[k] {
					t.Errorf("%s: exists = %v, want %v", k, !deleted[k], !deleted[k])
				}
			}
		})
	}
}

func TestResetRunRefusalMessage(t *testing.T) {
	s := startServer(t)
	s.seedStandard(t)
	ios, _, _, _ := ttyStreams(false)
	err := resetRun(context.Background(), &resetOptions{limiterOptions: testLimiterOptions(ios, s), All: true, Format: output.Text})
	var ue *apperr.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--yes") || !strings.Contains(err.Error(), "nothing was deleted") {
		t.Fatalf("err = %v", err)
	}
}
