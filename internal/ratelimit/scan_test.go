package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// seedSmall writes a handful of counters and one key of each anomaly.
func seedSmall(t *testing.T, tp topo) {
	c := tp.client
	do(t, c, valkey.Commands{
		setCounter(c, "rl:203.0.113.7", 3, 899*time.Second),
		setCounter(c, "rl:198.51.100.23", 152, 800*time.Second),
		setCounter(c, "rl:2001:db8:abcd:1200::/56", 150, 700*time.Second),
		setCounter(c, "rl:10.0.0.1", 1, 600*time.Second),
		setCounter(c, "rl:zero", 0, 500*time.Second),
		c.B().Set().Key("rl:noexp").Value("5").Build(),
		c.B().Set().Key("rl:text").Value("abc").Px(100 * time.Second).Build(),
		c.B().Set().Key("rl:float").Value("1.5").Px(100 * time.Second).Build(),
		c.B().Set().Key("rl:neg").Value("-1").Px(100 * time.Second).Build(),
		c.B().Set().Key("rl:long").Value("5").Px(2 * time.Hour).Build(),
		c.B().Hset().Key("rl:hash").FieldValue().FieldValue("f", "1").Build(),
		setCounter(c, "rl2:x", 9999, time.Minute),
		setCounter(c, "rlx", 9999, time.Minute),
		setCounter(c, "rl-auth:1.2.3.4", 9999, time.Minute),
	})
}

func TestList(t *testing.T) {
	t.Parallel()
	bothTopologies(t, func(t *testing.T, tp topo) {
		seedSmall(t, tp)
		l := DefaultLimiter()
		list := func(o ListOptions) ListResult {
			t.Helper()
			o.Scan.Now = fixedNow
			res, err := List(ctxT(t), tp.primaries, l, o)
			if err != nil {
				t.Fatalf("List(%+v): %v", o, err)
			}
			return res
		}
		clients := func(res ListResult) []string {
			var out []string
			for _, r := range res.Clients {
				out = append(out, r.Client)
			}
			return out
		}

		res := list(ListOptions{Top: 20})
		if res.ScannedKeys != 11 {
			t.Errorf("scanned_keys = %d, want 11", res.ScannedKeys)
		}
		if res.Limiter != (LimiterInfo{Name: "api", Prefix: "rl:", Limit: 150, WindowMS: 900000}) {
			t.Errorf("limiter = %+v", res.Limiter)
		}
		want := []string{"198.51.100.23", "2001:db8:abcd:1200::/56", "203.0.113.7", "10.0.0.1", "zero"}
		if got := clients(res); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("clients by hits = %q, want %q", got, want)
		}
		wantHits := map[string][4]int64{ // hits, remaining, blocked(0/1), pttl set
			"198.51.100.23":           {152, 0, 1, 800000},
			"2001:db8:abcd:1200::/56": {150, 0, 0, 700000},
			"203.0.113.7":             {3, 147, 0, 899000},
			"10.0.0.1":                {1, 149, 0, 600000},
			"zero":                    {0, 150, 0, 500000},
		}
		for _, r := range res.Clients {
			w := wantHits[r.Client]
			if r.Hits != w[0] || r.Remaining != w[1] || r.Blocked != (w[2] == 1) {
				t.Errorf("%s: hits %d remaining %d blocked %v, want %v", r.Client, r.Hits, r.Remaining, r.Blocked, w)
			}
			if r.Key != "rl:"+r.Client || r.KeyBase64 != "" {
				t.Errorf("%s: key %q key_base64 %q", r.Client, r.Key, r.KeyBase64)
			}
			if r.ResetInMS > w[3] || r.ResetInMS < w[3]-10000 {
				t.Errorf("%s: reset_in_ms %d, want within 10s below %d", r.Client, r.ResetInMS, w[3])
			}
			if !r.ResetsAt.Equal(fixedNow().Add(time.Duration(r.ResetInMS) * time.Millisecond)) {
				t.Errorf("%s: resets_at %s != now + reset_in_ms", r.Client, r.ResetsAt)
			}
		}
		wantAnoms := []Anomaly{
			{Key: "rl:float", Problem: ProblemNotInteger},
			{Key: "rl:hash", Problem: ProblemWrongType},
			{Key: "rl:long", Problem: ProblemExpiryTooLong},
			{Key: "rl:neg", Problem: ProblemNegative},
			{Key: "rl:noexp", Problem: ProblemNoExpiry},
			{Key: "rl:text", Problem: ProblemNotInteger},
		}
		if fmt.Sprint(res.Anomalies) != fmt.Sprint(wantAnoms) || res.AnomalyCount != 6 {
			t.Errorf("anomalies = %v (count %d), want %v", res.Anomalies, res.AnomalyCount, wantAnoms)
		}

		if got := clients(list(ListOptions{Top: 2})); fmt.Sprint(got) != fmt.Sprint(want[:2]) {
			t.Errorf("top 2 = %q", got)
		}
		if r := list(ListOptions{Top: 2}); r.MatchedClients != 5 {
			t.Errorf("matched_clients = %d, want 5", r.MatchedClients)
		}
		if got := clients(list(ListOptions{BlockedOnly: true})); fmt.Sprint(got) != "[198.51.100.23]" {
			t.Errorf("blocked = %q", got)
		}
		if got := clients(list(ListOptions{MinHits: 3})); len(got) != 3 {
			t.Errorf("min-hits 3 = %q", got)
		}
		if got := clients(list(ListOptions{Sort: SortTTL})); fmt.Sprint(got) != "[zero 10.0.0.1 2001:db8:abcd:1200::/56 198.51.100.23 203.0.113.7]" {
			t.Errorf("by ttl = %q", got)
		}
		if got := clients(list(ListOptions{Sort: SortClient, Top: 3})); fmt.Sprint(got) != "[10.0.0.1 198.51.100.23 2001:db8:abcd:1200::/56]" {
			t.Errorf("by client, top 3 = %q", got)
		}
		if _, err := List(ctxT(t), tp.primaries, l, ListOptions{Sort: "size"}); err == nil {
			t.Error("unknown sort order accepted")
		}
		empty, err := List(ctxT(t), tp.primaries, Limiter{Prefix: "none:", Name: "x"}.WithDefaults(), ListOptions{})
		if err != nil || empty.Clients == nil || empty.Anomalies == nil || len(empty.Clients) != 0 {
			t.Errorf("empty limiter: %+v, %v (lists must be [] not null)", empty, err)
		}
	})
}

// TestListMany checks top-N selection against a brute-force answer over
// enough keys to need many SCAN calls and pipelines on every primary.
func TestListMany(t *testing.T) {
	t.Parallel()
	bothTopologies(t, func(t *testing.T, tp topo) {
		const n = 20000
		rng := rand.New(rand.NewPCG(1, 2))
		hits := make(map[string]int64, n)
		var cmds valkey.Commands
		for i := range n {
			client := fmt.Sprintf("10.%d.%d.%d", i/65536, (i/256)%256, i%256)
			h := rng.Int64N(400) + 1
			hits[client] = h
			cmds = append(cmds, setCounter(tp.client, "rl:"+client, h, time.Duration(rng.Int64N(890)+10)*time.Second))
		}
		do(t, tp.client, cmds)

		var progress []int64
		o := ListOptions{Top: 20, Scan: ScanOptions{Count: 500, Progress: func(s int64) { progress = append(progress, s) }}}
		res, err := List(ctxT(t), tp.primaries, DefaultLimiter(), o)
		if err != nil {
			t.Fatal(err)
		}
		if res.ScannedKeys != n || res.MatchedClients != n {
			t.Fatalf("scanned %d matched %d, want %d", res.ScannedKeys, res.MatchedClients, n)
		}
		all := sortedKeys(hits)
		sort.SliceStable(all, func(i, j int) bool {
			if hits[all[i]] != hits[all[j]] {
				return hits[all[i]] > hits[all[j]]
			}
			return "rl:"+all[i] < "rl:"+all[j]
		})
		for i, r := range res.Clients {
			if r.Client != all[i] || r.Hits != hits[all[i]] {
				t.Fatalf("top[%d] = %s (%d), want %s (%d)", i, r.Client, r.Hits, all[i], hits[all[i]])
			}
		}
		if len(res.Clients) != 20 {
			t.Fatalf("top returned %d", len(res.Clients))
		}
		if len(progress) < 2 || progress[len(progress)-1] != n {
			t.Errorf("progress calls %d, last %v", len(progress), progress[len(progress)-1:])
		}
		for i := 1; i < len(progress); i++ {
			if progress[i] < progress[i-1] {
				t.Fatalf("progress went back: %v", progress[i-1:i+1])
			}
		}

		everything, err := List(ctxT(t), tp.primaries, DefaultLimiter(), ListOptions{Top: 0, Sort: SortClient})
		if err != nil {
			t.Fatal(err)
		}
		if len(everything.Clients) != n {
			t.Fatalf("--top 0 returned %d clients, want %d", len(everything.Clients), n)
		}
		for i := 1; i < n; i++ {
			if everything.Clients[i-1].Key >= everything.Clients[i].Key {
				t.Fatalf("not sorted by client at %d", i)
			}
		}
	})
}

func TestListEscapesPrefix(t *testing.T) {
	tp := startStandalone(t)
	c := tp.client
	do(t, c, valkey.Commands{
		setCounter(c, "rl[1]:a", 1, time.Minute),
		setCounter(c, "rl1:b", 1, time.Minute),
		setCounter(c, "rl]:c", 1, time.Minute),
		setCounter(c, `rl\[1]:d`, 1, time.Minute),
		setCounter(c, "rl*:e", 1, time.Minute),
		setCounter(c, "rlX:f", 1, time.Minute),
	})
	for prefix, want := range map[string]string{"rl[1]:": "rl[1]:a", "rl*:": "rl*:e", `rl\[1]:`: `rl\[1]:d`} {
		l := DefaultLimiter()
		l.Prefix = prefix
		res, err := List(ctxT(t), tp.primaries, l, ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.ScannedKeys != 1 || len(res.Clients) != 1 || res.Clients[0].Key != want {
			t.Errorf("prefix %q: scanned %d, clients %+v, want only %q", prefix, res.ScannedKeys, res.Clients, want)
		}
	}
}

func TestListBinaryKeys(t *testing.T) {
	tp := startStandalone(t)
	c := tp.client
	do(t, c, valkey.Commands{
		setCounter(c, "rl:\xff\xfe\x00", 200, time.Minute),
		setCounter(c, "rl:ünï", 5, time.Minute),
	})
	res, err := List(ctxT(t), tp.primaries, DefaultLimiter(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Clients) != 2 {
		t.Fatalf("clients = %+v", res.Clients)
	}
	bin := res.Clients[0]
	if bin.Key != "rl:\xff\xfe\x00" || bin.Client != "\xff\xfe\x00" || bin.KeyBase64 != "cmw6//4A" || !bin.Blocked {
		t.Errorf("binary record = %+v", bin)
	}
	if u := res.Clients[1]; u.Key != "rl:ünï" || u.KeyBase64 != "" {
		t.Errorf("unicode record = %+v", u)
	}
}

func TestListCancel(t *testing.T) {
	tp := startStandalone(t)
	var cmds valkey.Commands
	for i := range 30000 {
		cmds = append(cmds, setCounter(tp.client, fmt.Sprintf("rl:c%d", i), 1, time.Minute))
	}
	do(t, tp.client, cmds)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	// A slow pace makes the scan take ~30 s unless cancellation works.
	_, err := List(ctx, tp.primaries, DefaultLimiter(), ListOptions{Scan: ScanOptions{Pace: 1000, Progress: func(int64) { cancel() }}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cancel took %s", d)
	}
	// No goroutine of this package may outlive the call (valkey-go's own
	// connection goroutines may: they belong to the client).
	var stacks string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if leaked(stacks) == 0 {
			return
		}
	}
	t.Errorf("%d goroutines of the scan still run after cancel:\n%s", leaked(stacks), stacks)
}

// leaked counts goroutines with a frame in this package other than tests.
func leaked(stacks string) int {
	n := 0
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "oxyctl/internal/ratelimit.") && !strings.Contains(g, "ratelimit.Test") {
			n++
		}
	}
	return n
}

func TestListPace(t *testing.T) {
	tp := startStandalone(t)
	var cmds valkey.Commands
	for i := range 3000 {
		cmds = append(cmds, setCounter(tp.client, fmt.Sprintf("rl:c%d", i), 1, time.Minute))
	}
	do(t, tp.client, cmds)
	start := time.Now()
	res, err := List(ctxT(t), tp.primaries, DefaultLimiter(), ListOptions{Scan: ScanOptions{Pace: 10000}})
	if err != nil || res.ScannedKeys != 3000 {
		t.Fatalf("scanned %d, %v", res.ScannedKeys, err)
	}
	// 3,000 keys at 10,000 keys/s: the last SCAN may not wait, so >= ~0.2 s.
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("paced scan of 3000 keys at 10000/s took %s", d)
	}
}

func TestListUnreachable(t *testing.T) {
	s := startStandalone(t)
	s.server.Stop()
	_, err := List(ctxT(t), s.primaries, DefaultLimiter(), ListOptions{})
	if code, kind := apperr.Classify(err); code != apperr.ExitRuntime || kind != apperr.KindConnect {
		t.Fatalf("scan of a stopped server: %v (exit %d, kind %q), want a connect error", err, code, kind)
	}
}

func TestCountFor(t *testing.T) {
	o := ScanOptions{}.withDefaults()
	tests := []struct {
		rtt  time.Duration
		pace int
		want int
	}{
		{100 * time.Microsecond, 0, 1000},
		{5 * time.Millisecond, 0, 5000},
		{20 * time.Millisecond, 0, 10000},
		{20 * time.Millisecond, 2000, 20},
		{20 * time.Millisecond, 200000, 2000},
		{0, 50, 10},
	}
	for _, tt := range tests {
		o.Pace = tt.pace
		if got := o.countFor(tt.rtt); got != tt.want {
			t.Errorf("countFor(%s, pace %d) = %d, want %d", tt.rtt, tt.pace, got, tt.want)
		}
	}
}

func TestHashSlot(t *testing.T) {
	for key, want := range map[string]uint16{"foo": 12182, "bar": 5061, "123456789": 12739, "{user1000}.following": 3443, "": 0} {
		if got := HashSlot(key); got != want {
			t.Errorf("HashSlot(%q) = %d, want %d", key, got, want)
		}
	}
	if HashSlot("{user1000}.following") != HashSlot("{user1000}.followers") {
		t.Error("hash tags ignored")
	}
	// Against the server's own CLUSTER KEYSLOT, binary keys included.
	tp := startCluster(t)
	rng := rand.New(rand.NewPCG(3, 4))
	keys := []string{"{}x", "{x", "}{a}", "{a}{b}", "rl:2001:db8::/56"}
	var cmds valkey.Commands
	for _, k := range keys {
		cmds = append(cmds, tp.client.B().ClusterKeyslot().Key(k).Build())
	}
	for i := range 500 {
		b := make([]byte, 1+rng.IntN(20))
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		if i%5 == 0 {
			b = append([]byte("{"+fmt.Sprint(i%7)+"}"), b...)
		}
		keys = append(keys, string(b))
		cmds = append(cmds, tp.client.B().ClusterKeyslot().Key(string(b)).Build())
	}
	for i, r := range tp.primaries[0].Client.DoMulti(ctxT(t), cmds...) {
		want, err := r.AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		if got := HashSlot(keys[i]); int64(got) != want {
			t.Errorf("HashSlot(%q) = %d, server says %d", keys[i], got, want)
		}
	}
	if runs := slotRuns([]string{"a{1}", "c{1}", "b{2}", "e{2}", "f{2}", "d{1}", "x{3}"}); fmt.Sprint(runs) != "[2 3 1 1]" {
		t.Errorf("slotRuns = %v, want [2 3 1 1]", runs)
	}
	if runs := slotRuns(nil); len(runs) != 0 {
		t.Errorf("slotRuns(nil) = %v", runs)
	}
}

// crc16 (two bytes a step) agrees with the textbook bytewise CRC16-XMODEM.
func TestCRC16(t *testing.T) {
	bytewise := func(s string) uint16 {
		var crc uint16
		for i := 0; i < len(s); i++ {
			crc ^= uint16(s[i]) << 8
			for range 8 {
				if crc&0x8000 != 0 {
					crc = crc<<1 ^ 0x1021
				} else {
					crc <<= 1
				}
			}
		}
		return crc
	}
	if got := crc16("123456789"); got != 0x31c3 {
		t.Fatalf("crc16(123456789) = %#x, want the XMODEM check value 0x31c3", got)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for n := range 200 {
		b := make([]byte, n%41)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		if got, want := crc16(string(b)), bytewise(string(b)); got != want {
			t.Fatalf("crc16(%q) = %#x, bytewise %#x", b, got, want)
		}
	}
}

// Over TLS with a password (the scan's own connections authenticate and
// verify as the client does) a listing is the same as over plaintext.
func TestListTLSPassword(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: "tls-Pa55word"})
	secure := connect(t, "tls", valkeyclient.Options{URL: srv.URL, CAFile: srv.CAFile})
	plain := startStandalone(t)
	var got [2]string
	for i, tp := range []topo{secure, plain} {
		seedSmall(t, tp)
		res, err := List(ctxT(t), tp.primaries, DefaultLimiter(), ListOptions{Scan: ScanOptions{Now: fixedNow}})
		if err != nil {
			t.Fatalf("List over %s: %v", tp.name, err)
		}
		if len(res.Clients) != 5 || res.AnomalyCount != 6 {
			t.Fatalf("List over %s: %d clients, %d anomalies; want 5 and 6", tp.name, len(res.Clients), res.AnomalyCount)
		}
		for j := range res.Clients { // the TTLs tick between the two seeds
			if r := &res.Clients[j]; r.ResetInMS <= 0 || r.ResetInMS > 900_000 {
				t.Fatalf("over %s: %+v has no plausible reset_in_ms", tp.name, *r)
			}
			res.Clients[j].ResetInMS, res.Clients[j].ResetsAt = 0, time.Time{}
		}
		got[i] = fmt.Sprintf("%+v", res)
	}
	if got[0] != got[1] {
		t.Errorf("over TLS:\n%s\nover plaintext:\n%s", got[0], got[1])
	}
}
