package limits

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func TestNewCmdStats(t *testing.T) {
	tests := []struct {
		args     []string
		wantPace int
		wantErr  bool
	}{
		{args: nil},
		{args: []string{"--pace", "2000", "--limiter", "auth"}, wantPace: 2000},
		{args: []string{"--pace", "-2"}, wantErr: true},
		{args: []string{"extra"}, wantErr: true},
		{args: []string{"--top", "3"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *statsOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdStats(f, func(_ context.Context, o *statsOptions) error { got = o; return nil })
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
			if got.Scan.Pace != tt.wantPace {
				t.Errorf("pace = %d", got.Scan.Pace)
			}
		})
	}
}

// memoryRE masks the memory estimate, which depends on the server build.
var memoryRE = regexp.MustCompile(`~\d+ B|"estimated_bytes": \d+`)

func TestStatsRun(t *testing.T) {
	s := startServer(t)
	s.seedStandard(t)
	s.seed(t, set("rl:10.0.0.1", 20, 100*time.Second), set("rl:10.0.0.2", 400, 100*time.Second), set("rl:10.0.0.3", 1, 100*time.Second))
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
keys scanned  7
clients       6
blocked       2
total hits    726
memory        ~M (estimate from 6 sampled keys)

OF LIMIT  HITS     CLIENTS
0-10%     0-15     2        ##############################
10-50%    16-75    1        ###############
50-80%    76-120   0
80-100%   121-150  1        ###############
100-200%  151-300  1        ###############
>200%     301+     1        ###############

top clients:
CLIENT                   HITS  REMAINING  BLOCKED  RESETS
10.0.0.2                 400   0          yes      <time>
198.51.100.23            152   0          yes      <time>
2001:db8:abcd:1200::/56  150   0          no       <time>
10.0.0.1                 20    130        no       <time>
203.0.113.7              3     147        no       <time>
10.0.0.3                 1     149        no       <time>
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
keys scanned  7
clients       6
blocked       2
total hits    726
memory        ~M (estimate from 6 sampled keys)

`,
			wantErrOut: `warning: 1 key is not a valid counter (not counted as clients):
╭──────┬────────────╮
│ KEY  │ PROBLEM    │
├──────┼────────────┤
│ rl:h │ wrong_type │
╰──────┴────────────╯
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, errOut := ttyStreams(tt.tty)
			opts := &statsOptions{limiterOptions: testLimiterOptions(ios, s), Format: output.Text}
			if err := statsRun(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			got := memoryRE.ReplaceAllString(normalize(out.String()), "~M")
			if tt.tty {
				// Check the summary exactly and that every table row lines up.
				if !strings.HasPrefix(got, tt.wantOut) {
					t.Errorf("stdout:\n%s\nwant prefix:\n%s", got, tt.wantOut)
				}
				checkBoxes(t, got[len(tt.wantOut):])
			} else {
				checkOutput(t, "stdout", got, tt.wantOut)
			}
			checkOutput(t, "stderr", errOut.String(), tt.wantErrOut)
		})
	}
	t.Run("json", func(t *testing.T) {
		ios, _, out, _ := ttyStreams(false)
		opts := &statsOptions{limiterOptions: testLimiterOptions(ios, s), Format: output.JSON}
		if err := statsRun(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		var res ratelimit.StatsResult
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, out)
		}
		if res.Clients != 6 || res.Blocked != 2 || res.TotalHits != 726 || len(res.Histogram) != 6 || len(res.Top) != 6 || !res.Memory.Estimate || res.Memory.SampledKeys != 6 {
			t.Errorf("stats = %+v", res)
		}
		for _, field := range []string{`"histogram": [`, `"max": null`, `"anomalies": [`, `"estimate": true`, `"window_ms": 900000`} {
			if !strings.Contains(out.String(), field) {
				t.Errorf("JSON lacks %s", field)
			}
		}
	})
}

// checkBoxes asserts that every line of lipgloss tables has the same width
// as the table's top border.
func checkBoxes(t *testing.T, s string) {
	t.Helper()
	width := 0
	for _, line := range strings.Split(s, "\n") {
		if !strings.ContainsAny(line, "│╭╰├") {
			width = 0
			continue
		}
		w := len([]rune(line))
		if strings.HasPrefix(line, "╭") {
			width = w
		}
		if w != width {
			t.Errorf("table line width %d, want %d: %q", w, width, line)
		}
	}
}
