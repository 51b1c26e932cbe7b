package limits

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
)

var scanMSRE = regexp.MustCompile(`in \d+(\.\d+)?[µnm]?s,`)

func TestWatchRun(t *testing.T) {
	s := startServer(t)
	s.seedStandard(t)
	run := func(tty bool, format output.Format, sort string) (string, string) {
		ios, _, out, errOut := ttyStreams(tty)
		opts := listOptions{limiterOptions: testLimiterOptions(ios, s), Format: format, Top: 2, Sort: sort,
			Watch: true, Interval: 10 * time.Millisecond, Rounds: 2}
		opts.Now = time.Now // rates need a clock that moves
		if err := watchRun(context.Background(), &opts); err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String()
	}

	// JSON: one document per round, one per line, rates from round 2.
	out, errOut := run(false, output.JSON, ratelimit.SortRate)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), out)
	}
	for i, line := range lines {
		var r struct {
			Kind    string `json:"kind"`
			Round   int    `json:"round"`
			Time    string `json:"time"`
			Clients []struct {
				Client string   `json:"client"`
				Rate   *float64 `json:"rate_per_s"`
			} `json:"clients"`
			ScannedKeys int64 `json:"scanned_keys"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		if r.Kind != "round" || r.Round != i+1 || r.Time == "" || r.ScannedKeys != 4 || len(r.Clients) != 2 {
			t.Fatalf("line %d: %+v", i, r)
		}
		if (r.Clients[0].Rate == nil) != (i == 0) {
			t.Errorf("round %d: rate %v", i+1, r.Clients[0].Rate)
		}
	}
	if !strings.HasPrefix(errOut, "watch: 2 round(s) in ") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr: %q", errOut)
	}

	// Text through a pipe: each round in turn, with a RATE/S column.
	out, _ = run(false, output.Text, ratelimit.SortHits)
	out = scanMSRE.ReplaceAllString(normalize(out), "in T,")
	want := `round 1 at <time>: limiter api (rl:*, 150 per 15m): 4 keys scanned in T, 3 clients matched, top 2 by hits
CLIENT                   HITS  RATE/S  REMAINING  BLOCKED  RESETS
198.51.100.23            152   -       0          yes      <time>
2001:db8:abcd:1200::/56  150   -       0          no       <time>

round 2 at <time>: limiter api (rl:*, 150 per 15m): 4 keys scanned in T, 3 clients matched, top 2 by hits
CLIENT                   HITS  RATE/S  REMAINING  BLOCKED  RESETS
198.51.100.23            152   0.0     0          yes      <time>
2001:db8:abcd:1200::/56  150   0.0     0          no       <time>

`
	checkOutput(t, "text", out, want)

	// On a terminal each round redraws the screen.
	out, _ = run(true, output.Text, ratelimit.SortRate)
	if strings.Count(out, clearScreen) != 2 || !strings.Contains(out, "RATE/S") {
		t.Errorf("terminal output: %q", out)
	}
}

// TestWatchRunInterrupted: Ctrl-C ends a watch with no error (exit 0) and
// the summary on stderr.
func TestWatchRunInterrupted(t *testing.T) {
	s := startServer(t)
	s.seedStandard(t)
	ios, _, out, errOut := ttyStreams(false)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	opts := listOptions{limiterOptions: testLimiterOptions(ios, s), Format: output.JSON, Top: 20, Sort: "hits", Watch: true, Interval: 50 * time.Millisecond}
	if err := watchRun(ctx, &opts); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n < 2 || !strings.HasPrefix(errOut.String(), "watch: ") {
		t.Fatalf("%d rounds; stderr %q", n, errOut.String())
	}
}
