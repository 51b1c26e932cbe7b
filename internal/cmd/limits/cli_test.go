package limits_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// deployment is a server (or cluster) with a client and its primaries.
type deployment struct {
	url       string
	client    valkey.Client
	primaries []valkey.Client
}

func standalone(t *testing.T) deployment {
	s := valkeytest.Start(t, valkeytest.Options{})
	c := s.Client(t)
	return deployment{url: s.URL, client: c, primaries: []valkey.Client{c}}
}

func cluster(t *testing.T) deployment {
	cl := valkeytest.StartCluster(t, valkeytest.Options{})
	d := deployment{url: cl.URL, client: cl.Client(t)}
	for _, n := range cl.Nodes {
		c, err := n.SingleClient()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		d.primaries = append(d.primaries, c)
	}
	return d
}

func (d deployment) do(t *testing.T, cmds valkey.Commands) {
	t.Helper()
	for len(cmds) > 0 {
		n := min(1000, len(cmds))
		for _, r := range d.client.DoMulti(context.Background(), cmds[:n]...) {
			if err := r.Error(); err != nil {
				t.Fatal(err)
			}
		}
		cmds = cmds[n:]
	}
}

// keys lists every key with its type, with plain SCANs on every primary.
func (d deployment) keys(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range d.primaries {
		var cur uint64
		for {
			e, err := p.Do(context.Background(), p.B().Scan().Cursor(cur).Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Fatal(err)
			}
			cmds := make(valkey.Commands, len(e.Elements))
			for i, k := range e.Elements {
				cmds[i] = p.B().Type().Key(k).Build()
			}
			for i, r := range p.DoMulti(context.Background(), cmds...) {
				typ, err := r.ToString()
				if err != nil {
					t.Fatal(err)
				}
				out[e.Elements[i]] = typ
			}
			if cur = e.Cursor; cur == 0 {
				break
			}
		}
	}
	return out
}

// expectDeleted checks that exactly want disappeared and all else survived.
func expectDeleted(t *testing.T, before, after map[string]string, want ...string) {
	t.Helper()
	var gone []string
	for k, typ := range before {
		if a, ok := after[k]; !ok {
			gone = append(gone, k)
		} else if a != typ {
			t.Errorf("%q changed type %s -> %s", k, typ, a)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%q appeared", k)
		}
	}
	sort.Strings(gone)
	sort.Strings(want)
	if fmt.Sprintf("%q", gone) != fmt.Sprintf("%q", want) {
		if len(gone) > 30 {
			gone = append(gone[:30], "...")
		}
		t.Fatalf("deleted %d keys %q\nwant %d %q", len(gone), gone, len(want), want)
	}
}

// seedBystanders writes 10,000 keys that no reset of "rl:" may delete.
func seedBystanders(t *testing.T, d deployment) {
	b := d.client.B()
	var cmds valkey.Commands
	str := func(k string) { cmds = append(cmds, b.Set().Key(k).Value("500").Px(10*time.Minute).Build()) }
	for i := 0; len(cmds) < 10000; i++ {
		switch i % 14 {
		case 0:
			str(fmt.Sprintf("rl2:x%d", i))
		case 1:
			str(fmt.Sprintf("rlx%d", i))
		case 2:
			cmds = append(cmds, b.Hset().Key(fmt.Sprintf("rl:hash:%d", i)).FieldValue().FieldValue("f", "1").Build())
		case 3:
			cmds = append(cmds, b.Sadd().Key(fmt.Sprintf("rl:set:%d", i)).Member("m").Build())
		case 4:
			cmds = append(cmds, b.Xadd().Key(fmt.Sprintf("rl:stream:%d", i)).Id("*").FieldValue().FieldValue("f", "v").Build())
		case 5:
			str(fmt.Sprintf("rl*:%d", i))
		case 6:
			str(fmt.Sprintf("rl?:%d[x]", i))
		case 7:
			str(fmt.Sprintf(`rl\:%d`, i))
		case 8:
			str(fmt.Sprintf("\xff\xfe%d*", i))
		case 9:
			str(fmt.Sprintf("rl-ünï:%d", i))
		case 10:
			cmds = append(cmds, b.Set().Key(fmt.Sprintf("rl:noexp:%d", i)).Value("500").Build()) // an anomaly
		case 11:
			str(fmt.Sprintf("RL:%d", i))
		case 12:
			str(fmt.Sprintf("x:rl:%d", i))
		case 13:
			cmds = append(cmds, b.Rpush().Key(fmt.Sprintf("rl:list:%d", i)).Element("e").Build())
		}
	}
	d.do(t, cmds)
}

var safetyCounters = map[string]int64{
	"rl:*": 200, "rl:?": 1, "rl:[a]": 151, `rl:\`: 2, "rl:\xff\xfe": 300, "rl:ünï": 3,
	"rl:203.0.113.7": 3, "rl:198.51.100.23": 152, "rl:2001:db8:abcd:1200::/56": 150,
}

func TestCLIResetDeletesOnlyTargets(t *testing.T) {
	for name, start := range map[string]func(*testing.T) deployment{"standalone": standalone, "cluster": cluster} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := start(t)
			seedBystanders(t, d)
			var cmds valkey.Commands
			for k, v := range safetyCounters {
				cmds = append(cmds, d.client.B().Set().Key(k).Value(fmt.Sprint(v)).Px(10*time.Minute).Build())
			}
			d.do(t, cmds)
			c := newCLI(t, d.url, "")
			before := d.keys(t)
			if len(before) < 10000+len(safetyCounters) {
				t.Fatalf("seeded %d keys", len(before))
			}

			// A literal star deletes the key rl:* only.
			out := c.mustRun(t, "limits", "reset", "*", "-o", "json")
			after := d.keys(t)
			expectDeleted(t, before, after, "rl:*")
			if !strings.Contains(string(out), `"deleted": [`+"\n"+`    "rl:*"`) {
				t.Errorf("reset '*': %s", out)
			}
			before = after

			// A bulk reset with no terminal and no --yes deletes nothing, exit 2.
			for _, args := range [][]string{{"limits", "reset", "--all"}, {"limits", "reset", "--blocked", "-o", "json"}} {
				code, stdout, stderr := c.run(t, args...)
				if code != 2 || stdout != "" || !strings.Contains(stderr, "--yes") {
					t.Fatalf("%q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
				}
			}
			code, _, stderr := c.run(t, "limits", "reset", "--all", "-o", "json")
			var jerr struct {
				Error struct{ Kind, Message string } `json:"error"`
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &jerr); err != nil || code != 2 || jerr.Error.Kind != "usage" {
				t.Fatalf("json refusal: exit %d, stderr %q", code, stderr)
			}
			after = d.keys(t)
			expectDeleted(t, before, after)

			// Not a counter: skipped, never deleted.
			out = c.mustRun(t, "limits", "reset", "hash:2", "noexp:10", "-o", "json")
			var res ratelimit.ResetResult
			if err := json.Unmarshal(out, &res); err != nil || len(res.Skipped) != 1 || res.Skipped[0].Key != "rl:hash:2" {
				t.Fatalf("reset hash:2: %s", out)
			}
			after = d.keys(t)
			expectDeleted(t, before, after, "rl:noexp:10") // a string under the prefix, named exactly
			before = after

			// Exact bytes that JSON cannot show.
			c.mustRun(t, "limits", "reset", "--key-base64", base64.StdEncoding.EncodeToString([]byte("rl:\xff\xfe")))
			after = d.keys(t)
			expectDeleted(t, before, after, "rl:\xff\xfe")
			before = after

			// --blocked deletes exactly the counters over the limit.
			c.mustRun(t, "limits", "reset", "--blocked", "--yes")
			after = d.keys(t)
			expectDeleted(t, before, after, "rl:[a]", "rl:198.51.100.23")
			before = after

			// --dry-run deletes nothing; --all --yes every remaining counter.
			c.mustRun(t, "limits", "reset", "--all", "--dry-run")
			expectDeleted(t, before, d.keys(t))
			c.mustRun(t, "limits", "reset", "--all", "--yes")
			expectDeleted(t, before, d.keys(t), "rl:?", `rl:\`, "rl:ünï", "rl:203.0.113.7", "rl:2001:db8:abcd:1200::/56")
		})
	}
}

func TestCLIExitCodes(t *testing.T) {
	d := standalone(t)
	d.do(t, valkey.Commands{d.client.B().Set().Key("rl:1.2.3.4").Value("5").Px(time.Minute).Build()})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "redis://" + l.Addr().String()
	l.Close()

	ok := newCLI(t, d.url, "")
	tests := []struct {
		c    *cli
		args []string
		want int
	}{
		{ok, []string{"limits", "list"}, 0},
		{ok, []string{"limits", "get", "1.2.3.4", "9.9.9.9"}, 0},
		{ok, []string{"limits", "stats", "-o", "json"}, 0},
		{ok, []string{"limits", "get"}, 2},
		{ok, []string{"limits", "list", "--limiter", "nope"}, 2},
		{ok, []string{"limits", "list", "--sort", "size"}, 2},
		{ok, []string{"limits", "reset"}, 2},
		{ok, []string{"limits", "nope"}, 2},
		{newCLI(t, "", ""), []string{"limits", "list"}, 2},
		{newCLI(t, closed, ""), []string{"limits", "list", "--timeout", "2s"}, 3},
		{newCLI(t, closed, ""), []string{"limits", "reset", "1.2.3.4", "--timeout", "2s"}, 3},
	}
	for _, tt := range tests {
		code, stdout, stderr := tt.c.run(t, tt.args...)
		if code != tt.want {
			t.Errorf("%q: exit %d, want %d\nstderr: %s", tt.args, code, tt.want, stderr)
		}
		if code != 0 && stdout != "" {
			t.Errorf("%q: stdout on failure: %q", tt.args, stdout)
		}
	}
}

// TestCLIInterrupt cancels a slow scan, as Ctrl-C does: exit 130, no output.
// A bulk reset with --yes deletes while it scans, so an interrupted one says
// on stderr exactly how many counters it had deleted.
func TestCLIInterrupt(t *testing.T) {
	d := standalone(t)
	var cmds valkey.Commands
	for i := range 5000 {
		cmds = append(cmds, d.client.B().Set().Key(fmt.Sprintf("rl:c%d", i)).Value("1").Px(time.Minute).Build())
	}
	cmds = append(cmds, d.client.B().Set().Key("rl2:keep").Value("1").Build())
	d.do(t, cmds)
	c := newCLI(t, d.url, "")
	for _, args := range [][]string{
		{"limits", "list", "--pace", "200"},
		{"limits", "reset", "--all", "--yes", "--pace", "200"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		r := clitest.Run(ctx, app.Run, c.env, "", args...)
		cancel()
		if r.Code != 130 || r.Stdout != "" {
			t.Errorf("%q: exit %d, stdout %q; want 130 and nothing", args, r.Code, r.Stdout)
		}
		if d := r.Elapsed; d > 5*time.Second {
			t.Errorf("%q: took %s to stop", args, d)
		}
		n, err := d.client.Do(context.Background(), d.client.B().Dbsize().Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		deleted := 5001 - n
		if args[1] == "list" && deleted != 0 {
			t.Fatalf("list deleted %d keys", deleted)
		}
		if deleted > 0 {
			// "stopped after deleting N counters[; M more may have been deleted ...]"
			var n, m int64
			msg := r.Stderr
			if i := strings.Index(msg, "stopped after deleting "); i >= 0 {
				fmt.Sscanf(msg[i:], "stopped after deleting %d", &n)
				if j := strings.Index(msg, "; "); j > i {
					fmt.Sscanf(msg[j:], "; %d more", &m)
				}
			}
			if deleted < n || deleted > n+m {
				t.Errorf("%q: %d keys deleted, stderr %q", args, deleted, msg)
			}
		}
		if deleted >= 5000 {
			t.Errorf("%q: the interrupted reset deleted everything (%d)", args, deleted)
		}
	}
	if n, _ := d.client.Do(context.Background(), d.client.B().Exists().Key("rl2:keep").Build()).AsInt64(); n != 1 {
		t.Fatal("rl2:keep was deleted")
	}
}
