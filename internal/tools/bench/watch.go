package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oxyhq/oxyctl/internal/ratelimit"
)

// watchRounds is how many rounds the watch benchmark runs.
const watchRounds = 10

// benchWatch times `limits list --watch` for watchRounds rounds back to
// back on the loaded counters: each round's own scan time (its scan_ms)
// against the wall time of one `limits list`, and the watch's peak RSS
// across all rounds (it keeps every counter's previous hits).
func (e *env) benchWatch(ctx context.Context, s *server) error {
	fmt.Printf("\nlimits list --watch, %d rounds back to back, against limits list (standalone)\n", watchRounds)
	var lists []time.Duration
	var listRSS int64
	for range *flagRuns {
		d, r, err := e.timed(ctx, s.url(), &bytes.Buffer{}, e.oxyctl, "limits", "list", "--top", "20", "-o", "json")
		if err != nil {
			return err
		}
		lists, listRSS = append(lists, d), max(listRSS, r)
		fmt.Printf("    run: oxyctl list %s, peak RSS %.1f MiB\n", secs(d), float64(r)/1024)
	}
	var out bytes.Buffer
	d, rss, err := e.timed(ctx, s.url(), &out, e.oxyctl, "limits", "list", "--watch", "--interval", "1ms",
		"--rounds", fmt.Sprint(watchRounds), "--top", "20", "--sort", "rate", "-o", "json")
	if err != nil {
		return err
	}
	var rounds []time.Duration
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r ratelimit.WatchRound
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Kind != ratelimit.WatchRoundKind || len(r.Clients) != 20 {
			return fmt.Errorf("watch output: %v: %.200s", err, line)
		}
		rd := time.Duration(r.ScanMS) * time.Millisecond
		rounds = append(rounds, rd)
		fmt.Printf("    round %2d: scan %s, %d keys scanned\n", r.Round, secs(rd), r.ScannedKeys)
	}
	if len(rounds) != watchRounds {
		return fmt.Errorf("watch printed %d rounds, want %d", len(rounds), watchRounds)
	}
	ml, mr := median(lists), median(rounds)
	slowest := rounds[0]
	for _, r := range rounds {
		slowest = max(slowest, r)
	}
	e.report("oxyctl list (wall, median)", secs(ml), "", true)
	e.report(fmt.Sprintf("watch: %d rounds (wall)", watchRounds), secs(d), "", true)
	e.report("watch round scan (median; slowest)", secs(mr)+"; "+secs(slowest), "", true)
	e.report("watch round (median) / list", fmt.Sprintf("%.2fx", mr.Seconds()/ml.Seconds()), "<= 1.0x", mr <= ml)
	e.report("oxyctl list peak RSS", fmt.Sprintf("%.1f MiB", float64(listRSS)/1024), "", true)
	e.report(fmt.Sprintf("watch peak RSS over %d rounds", watchRounds), fmt.Sprintf("%.1f MiB", float64(rss)/1024), "< 48 MiB", rss < 48*1024)
	return nil
}
