package limits

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// server is a real valkey-server with a store for the verbs.
type server struct {
	client valkey.Client
	store  *Store
}

func startServer(t *testing.T) *server {
	t.Helper()
	s := valkeytest.Start(t, valkeytest.Options{})
	conn, err := valkeyclient.Connect(context.Background(), valkeyclient.Options{URL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	prims, err := conn.Primaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &server{client: conn.Client, store: &Store{Client: conn.Client, Primaries: prims}}
}

func (s *server) seed(t *testing.T, cmds ...func(valkey.Builder) valkey.Completed) {
	t.Helper()
	var built valkey.Commands
	for _, f := range cmds {
		built = append(built, f(s.client.B()))
	}
	for i, r := range s.client.DoMulti(context.Background(), built...) {
		if err := r.Error(); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
	}
}

func (s *server) exists(t *testing.T, key string) bool {
	t.Helper()
	n, err := s.client.Do(context.Background(), s.client.B().Exists().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func set(key string, hits int64, pttl time.Duration) func(valkey.Builder) valkey.Completed {
	return func(b valkey.Builder) valkey.Completed {
		return b.Set().Key(key).Value(fmt.Sprint(hits)).Px(pttl).Build()
	}
}

// seedStandard writes the counters most run tests use.
func (s *server) seedStandard(t *testing.T) {
	s.seed(t,
		// Half a second more, so relative times ("in 10m00s") keep their width.
		set("rl:198.51.100.23", 152, 800500*time.Millisecond),
		set("rl:2001:db8:abcd:1200::/56", 150, 700500*time.Millisecond),
		set("rl:203.0.113.7", 3, 600500*time.Millisecond),
		func(b valkey.Builder) valkey.Completed {
			return b.Hset().Key("rl:h").FieldValue().FieldValue("f", "v").Build()
		},
		set("rl2:x", 500, time.Minute),
	)
}

// testLimiterOptions gives verbs a fixed limiter, the server and a fixed clock.
func testLimiterOptions(ios *iostreams.IOStreams, s *server) limiterOptions {
	return limiterOptions{
		IO: ios,
		Limiter: func(name string) (ratelimit.Limiter, error) {
			if name != "" && name != "api" {
				return ratelimit.Limiter{}, apperr.Configf("no limiter %q (limiters: api)", name)
			}
			return ratelimit.DefaultLimiter(), nil
		},
		Store: func(context.Context) (*Store, error) {
			if s == nil {
				return nil, apperr.Runtime(apperr.KindConnect, errors.New("no server in this test"), "")
			}
			return s.store, nil
		},
		Now:           clitest.FixedNow,
		Timeout:       10 * time.Second,
		ProgressAfter: time.Second,
	}
}

// ttyStreams returns test streams with every terminal answer set to tty.
func ttyStreams(tty bool) (*iostreams.IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	ios, in, out, errOut := iostreams.Test()
	clitest.SetTTY(ios, tty)
	ios.SetTerminalWidth(80)
	return ios, in, out, errOut
}

var (
	rfc3339RE  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	relativeRE = regexp.MustCompile(`in \d+m\d\ds`)
	resetMSRE  = regexp.MustCompile(`"reset_in_ms": \d+`)
)

// normalize masks what depends on the server's clock (PTTL keeps falling
// while the test runs): times become "T" and reset_in_ms "N", keeping the
// width of the relative form so that table columns still line up.
func normalize(s string) string {
	s = rfc3339RE.ReplaceAllString(s, "<time>")
	s = relativeRE.ReplaceAllStringFunc(s, func(m string) string { return strings.Repeat("~", len(m)) })
	return resetMSRE.ReplaceAllString(s, `"reset_in_ms": N`)
}

func checkOutput(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n--- got ---\n%s\n--- want ---\n%s", what, got, want)
	}
}
