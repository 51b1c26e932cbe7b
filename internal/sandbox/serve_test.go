package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/iostreams"
)

// TestServeStaysAlive: an hour into --serve, on the embedded server whose
// clock the test moves, `limits list` still shows the demo clients (the
// counters were written again before they expired), a counter that was reset
// stays deleted, traffic still flows, and `health` names the embedded server
// with its version. Without the refresh the same hour empties the limiter.
func TestServeStaysAlive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ios, _, cmdOut, cmdErr := iostreams.Test()
	var out bytes.Buffer
	sb, err := Start(ctx, Options{Out: &out, Err: &out, Embedded: true, Serve: true, IOS: ios})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	run := func(args ...string) string {
		t.Helper()
		cmdOut.Reset()
		cmdErr.Reset()
		if code := app.Run(ctx, args, ios, sb.getenv); code != 0 {
			t.Fatalf("oxyctl %s: exit %d\n%s%s", strings.Join(args, " "), code, cmdOut, cmdErr)
		}
		return cmdOut.String()
	}
	if err := sb.client.Do(ctx, sb.client.B().Del().Key("rl:203.0.113.7").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	mini := sb.server.mini
	for elapsed := time.Duration(0); elapsed < time.Hour; elapsed += refreshMargin / 3 {
		mini.FastForward(refreshMargin / 3)
		if err := refresh(ctx, sb.client); err != nil {
			t.Fatal(err)
		}
	}
	list := run("limits", "list")
	for _, c := range Counters {
		client := strings.TrimPrefix(c.Key, "rl:")
		if !strings.HasPrefix(c.Key, "rl:") || c.PTTLms == 0 {
			continue
		}
		shown := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(client) + `\s+` + fmt.Sprint(c.Hits) + `\s`).MatchString(list)
		if client == "203.0.113.7" && shown {
			t.Errorf("the reset counter %s came back:\n%s", c.Key, list)
		} else if client != "203.0.113.7" && !shown {
			t.Errorf("an hour later %s (%d hits) is gone:\n%s", client, c.Hits, list)
		}
	}
	if tail := run("pubsub", "tail", "--count", "2"); !strings.Contains(tail, "2 message(s)") && strings.Count(tail, "\n") < 2 {
		t.Errorf("no traffic an hour later:\n%s%s", tail, cmdErr)
	}
	if health := run("health", "--check", "valkey"); !regexp.MustCompile(`valkey\s+✓ ok.*miniredis 2\.\d+\.\d+, \d+ clients`).MatchString(health) {
		t.Errorf("health does not name the embedded server and its version:\n%s", health)
	}

	mini.FastForward(16 * time.Minute) // no refresh: every counter of the 15-minute window expires
	if list := run("limits", "list"); !strings.Contains(list, "0 clients matched") {
		t.Errorf("without the refresh the counters should have expired:\n%s", list)
	}
}
