package limits

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func TestNewCmdBlock(t *testing.T) {
	tests := []struct {
		args    []string
		check   func(o *blockOptions) bool
		wantErr bool
	}{
		{args: []string{"203.0.113.7", "2001:db8::1"}, check: func(o *blockOptions) bool {
			return fmt.Sprint(o.Clients) == "[203.0.113.7 2001:db8::1]" && o.For == 0 && !o.DryRun && !o.Yes
		}},
		{args: []string{"203.0.113.7", "--for", "90s", "--dry-run", "-y", "--limiter", "auth"}, check: func(o *blockOptions) bool {
			return o.For == 90*time.Second && o.DryRun && o.Yes && o.LimiterName == "auth"
		}},
		{args: nil, wantErr: true},
		{args: []string{"--for", "1h"}, wantErr: true},
		{args: []string{"203.0.113.7", "--for", "-1s"}, wantErr: true},
		{args: []string{"203.0.113.7", "--for", "0s"}, wantErr: true},
		{args: []string{"203.0.113.7", "--for", "soon"}, wantErr: true},
		{args: []string{"203.0.113.7", "--all"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *blockOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdBlock(f, func(_ context.Context, o *blockOptions) error { got = o; return nil })
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

func TestBlockRun(t *testing.T) {
	s := startServer(t)
	many := make([]string, 11)
	for i := range many {
		many[i] = fmt.Sprintf("192.0.2.%d", i+1)
	}
	tests := []struct {
		name       string
		tty        bool
		stdin      string
		format     output.Format
		opts       blockOptions
		wantOut    string
		wantErrOut string
		wantErr    func(error) bool
		wantHits   map[string]string // key -> value after the run
	}{
		{
			name: "clients, text, no terminal",
			opts: blockOptions{Clients: []string{"198.51.100.23", "203.0.113.7", "2001:db8:abcd:12ff::1", "h"}, For: 20 * time.Minute},
			wantOut: `blocked 3 clients of limiter api (rl:*, 150 per 15m)
CLIENT                   HITS  UNTIL
198.51.100.23            152   <time>
203.0.113.7              151   <time>
2001:db8:abcd:1200::/56  151   <time>
skipped: rl:h is not a counter (wrong_type): left alone
`,
			wantHits: map[string]string{"rl:198.51.100.23": "152", "rl:203.0.113.7": "151", "rl:2001:db8:abcd:1200::/56": "151"},
		},
		{
			name:   "dry run, json",
			format: output.JSON,
			opts:   blockOptions{Clients: []string{"203.0.113.7"}, DryRun: true},
			wantOut: `{
  "dry_run": true,
  "blocked": [
    {
      "client": "203.0.113.7",
      "key": "rl:203.0.113.7",
      "hits": 151,
      "reset_in_ms": N,
      "resets_at": "<time>",
      "query": "203.0.113.7"
    }
  ],
  "skipped": []
}
`,
			wantHits: map[string]string{"rl:203.0.113.7": "3"},
		},
		{
			name:       "more than 10 clients without a terminal refuses",
			opts:       blockOptions{Clients: many},
			wantErrOut: "about to block 11 clients of limiter api (rl:*, 150 per 15m) for 15m0s\n",
			wantErr:    clitest.IsUsage,
			wantHits:   map[string]string{"rl:192.0.2.1": ""},
		},
		{
			name:       "over 24h on a terminal, declined",
			tty:        true,
			stdin:      "n\n",
			opts:       blockOptions{Clients: []string{"203.0.113.7"}, For: 48 * time.Hour},
			wantErrOut: "about to block 1 client of limiter api (rl:*, 150 per 15m) for 48h0m0s\nGo ahead? [y/N]: ",
			wantErr:    clitest.IsUsage,
			wantHits:   map[string]string{"rl:203.0.113.7": "3"},
		},
		{
			name:     "more than 10 clients with --yes",
			format:   output.JSON,
			opts:     blockOptions{Clients: many, Yes: true},
			wantHits: map[string]string{"rl:192.0.2.1": "151", "rl:192.0.2.11": "151"},
		},
	}
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
			err := blockRun(context.Background(), &opts)
			switch {
			case tt.wantErr != nil && !tt.wantErr(err):
				t.Fatalf("err = %T %v", err, err)
			case tt.wantErr == nil && err != nil:
				t.Fatal(err)
			}
			if tt.wantOut != "" || tt.wantErr != nil {
				checkOutput(t, "stdout", normalize(out.String()), tt.wantOut)
			}
			checkOutput(t, "stderr", normalize(errOut.String()), tt.wantErrOut)
			for k, want := range tt.wantHits {
				got, _ := s.client.Do(context.Background(), s.client.B().Get().Key(k).Build()).ToString()
				if got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}
