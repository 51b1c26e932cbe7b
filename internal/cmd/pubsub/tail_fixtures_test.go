package pubsub

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// expected is what cases.json says a fixture message means, in the terms of
// a tail record.
type expected struct {
	kind, namespace, event, typ, origin string
	args                                any // nil: not compared
}

func (f *fixture) expect(t *testing.T) expected {
	t.Helper()
	m := f.Meaning
	body, _ := m["body"].(map[string]any)
	e := expected{namespace: "/"}
	for _, k := range []string{"namespace", "messageNsp"} {
		if s, ok := m[k].(string); ok {
			e.namespace = s
		}
	}
	if s, ok := body["nsp"].(string); ok {
		e.namespace = s
	}
	e.typ, _ = m["typeName"].(string)
	if e.typ == "" {
		e.typ, _ = m["answersRequestTypeName"].(string)
	}
	if e.typ == "" && body != nil {
		// The streams message names no type in its meaning: its body does.
		if n, ok := body["type"].(json.Number); ok && n.String() == "9" {
			e.typ = "SERVER_SIDE_EMIT"
		}
	}
	switch ck, _ := m["channelKind"].(string); ck {
	case "broadcast", "request":
		e.kind = ck
	case "response":
		e.kind = "response"
	default: // sharded main/room channels, streams: the type decides
		switch e.typ {
		case "BROADCAST":
			e.kind = "broadcast"
		case "FETCH_SOCKETS_RESPONSE", "SERVER_SIDE_EMIT_RESPONSE", "BROADCAST_CLIENT_COUNT", "BROADCAST_ACK":
			e.kind = "response"
		default:
			e.kind = "request"
		}
	}
	e.event, _ = m["event"].(string)
	if e.event == "" && e.typ == "SERVER_SIDE_EMIT" {
		if data, ok := body["data"].([]any); ok && len(data) > 0 {
			e.event, _ = data[0].(string)
		}
		if data, ok := body["data"].(map[string]any); ok {
			if p, ok := data["packet"].([]any); ok && len(p) > 0 {
				e.event, _ = p[0].(string)
			}
		}
	}
	e.origin, _ = m["senderUid"].(string)
	if _, ok := m["senderUid"]; !ok && e.kind != "response" {
		e.origin, _ = body["uid"].(string) // the streams message
	}
	if a, ok := m["args"]; ok {
		e.args = binToWire(a)
	}
	return e
}

// binToWire turns cases.json's {"$bin": hex} into tail's {"binary","size"}.
func binToWire(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = binToWire(x)
		}
		return out
	case map[string]any:
		if h, ok := v["$bin"].(string); ok && len(v) == 1 {
			b, _ := hex.DecodeString(h)
			return map[string]any{"binary": base64.StdEncoding.EncodeToString(b), "size": json.Number(jsonInt(len(b)))}
		}
		out := map[string]any{}
		for k, x := range v {
			out[k] = binToWire(x)
		}
		return out
	}
	return v
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// TestTailFixtures publishes every captured adapter message into a real
// valkey-server on its recorded channel (PUBLISH, or SPUBLISH for the
// sharded adapter, read through MONITOR) and checks that `tail --count N
// -o json --requests` prints one record per message, in order, meaning what
// cases.json says it means.
func TestTailFixtures(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	all := loadFixtures(t)
	for _, g := range []struct {
		name, key string
		sharded   bool
	}{
		{"classic", "socket.io", false},
		{"classic-key-oxy", "oxy", false},
		{"sharded-monitor", "socket.io", true},
	} {
		t.Run(g.name, func(t *testing.T) {
			var fx []*fixture
			for _, f := range all {
				if f.key == g.key && (f.Command == "SPUBLISH") == g.sharded {
					fx = append(fx, f)
				}
			}
			if len(fx) < 5 {
				t.Fatalf("only %d fixtures for %s", len(fx), g.name)
			}
			opts, out, errOut := newTail(srv.URL, output.JSON)
			opts.Key, opts.Requests, opts.Count = g.key, true, int64(len(fx))
			opts.Sharded, opts.ShardedSet = g.sharded, true
			reqChan := g.key + "-request#/#"
			r := startTail(t, opts)
			if n := numsub(t, cl, reqChan); n != 0 {
				t.Fatalf("NUMSUB %s = %d while tailing, want 0 (tail must not SUBSCRIBE)", reqChan, n)
			}
			for _, f := range fx {
				if g.sharded {
					spublish(t, cl, f.Channel, f.payload)
				} else {
					publish(t, cl, f.Channel, f.payload)
				}
			}
			if err := r.wait(t, 15*time.Second); err != nil {
				t.Fatalf("tail: %v (stderr %q)", err, errOut.String())
			}
			recs := parseRecords(t, out.Lines())
			if len(recs) != len(fx) {
				t.Fatalf("%d records for %d messages:\n%s", len(recs), len(fx), out.String())
			}
			for i, f := range fx {
				rec, e := recs[i], f.expect(t)
				var errs []string
				check := func(field, got, want string) {
					if got != want {
						errs = append(errs, field+" = "+jsonText(got)+", want "+jsonText(want))
					}
				}
				check("channel", rec.str("channel"), f.Channel)
				check("kind", rec.str("kind"), e.kind)
				check("namespace", rec.str("namespace"), e.namespace)
				check("event", rec.str("event"), e.event)
				check("origin", rec.str("origin"), e.origin)
				if e.kind != "broadcast" || g.sharded {
					check("type", rec.str("type"), e.typ)
				}
				if e.args != nil && !sameJSON(rec["args"], e.args) {
					errs = append(errs, "args = "+jsonText(rec["args"])+", want "+jsonText(e.args))
				}
				if _, err := time.Parse(time.RFC3339Nano, rec.str("time")); err != nil {
					errs = append(errs, "time: "+err.Error())
				}
				if len(errs) > 0 {
					t.Errorf("%s:\n  %s", f.File, strings.Join(errs, "\n  "))
				}
			}
			if !strings.Contains(errOut.String(), "stopped by --count") {
				t.Errorf("stderr has no summary: %q", errOut.String())
			}
			if g.sharded && !strings.Contains(errOut.String(), "MONITOR") {
				t.Errorf("no MONITOR warning on stderr: %q", errOut.String())
			}
		})
	}
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestTailFixturesText checks the text lines (no terminal: whole lines,
// RFC 3339 UTC times) for a few captured messages, and --raw.
func TestTailFixturesText(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	byFile := map[string]*fixture{}
	for _, f := range loadFixtures(t) {
		byFile[f.File] = f
	}
	files := []string{
		"classic-broadcast-all.bin",
		"classic-broadcast-room.bin",
		"classic-broadcast-rooms-except.bin",
		"classic-broadcast-namespace-chat-room.bin",
		"classic-broadcast-binary.bin",
		"classic-broadcast-flags-volatile-compress.bin",
		"classic-broadcast-with-ack-1-request.bin",
		"classic-fetch-sockets-1-request.bin",
		"classic-broadcast-with-ack-2-response.bin",
	}
	want := []string{
		`2026-01-02T03:04:05.678Z / news to=all from=9UUkUo  {"hello":"world","n":1,"text":"héllo ✓"}`,
		`2026-01-02T03:04:05.678Z / roomEvent to=room1 from=9UUkUo  "x" 42`,
		`2026-01-02T03:04:05.678Z / multi to=a,b except=c from=9UUkUo  true`,
		`2026-01-02T03:04:05.678Z /chat lobbyMsg to=lobby from=qWJnxD  {"from":"A"}`,
		`2026-01-02T03:04:05.678Z / file to=all from=9UUkUo  <4 bytes> {"name":"x.bin","parts":[<3 bytes>]}`,
		`2026-01-02T03:04:05.678Z / v to=all flags=compress=false,volatile from=9UUkUo  1.5 null`,
		`2026-01-02T03:04:05.678Z / request BROADCAST ask flags=timeout=2000 from=9UUkUo id=N1DKOW  "q?"`,
		`2026-01-02T03:04:05.678Z / request REMOTE_FETCH from=9UUkUo id=rDsjd4`,
		`2026-01-02T03:04:05.678Z / response BROADCAST_CLIENT_COUNT id=N1DKOW  clientCount=1`,
	}
	opts, out, _ := newTail(srv.URL, output.Text)
	opts.Requests, opts.Count = true, int64(len(files))
	opts.Now = func() time.Time { return fixedNow }
	r := startTail(t, opts)
	for _, name := range files {
		f := byFile[name]
		if f == nil {
			t.Fatalf("fixture %s missing", name)
		}
		publish(t, cl, f.Channel, f.payload)
	}
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got := out.Lines()
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), out.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got  %s\n want %s", i+1, got[i], want[i])
		}
	}

	// --raw adds the payload in hex on the next line.
	opts, out, _ = newTail(srv.URL, output.Text)
	opts.Raw, opts.Count = true, 1
	opts.Now = func() time.Time { return fixedNow }
	r = startTail(t, opts)
	f := byFile["classic-broadcast-room.bin"]
	publish(t, cl, f.Channel, f.payload)
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), want[1]+"\n  raw "+hex.EncodeToString(f.payload)+"\n"; got != want {
		t.Errorf("--raw text:\n got  %q\n want %q", got, want)
	}

	// -o json --raw adds "raw" in base64.
	opts, out, _ = newTail(srv.URL, output.JSON)
	opts.Raw, opts.Count = true, 1
	r = startTail(t, opts)
	publish(t, cl, f.Channel, f.payload)
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	recs := parseRecords(t, out.Lines())
	if len(recs) != 1 || recs[0].str("raw") != base64.StdEncoding.EncodeToString(f.payload) {
		t.Errorf("--raw JSON: %s", out.String())
	}
}
