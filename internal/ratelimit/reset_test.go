package ratelimit

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/valkey-io/valkey-go"
)

// seedSafety writes 10,000 keys that no reset of limiter "rl:" may touch,
// plus the counters it may, and returns the counters (key -> hits).
//
// The bystanders: other prefixes that an unescaped or sloppy pattern would
// match (rl2:, rlx, rl*:, rl?:...), keys with glob characters, binary and
// unicode bytes, and keys under rl: that are not counters: hashes, sets,
// lists, sorted sets, streams, and strings that are anomalies.
func seedSafety(t *testing.T, tp topo) map[string]int64 {
	t.Helper()
	c := tp.client
	var cmds valkey.Commands
	str := func(k string) { cmds = append(cmds, setCounter(c, k, 999, 10*time.Minute)) }
	unrelated := 0
	for i := 0; len(cmds) < 10000; i++ {
		switch i % 20 {
		case 0:
			str(fmt.Sprintf("rl2:x%d", i))
		case 1:
			str(fmt.Sprintf("rlx%d", i))
		case 2:
			cmds = append(cmds, c.B().Hset().Key(fmt.Sprintf("rl:hash:%d", i)).FieldValue().FieldValue("f", "1").Build())
		case 3:
			cmds = append(cmds, c.B().Sadd().Key(fmt.Sprintf("rl:set:%d", i)).Member("m").Build())
		case 4:
			cmds = append(cmds, c.B().Xadd().Key(fmt.Sprintf("rl:stream:%d", i)).Id("*").FieldValue().FieldValue("f", "v").Build())
		case 5:
			cmds = append(cmds, c.B().Rpush().Key(fmt.Sprintf("rl:list:%d", i)).Element("e").Build())
		case 6:
			cmds = append(cmds, c.B().Zadd().Key(fmt.Sprintf("rl:zset:%d", i)).ScoreMember().ScoreMember(1, "m").Build())
		case 7:
			str(fmt.Sprintf("rl*:%d", i))
		case 8:
			str(fmt.Sprintf("rl?:%d", i))
		case 9:
			str(fmt.Sprintf("rl[:]%d", i))
		case 10:
			str(fmt.Sprintf(`rl\:%d`, i))
		case 11:
			str(fmt.Sprintf("*%d", i))
		case 12:
			str(fmt.Sprintf("\xff\xfe%d\x00", i))
		case 13:
			str(fmt.Sprintf("rl-ünï:%d", i))
		case 14:
			str(fmt.Sprintf("RL:%d", i))
		case 15:
			str(fmt.Sprintf(" rl:%d", i))
		case 16: // anomalies under rl: (strings that are not valid counters)
			cmds = append(cmds, c.B().Set().Key(fmt.Sprintf("rl:noexp:%d", i)).Value("5").Build())
		case 17:
			cmds = append(cmds, c.B().Set().Key(fmt.Sprintf("rl:text:%d", i)).Value("x").Px(time.Minute).Build())
		case 18:
			str(fmt.Sprintf("rl%d", i))
		case 19:
			str(fmt.Sprintf("x:rl:%d", i))
		}
		unrelated++
	}
	counters := map[string]int64{
		"rl:*":                       200,
		"rl:?":                       3,
		"rl:[a]":                     151,
		"rl:[":                       1,
		"rl:]":                       2,
		`rl:\`:                       160,
		`rl:\*`:                      4,
		"rl:\xff\xfe":                300,
		"rl:ünï":                     5,
		"rl:203.0.113.7":             3,
		"rl:198.51.100.23":           152,
		"rl:2001:db8:abcd:1200::/56": 150,
		"rl:192.0.2.10":              400,
		"rl:hash":                    7, // a counter whose client looks like the hashes' prefix
	}
	for i := range 200 {
		counters[fmt.Sprintf("rl:10.1.%d.%d", i/256, i%256)] = int64(i)
	}
	for k, v := range counters {
		cmds = append(cmds, setCounter(c, k, v, 10*time.Minute))
	}
	do(t, c, cmds)
	return counters
}

// checkOnlyDeleted asserts that exactly `deleted` disappeared between the
// two snapshots and every other key survived with its type.
func checkOnlyDeleted(t *testing.T, before, after map[string]string, deleted []string) {
	t.Helper()
	gone, added := diffKeys(before, after)
	want := append([]string(nil), deleted...)
	sort.Strings(want)
	if len(added) > 0 {
		t.Errorf("keys appeared: %s", quoteAll(added))
	}
	if fmt.Sprint(gone) != fmt.Sprint(want) {
		t.Fatalf("deleted %d keys, want %d\n gone: %s\n want: %s", len(gone), len(want), quoteAll(gone), quoteAll(want))
	}
	for k, typ := range after {
		if before[k] != typ {
			t.Errorf("%q changed type %s -> %s", k, before[k], typ)
		}
	}
}

func TestResetDeletesOnlyTargets(t *testing.T) {
	t.Parallel()
	bothTopologies(t, func(t *testing.T, tp topo) {
		counters := seedSafety(t, tp)
		l := DefaultLimiter()
		ctx := ctxT(t)
		before := allKeys(t, tp)
		if len(before) < 10000+len(counters) {
			t.Fatalf("seeded only %d keys", len(before))
		}

		// Explicit clients, including glob characters, binary, an IPv6
		// address that maps to its /56 key, and clients that do not exist.
		t.Run("clients", func(t *testing.T) {
			args := []string{"*", "[a]", `\`, "\xff\xfe", "ünï", "2001:db8:abcd:12ff::1", "::ffff:192.0.2.10", "198.51.100.99", "hash:2", "noexp:16"}
			keys := make([]string, len(args))
			for i, a := range args {
				keys[i] = KeyFor(l, a)
			}
			dry, err := Reset(ctx, tp.client, l, keys, true)
			if err != nil {
				t.Fatal(err)
			}
			checkOnlyDeleted(t, before, allKeys(t, tp), nil)
			wantDeleted := []string{"rl:*", "rl:[a]", `rl:\`, "rl:\xff\xfe", "rl:ünï", "rl:2001:db8:abcd:1200::/56", "rl:192.0.2.10", "rl:noexp:16"}
			if fmt.Sprint(dry.Deleted) != fmt.Sprint(wantDeleted) || !dry.DryRun {
				t.Fatalf("dry run deleted = %q, want %q", dry.Deleted, wantDeleted)
			}
			res, err := Reset(ctx, tp.client, l, keys, false)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(res.Deleted) != fmt.Sprint(wantDeleted) {
				t.Errorf("deleted = %q, want %q", res.Deleted, wantDeleted)
			}
			if fmt.Sprint(res.NotFound) != "[rl:198.51.100.99]" {
				t.Errorf("not_found = %q", res.NotFound)
			}
			if len(res.Skipped) != 1 || res.Skipped[0].Key != "rl:hash:2" || res.Skipped[0].Problem != ProblemWrongType {
				t.Errorf("skipped = %+v, want rl:hash:2 wrong_type", res.Skipped)
			}
			after := allKeys(t, tp)
			checkOnlyDeleted(t, before, after, wantDeleted)
			before = after
			for _, k := range wantDeleted {
				delete(counters, k)
			}
		})

		t.Run("literal star", func(t *testing.T) {
			do(t, tp.client, valkey.Commands{setCounter(tp.client, "rl:*", 9, time.Minute)})
			before = allKeys(t, tp)
			res, err := Reset(ctx, tp.client, l, []string{KeyFor(l, "*")}, false)
			if err != nil || fmt.Sprint(res.Deleted) != "[rl:*]" {
				t.Fatalf("reset '*' = %+v, %v", res, err)
			}
			after := allKeys(t, tp)
			checkOnlyDeleted(t, before, after, []string{"rl:*"})
			before = after
		})

		t.Run("blocked", func(t *testing.T) {
			sel, err := SelectBulk(ctx, tp.primaries, l, true, ScanOptions{Count: 300})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for k, v := range counters {
				if v > 150 {
					want = append(want, k)
				}
			}
			sort.Strings(want)
			got := append([]string(nil), sel.Keys...)
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("blocked selection = %q, want %q", got, want)
			}
			if len(sel.Sample) == 0 || sel.Sample[0].Hits < sel.Sample[len(sel.Sample)-1].Hits {
				t.Errorf("sample = %+v", sel.Sample)
			}
			if _, err := ResetFound(ctx, tp.client, sel.Keys, true); err != nil {
				t.Fatal(err)
			}
			checkOnlyDeleted(t, before, allKeys(t, tp), nil)
			res, err := ResetFound(ctx, tp.client, sel.Keys, false)
			if err != nil || len(res.Deleted) != len(want) || len(res.NotFound) != 0 {
				t.Fatalf("reset blocked = %d deleted, %d not found, %v", len(res.Deleted), len(res.NotFound), err)
			}
			after := allKeys(t, tp)
			checkOnlyDeleted(t, before, after, want)
			before = after
			for _, k := range want {
				delete(counters, k)
			}
		})

		t.Run("all", func(t *testing.T) {
			// Streamed: each batch is unlinked as soon as the scan finds it.
			sel, res, err := ResetBulk(ctx, tp.client, tp.primaries, l, false, ScanOptions{Count: 200, Batch: 50})
			if err != nil {
				t.Fatal(err)
			}
			want := sortedKeys(counters)
			if fmt.Sprint(sel.Keys) != fmt.Sprint(want) || fmt.Sprint(res.Deleted) != fmt.Sprint(want) || len(res.NotFound) != 0 {
				t.Fatalf("reset all: selected %d, deleted %d, not found %d; want %d", len(sel.Keys), len(res.Deleted), len(res.NotFound), len(want))
			}
			after := allKeys(t, tp)
			checkOnlyDeleted(t, before, after, want)
			// What is left under rl: are the bystanders: other types and anomalies.
			for k, typ := range after {
				if strings.HasPrefix(k, "rl:") && typ == "string" && !strings.HasPrefix(k, "rl:noexp:") && !strings.HasPrefix(k, "rl:text:") {
					t.Errorf("counter %q survived --all", k)
				}
			}
		})
	})
}

func TestResetRefusesOtherPrefix(t *testing.T) {
	tp := startStandalone(t)
	do(t, tp.client, valkey.Commands{setCounter(tp.client, "rl2:x", 1, time.Minute)})
	_, err := Reset(ctxT(t), tp.client, DefaultLimiter(), []string{"rl:a", "rl2:x"}, false)
	var ue *apperr.UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want UsageError", err)
	}
	if n, _ := tp.client.Do(ctxT(t), tp.client.B().Exists().Key("rl2:x").Build()).AsInt64(); n != 1 {
		t.Fatal("rl2:x was deleted")
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	bothTopologies(t, func(t *testing.T, tp topo) {
		seedSmall(t, tp)
		res, err := Get(ctxT(t), tp.client, DefaultLimiter(),
			[]string{"198.51.100.23", "2001:db8:abcd:12ff::1", "2001:DB8:ABCD:1234:5678::9", "203.0.113.99", "hash", "noexp", "::ffff:203.0.113.7"}, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res.Clients {
			got = append(got, fmt.Sprintf("%s<%s>=%d/%d/%v", r.Client, r.Query, r.Hits, r.Remaining, r.Blocked))
		}
		want := "[198.51.100.23<198.51.100.23>=152/0/true 2001:db8:abcd:1200::/56<2001:db8:abcd:12ff::1>=150/0/false 203.0.113.7<::ffff:203.0.113.7>=3/147/false]"
		if fmt.Sprint(got) != want {
			t.Errorf("clients = %s\nwant %s", got, want)
		}
		if len(res.NotFound) != 1 || res.NotFound[0] != (Missing{Query: "203.0.113.99", Client: "203.0.113.99", Key: "rl:203.0.113.99"}) {
			t.Errorf("not_found = %+v", res.NotFound)
		}
		if fmt.Sprint(res.Anomalies) != "[{rl:hash  wrong_type} {rl:noexp  no_expiry}]" {
			t.Errorf("anomalies = %v", res.Anomalies)
		}
		empty, err := Get(ctxT(t), tp.client, DefaultLimiter(), nil, nil)
		if err != nil || empty.Clients == nil || empty.NotFound == nil || empty.Anomalies == nil {
			t.Errorf("empty get = %+v, %v", empty, err)
		}
	})
}

func TestStats(t *testing.T) {
	t.Parallel()
	bothTopologies(t, func(t *testing.T, tp topo) {
		seedSmall(t, tp)
		res, err := Stats(ctxT(t), tp.client, tp.primaries, DefaultLimiter(), ScanOptions{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		if res.Clients != 5 || res.Blocked != 1 || res.TotalHits != 306 || res.ScannedKeys != 11 || res.AnomalyCount != 6 {
			t.Errorf("totals = clients %d blocked %d hits %d scanned %d anomalies %d", res.Clients, res.Blocked, res.TotalHits, res.ScannedKeys, res.AnomalyCount)
		}
		var counts []int64
		for _, b := range res.Histogram {
			counts = append(counts, b.Clients)
		}
		if fmt.Sprint(counts) != "[3 0 0 1 1 0]" {
			t.Errorf("histogram = %v", counts)
		}
		if len(res.Top) != 5 || res.Top[0].Client != "198.51.100.23" {
			t.Errorf("top = %+v", res.Top)
		}
		m := res.Memory
		if !m.Estimate || m.SampledKeys != 5 || m.Error != "" || m.EstimatedBytes < 5*20 || m.EstimatedBytes > 5*200 {
			t.Errorf("memory = %+v", m)
		}
	})
}

// A confirmed bulk reset deletes only what is still a string when it
// deletes: a counter that became a hash, or vanished, while the prompt
// waited is left alone or reported not found. (Before: ResetFound unlinked
// every key the scan had found, whatever it had become.)
func TestResetCheckedAfterThePrompt(t *testing.T) {
	t.Parallel()
	bothTopologies(t, func(t *testing.T, tp topo) {
		ctx := ctxT(t)
		l := DefaultLimiter()
		var cmds valkey.Commands
		for i := 0; i < 600; i++ {
			cmds = append(cmds, setCounter(tp.client, fmt.Sprintf("rl:10.0.%d.%d", i/250, i%250), int64(i), 10*time.Minute))
		}
		do(t, tp.client, cmds)
		sel, err := SelectBulk(ctx, tp.primaries, l, false, ScanOptions{Count: 100})
		if err != nil || len(sel.Keys) != 600 {
			t.Fatalf("selected %d, %v", len(sel.Keys), err)
		}
		// While the operator reads the prompt: one counter is replaced by a
		// hash, one expires.
		do(t, tp.client, valkey.Commands{
			tp.client.B().Del().Key("rl:10.0.0.7").Build(),
			tp.client.B().Hset().Key("rl:10.0.0.7").FieldValue().FieldValue("f", "1").Build(),
			tp.client.B().Del().Key("rl:10.0.1.9").Build(),
		})
		before := allKeys(t, tp)
		res, err := ResetChecked(ctx, tp.client, sel.Keys, tp.name == "cluster")
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Deleted) != 598 || fmt.Sprint(res.NotFound) != "[rl:10.0.1.9]" ||
			len(res.Skipped) != 1 || res.Skipped[0].Key != "rl:10.0.0.7" || res.Skipped[0].Problem != ProblemWrongType {
			t.Fatalf("deleted %d, not found %q, skipped %+v", len(res.Deleted), res.NotFound, res.Skipped)
		}
		checkOnlyDeleted(t, before, allKeys(t, tp), res.Deleted)
		if typ, _ := tp.client.Do(ctx, tp.client.B().Type().Key("rl:10.0.0.7").Build()).ToString(); typ != "hash" {
			t.Fatalf("the hash is %q", typ)
		}
	})
}
