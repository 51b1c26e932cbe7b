package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/repo"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// TestTour runs the quick start non-interactively, with valkey-server and
// with the embedded server, and checks what a newcomer must see: healthy
// checks, a blocked client, decoded Socket.IO events, firewall findings.
func TestTour(t *testing.T) {
	for _, embedded := range []bool{false, true} {
		name := map[bool]string{false: "valkey-server", true: "embedded"}[embedded]
		t.Run(name, func(t *testing.T) {
			if !embedded {
				valkeytest.Binary(t) // fail under CI, skip locally when missing
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var out bytes.Buffer
			ios, _, cmdOut, cmdErr := iostreams.Test()
			opts := Options{Out: &out, Err: &out, Embedded: embedded, IOS: ios}
			sb, err := Start(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			dir := sb.Dir
			if !strings.HasPrefix(sb.ConfigPath, os.TempDir()) {
				t.Fatalf("config written outside the temp dir: %s", sb.ConfigPath)
			}
			sb.RunTour(ctx, opts)
			sb.Close()
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("sandbox dir %s left behind", dir)
			}
			all := out.String() + cmdOut.String() + cmdErr.String()
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`(?m)^api\s+✓ ok`),
				regexp.MustCompile(`(?m)^valkey\s+✓ ok`),
				regexp.MustCompile(`(?m)^pubsub\s+✓ ok.*/ 2`),
				regexp.MustCompile(`(?m)^do\s+✓ ok`),
				regexp.MustCompile(`(?m)^198\.51\.100\.23\s+152\s+0\s+yes`),
				regexp.MustCompile(`rl:203\.0\.113\.99\s+no_expiry`),
				regexp.MustCompile(`/ news to=all from=9UUkUo\s+\{"hello":"world","n":1\}`),
				regexp.MustCompile(`/chat message to=lobby`),
				regexp.MustCompile(`error\s+public\s+ip_addr:0\.0\.0\.0/0`),
				regexp.MustCompile(`error\s+missing\s+app:`),
			} {
				if !want.MatchString(all) {
					t.Errorf("tour output lacks %s", want)
				}
			}
			if strings.Contains(all, "panic") {
				t.Errorf("panic in tour output")
			}
			if t.Failed() {
				t.Logf("tour output:\n%s", all)
			}
		})
	}
}

// TestEmbeddedSpecIsCurrent keeps the sandbox's copy of the spec equal to ../shared/specs.
func TestEmbeddedSpecIsCurrent(t *testing.T) {
	shared, err := os.ReadFile(repo.Shared(t, "specs", "digitalocean-openapi-subset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shared, embeddedSpec) {
		t.Fatal("internal/sandbox/spec is stale: copy ../shared/specs/digitalocean-openapi-subset.yaml")
	}
}

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
