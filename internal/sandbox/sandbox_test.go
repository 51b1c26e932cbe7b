package sandbox

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/repo"

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
