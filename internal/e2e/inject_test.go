package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/hostile"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// hostileText is what an attacker plants in a name a server or API returns:
// a terminal title (OSC), a screen clear, a carriage return that overwrites
// the line, a C1 control, a right-to-left override that makes 4.3.2.1 read
// 1.2.3.4, a zero-width space.
const hostileText = "\x1b]0;owned\x07\x1b[2J\rX\u0085\u202e4.3.2.1\u200b"

var sgrSeq = regexp.MustCompile("\x1b\\[[0-9;:]*m")

// rawControls returns what in text could drive a terminal: any control but
// newline and tab (color sequences aside, on a terminal), C1, format
// characters, separators.
func rawControls(text string, tty bool) []string {
	if tty {
		text = sgrSeq.ReplaceAllString(text, "")
	}
	var bad []string
	for _, r := range text {
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f, r == 0x2028, r == 0x2029, unicode.Is(unicode.Cf, r):
			bad = append(bad, fmt.Sprintf("%U", r))
		}
	}
	return bad
}

// runAs runs oxyctl in text mode on a terminal (with color) or through a pipe.
func runAs(t *testing.T, tty bool, env map[string]string, args ...string) result {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	if tty {
		ios.SetStdoutTTY(true)
		ios.SetStderrTTY(true)
		ios.SetColorEnabled(true)
	}
	home := t.TempDir()
	base := map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, "xdg")}
	for k, v := range env {
		base[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := app.Run(ctx, args, ios, func(k string) string { return base[k] })
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// Hostile bytes planted in every source of text (key names, channel names,
// INFO fields, Valkey and DigitalOcean error messages, Droplet names and
// rule descriptions, the tail summary) never reach stdout or stderr raw in
// text mode, on a terminal or through a pipe; -o json keeps the exact text.
// (Before: all of them were printed raw, and limits let U+202E through.)
func TestTerminalInjection(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	vc := srv.Client(t)
	ctx := context.Background()
	key := "rl:" + hostileText
	if err := vc.Do(ctx, vc.B().Set().Key(key).Value("200").Px(10*time.Minute).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	// Only a right-to-left override: no control byte to make it look odd.
	if err := vc.Do(ctx, vc.B().Set().Key("rl:\u202e9.8.7.6").Value("300").Px(10*time.Minute).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	bad := hostile.Start(t, func(a []string) string {
		switch a[0] {
		case "INFO":
			return hostile.Bulk("# Server\r\nredis_version:7" + hostileText + "\r\nserver_name:" + hostileText + "\r\n# Memory\r\nmaxmemory_policy:" + hostileText + "\r\n# Cluster\r\ncluster_enabled:0\r\n")
		case "GET", "PTTL":
			return "-ERR " + strings.NewReplacer("\r", "", "\n", "").Replace(hostileText) + " refused\r\n"
		}
		return ""
	})
	do := dostub.Start(t, dostub.Options{Token: token})
	do.AddDroplet(dostub.Droplet{ID: 77001, Name: "web" + hostileText, PrivateIP: "10.110.0.9"})
	do.AddRule(dostub.OxyClusterID, dostub.Rule{Type: "droplet", Value: "77001", Description: "desc" + hostileText})
	doEnv := map[string]string{"DIGITALOCEAN_ACCESS_TOKEN": token, "DIGITALOCEAN_API_URL": do.URL}

	go func() { // traffic for the tail, on a hostile channel
		for i := 0; i < 50; i++ {
			time.Sleep(100 * time.Millisecond)
			_ = vc.Do(ctx, vc.B().Publish().Channel("socket.io#/"+hostileText+"#").Message("\x93\xa1x\x82\xa4type\x02\xa4data\x92\xa5event\xa1x\x80").Build()).Error()
		}
	}()
	valkey := map[string]string{"OXYCTL_REDIS_URL": srv.URL}
	badValkey := map[string]string{"OXYCTL_REDIS_URL": "redis://" + bad.Addr}
	cases := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"limits list", valkey, []string{"limits", "list"}},
		{"limits stats", valkey, []string{"limits", "stats"}},
		{"limits reset dry run", valkey, []string{"limits", "reset", "--all", "--dry-run"}},
		{"pubsub tail", valkey, []string{"pubsub", "tail", "--count", "1", "--duration", "5s"}},
		{"health valkey INFO", badValkey, []string{"health", "--check", "valkey"}},
		{"Valkey error message", badValkey, []string{"limits", "get", "203.0.113.7"}},
		{"firewall list", doEnv, []string{"firewall", "list"}},
	}
	n := 0
	for _, tc := range cases {
		for _, tty := range []bool{false, true} {
			r := runAs(t, tty, tc.env, tc.args...)
			n++
			if r.code > 3 || strings.Contains(r.stderr, "panic") {
				t.Errorf("%s: exit %d %s", tc.name, r.code, r.stderr)
			}
			for stream, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
				if raw := rawControls(text, tty); len(raw) > 0 {
					t.Errorf("%s (tty %v): %s holds raw %v:\n%q", tc.name, tty, stream, raw, text)
				}
			}
			if !strings.Contains(r.stdout+r.stderr, `\u202e`) {
				t.Errorf("%s (tty %v): the planted text is not shown escaped:\n%q\n%q", tc.name, tty, r.stdout, r.stderr)
			}
		}
	}
	// JSON keeps the exact text.
	r := oxyctl(t, valkey, "limits", "list", "-o", "json")
	var doc struct{ Clients []struct{ Key string } }
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Clients) != 2 || doc.Clients[0].Key != "rl:\u202e9.8.7.6" || doc.Clients[1].Key != key {
		t.Fatalf("JSON: %v %+v", err, doc)
	}
	r = oxyctl(t, doEnv, "firewall", "list", "-o", "json")
	if !strings.Contains(r.stdout, "web") || !json.Valid([]byte(r.stdout)) {
		t.Fatalf("JSON firewall list: %s", r.stdout)
	}
	var fw any
	_ = json.Unmarshal([]byte(r.stdout), &fw)
	if !strings.Contains(fmt.Sprint(fw), "web"+hostileText) {
		t.Errorf("the Droplet name did not round-trip through JSON")
	}
	t.Logf("injection: %d runs, no raw control in any text output", n)
}
