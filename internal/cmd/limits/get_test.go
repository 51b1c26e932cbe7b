package limits

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func TestNewCmdGet(t *testing.T) {
	tests := []struct {
		args    []string
		want    []string
		wantErr bool
	}{
		{args: []string{"203.0.113.7"}, want: []string{"203.0.113.7"}},
		{args: []string{"203.0.113.7", "2001:db8::1", "*", "--limiter", "auth"}, want: []string{"203.0.113.7", "2001:db8::1", "*"}},
		{args: []string{"--", "-weird-client"}, want: []string{"-weird-client"}},
		{args: nil, wantErr: true},
		{args: []string{"--top", "3", "x"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *getOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdGet(f, func(_ context.Context, o *getOptions) error { got = o; return nil })
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
			if fmt.Sprint(got.Clients) != fmt.Sprint(tt.want) {
				t.Errorf("clients = %q, want %q", got.Clients, tt.want)
			}
		})
	}
}

func TestGetRun(t *testing.T) {
	s := startServer(t)
	s.seedStandard(t)
	args := []string{"198.51.100.23", "2001:db8:abcd:12ff::1", "203.0.113.99", "h"}
	tests := []struct {
		name       string
		tty        bool
		format     output.Format
		wantOut    string
		wantErrOut string
	}{
		{
			name: "text, no terminal",
			wantOut: `limiter api (rl:*, 150 per 15m)
QUERY                  CLIENT                   HITS  REMAINING  BLOCKED  RESETS
198.51.100.23          198.51.100.23            152   0          yes      <time>
2001:db8:abcd:12ff::1  2001:db8:abcd:1200::/56  150   0          no       <time>
203.0.113.99: no counter (rl:203.0.113.99): no hits in the current window
`,
			wantErrOut: `warning: 1 key is not a valid counter (not counted as clients):
KEY   PROBLEM
rl:h  wrong_type
`,
		},
		{
			name: "text, terminal",
			tty:  true,
			wantOut: `limiter api (rl:*, 150 per 15m)
╭────────────────────┬─────────────────────┬──────┬───────┬────────┬───────────╮
│ QUERY              │ CLIENT              │ HITS │ REMAI │ BLOCKE │ RESETS    │
├────────────────────┼─────────────────────┼──────┼───────┼────────┼───────────┤
│ 198.51.100.23      │ 198.51.100.23       │ 152  │ 0     │ yes    │ ~~~~~~~~~ │
│ 2001:db8:abcd:12ff │ 2001:db8:abcd:1200: │ 150  │ 0     │ no     │ ~~~~~~~~~ │
│ ::1                │ :/56                │      │       │        │           │
╰────────────────────┴─────────────────────┴──────┴───────┴────────┴───────────╯
203.0.113.99: no counter (rl:203.0.113.99): no hits in the current window
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
			name:   "json",
			format: output.JSON,
			wantOut: `{
  "limiter": {
    "name": "api",
    "prefix": "rl:",
    "limit": 150,
    "window_ms": 900000
  },
  "clients": [
    {
      "client": "198.51.100.23",
      "key": "rl:198.51.100.23",
      "hits": 152,
      "remaining": 0,
      "blocked": true,
      "reset_in_ms": N,
      "resets_at": "<time>",
      "query": "198.51.100.23"
    },
    {
      "client": "2001:db8:abcd:1200::/56",
      "key": "rl:2001:db8:abcd:1200::/56",
      "hits": 150,
      "remaining": 0,
      "blocked": false,
      "reset_in_ms": N,
      "resets_at": "<time>",
      "query": "2001:db8:abcd:12ff::1"
    }
  ],
  "not_found": [
    {
      "query": "203.0.113.99",
      "client": "203.0.113.99",
      "key": "rl:203.0.113.99"
    }
  ],
  "anomalies": [
    {
      "key": "rl:h",
      "problem": "wrong_type"
    }
  ]
}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, errOut := ttyStreams(tt.tty)
			opts := &getOptions{limiterOptions: testLimiterOptions(ios, s), Clients: args, Format: tt.format}
			if opts.Format == "" {
				opts.Format = output.Text
			}
			if err := getRun(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			checkOutput(t, "stdout", normalize(out.String()), tt.wantOut)
			checkOutput(t, "stderr", errOut.String(), tt.wantErrOut)
		})
	}
}
