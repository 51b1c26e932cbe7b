package socketio

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// broadcast builds a classic broadcast [uid, {type, data:[ev, ...args], nsp}, opts]
// whose arguments are given as raw msgpack.
func broadcast(event string, rawArgs ...[]byte) []byte {
	b := msgp.AppendArrayHeader(nil, 3)
	b = msgp.AppendString(b, "9UUkUo")
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "type")
	b = msgp.AppendInt(b, 2)
	b = msgp.AppendString(b, "data")
	b = msgp.AppendArrayHeader(b, uint32(1+len(rawArgs)))
	b = msgp.AppendString(b, event)
	for _, a := range rawArgs {
		b = append(b, a...)
	}
	b = msgp.AppendString(b, "nsp")
	b = msgp.AppendString(b, "/")
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "rooms")
	b = msgp.AppendArrayHeader(b, 0)
	b = msgp.AppendString(b, "except")
	b = msgp.AppendArrayHeader(b, 0)
	b = msgp.AppendString(b, "flags")
	b = msgp.AppendMapHeader(b, 0)
	return b
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// jsonValue is what a value looks like after AppendJSON and json.Unmarshal.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	var out any
	line := appendValue(nil, v, 0)
	if err := json.Unmarshal(line, &out); err != nil {
		t.Fatalf("invalid JSON %s: %v", line, err)
	}
	return out
}

func TestMsgpackValues(t *testing.T) {
	ms := uint64(1796049847198) // 2026-11-30T14:44:07.198Z
	neg := int64(-1)
	tests := []struct {
		name string
		raw  []byte
		want any // after a JSON round trip
	}{
		// notepack 2.x (redis-adapter 7.x)
		{"notepack2 undefined", []byte{0xd4, 0x00, 0x00}, nil},
		{"notepack2 ArrayBuffer ext8", []byte{0xc7, 0x03, 0x00, 1, 2, 3}, map[string]any{"binary": "AQID", "size": 3.0}},
		{"notepack2 ArrayBuffer ext16", []byte{0xc8, 0x00, 0x02, 0x00, 0xaa, 0xbb}, map[string]any{"binary": "qrs=", "size": 2.0}},
		{"notepack2 empty ArrayBuffer", []byte{0xc7, 0x00, 0x00}, map[string]any{"binary": "", "size": 0.0}},
		{"notepack2 Date", cat([]byte{0xd7, 0x00}, be64(ms)), "2026-11-30T14:44:07.198Z"},
		{"notepack2 Date before 1970", cat([]byte{0xd7, 0x00}, be64(uint64(neg))), "1969-12-31T23:59:59.999Z"},
		// notepack 3.x / msgpack timestamps (ext -1)
		{"timestamp32", cat([]byte{0xd6, 0xff}, be32(1796049847)), "2026-11-30T14:44:07Z"},
		{"timestamp64", cat([]byte{0xd7, 0xff}, be64(198000000<<34|1796049847)), "2026-11-30T14:44:07.198Z"},
		{"timestamp96 negative", cat([]byte{0xc7, 0x0c, 0xff}, be32(500000000), be64(uint64(neg))), "1969-12-31T23:59:59.5Z"},
		{"timestamp bad length", []byte{0xd5, 0xff, 1, 2}, map[string]any{"ext_type": -1.0, "data": map[string]any{"binary": "AQI=", "size": 2.0}}},
		{"unknown ext", []byte{0xd5, 0x07, 0xaa, 0xbb}, map[string]any{"ext_type": 7.0, "data": map[string]any{"binary": "qrs=", "size": 2.0}}},
		// numbers
		{"NaN", cat([]byte{0xcb}, be64(0x7ff8000000000001)), "NaN"},
		{"+Inf", cat([]byte{0xcb}, be64(math.Float64bits(math.Inf(1)))), "Infinity"},
		{"-Inf", cat([]byte{0xcb}, be64(math.Float64bits(math.Inf(-1)))), "-Infinity"},
		{"float32", []byte{0xca, 0x3f, 0xc0, 0x00, 0x00}, 1.5},
		{"uint64 max", cat([]byte{0xcf}, be64(math.MaxUint64)), 1.8446744073709552e19},
		{"int64 min", cat([]byte{0xd3}, be64(1<<63)), -9.223372036854776e18},
		{"negative fixint", []byte{0xff}, -1.0},
		// strings, binary, containers
		{"str16", append([]byte{0xda, 0x00, 0x03}, "abc"...), "abc"},
		{"bin16", []byte{0xc5, 0x00, 0x02, 0xde, 0xad}, map[string]any{"binary": "3q0=", "size": 2.0}},
		{"map with integer key", []byte{0x81, 0x01, 0xa1, 'x'}, map[string]any{"1": "x"}},
		{"map with bin key", []byte{0x81, 0xc4, 0x01, 'k', 0xc3}, map[string]any{"k": true}},
		{"nested", []byte{0x92, 0x80, 0x91, 0xc0}, []any{map[string]any{}, []any{nil}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Decode("socket.io#/#", broadcast("ev", tc.raw), Options{})
			if m.Kind != KindBroadcast {
				t.Fatalf("kind %q: %s", m.Kind, m.Problem)
			}
			if len(m.Args) != 1 {
				t.Fatalf("args %v", m.Args)
			}
			if got := jsonValue(t, m.Args[0]); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
			line := AppendJSON(nil, &m)
			std, err := json.Marshal(&m)
			if err != nil || !sameJSON(line, std) {
				t.Errorf("AppendJSON %s vs encoding/json %s (%v)", line, std, err)
			}
		})
	}
	// Exact integers survive (the JSON round trip above goes through float64).
	m := Decode("socket.io#/#", broadcast("ev", cat([]byte{0xcf}, be64(math.MaxUint64)), cat([]byte{0xd3}, be64(1<<63))), Options{})
	if got := string(appendArray(nil, m.Args, 0)); got != "[18446744073709551615,-9223372036854775808]" {
		t.Errorf("big integers: %s", got)
	}
}

// Invalid UTF-8 anywhere still yields valid JSON.
func TestInvalidUTF8(t *testing.T) {
	payload := broadcast("ev\xff", append([]byte{0xa3}, "a\xfe\x00"...), []byte{0x81, 0xa2, 0xc3, 0x28, 0x01})
	m := Decode("socket.io#/#r\xffoom#", payload, Options{})
	if m.Kind != KindBroadcast || m.Event != "ev\xff" {
		t.Fatalf("%+v", m)
	}
	line := AppendJSON(nil, &m)
	if !json.Valid(line) || !bytes.Contains(line, []byte(`"ev\ufffd"`)) || !bytes.Contains(line, []byte(`"a\ufffd\u0000"`)) {
		t.Fatalf("bad JSON: %s", line)
	}
	std, _ := json.Marshal(&m)
	if !sameJSON(line, std) {
		t.Errorf("AppendJSON %s vs encoding/json %s", line, std)
	}
}

func TestAppendJSONValues(t *testing.T) {
	m := Message{
		Kind: KindBroadcast,
		Args: []any{math.NaN(), math.Inf(1), float32(0.1), 1e21, 1e-7, json.Number("12.5e3"), json.Number("1e"),
			"\u2028<&>\"\\\t\x01", []byte{1}, &Binary{Data: []byte{2}}, (*Binary)(nil), []string(nil), map[string]any(nil),
			struct{ A int }{1}, func() {}},
	}
	line := AppendJSON(nil, &m)
	if !json.Valid(line) {
		t.Fatalf("invalid JSON: %s", line)
	}
	want := `"args":[null,null,0.1,1e+21,1e-7,12.5e3,"1e","\u2028<&>\"\\\t\u0001","AQ==",{"binary":"Ag==","size":1},null,null,null,{"A":1},null]`
	if !bytes.Contains(line, []byte(want)) {
		t.Errorf("got  %s\nwant %s", line, want)
	}
	// A zero Message is still a complete document with [] and {}.
	line = AppendJSON(nil, &Message{})
	for _, part := range []string{`"args":[]`, `"rooms":[]`, `"except":[]`, `"flags":{}`, `"time":"0001-01-01T00:00:00Z"`} {
		if !bytes.Contains(line, []byte(part)) {
			t.Errorf("zero message lacks %s: %s", part, line)
		}
	}
	// Hand-built nesting deeper than maxJSONDepth is cut, not followed forever.
	var deep any = "x"
	for range maxJSONDepth + 10 {
		deep = []any{deep}
	}
	if line := AppendJSON(nil, &Message{Args: []any{deep}}); !json.Valid(line) || !bytes.Contains(line, []byte("null")) {
		t.Errorf("deep value: %.100s", line)
	}
}

// allowedKinds is what Decode may return.
var allowedKinds = map[string]bool{KindBroadcast: true, KindRequest: true, KindResponse: true, KindUnknown: true}

// checkMessage asserts the invariants every decoded message keeps.
func checkMessage(t *testing.T, what string, m *Message, payload []byte) {
	t.Helper()
	checkMessageMode(t, what, m, payload, true)
}

// checkMessageMode checks the invariants; with full it also compares
// AppendJSON with encoding/json (the expensive part).
func checkMessageMode(t *testing.T, what string, m *Message, payload []byte, full bool) {
	t.Helper()
	if !allowedKinds[m.Kind] {
		t.Fatalf("%s: kind %q", what, m.Kind)
	}
	if strings.HasPrefix(m.Problem, "internal decoder error") {
		t.Fatalf("%s: %s", what, m.Problem)
	}
	if m.Kind == KindUnknown && (m.Problem == "" || !bytes.Equal(m.Raw, payload) || m.Raw == nil) {
		t.Fatalf("%s: unknown without problem or raw: %q", what, m.Problem)
	}
	if m.Kind != KindUnknown && (m.Problem != "" || m.Raw != nil) {
		t.Fatalf("%s: decoded message with problem %q", what, m.Problem)
	}
	if m.Args == nil || m.Rooms == nil || m.Except == nil || m.Flags == nil {
		t.Fatalf("%s: nil list or map", what)
	}
	line := AppendJSON(nil, m)
	if !json.Valid(line) {
		t.Fatalf("%s: invalid JSON %s", what, line)
	}
	if !full {
		return
	}
	std, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("%s: encoding/json: %v", what, err)
	}
	if !sameJSON(line, std) {
		t.Fatalf("%s: AppendJSON and encoding/json differ:\n%s\n%s", what, line, std)
	}
}

// Every strict prefix of every fixture is unknown; nothing panics.
func TestTruncatedFixtures(t *testing.T) {
	_, msgs := loadFixtures(t)
	for _, fm := range msgs {
		t.Run(fm.File, func(t *testing.T) {
			t.Parallel()
			for i := 0; i < len(fm.payload); i++ {
				p := fm.payload[:i:i]
				m := Decode(fm.Channel, p, fm.options())
				checkMessageMode(t, fm.File, &m, p, i%4 == 0)
				if m.Kind != KindUnknown {
					t.Errorf("%d-byte prefix decoded as %s", i, m.Kind)
				}
			}
		})
	}
}

// Every byte of every fixture replaced by hostile values: a never-used
// byte, a huge array header, the high bit flipped, the next value.
func TestCorruptFixtures(t *testing.T) {
	_, msgs := loadFixtures(t)
	for _, fm := range msgs {
		t.Run(fm.File, func(t *testing.T) {
			t.Parallel()
			n := 0
			for i := range fm.payload {
				variants := []byte{0xc1, 0xdd, fm.payload[i] ^ 0x80, fm.payload[i] + 1}
				if raceEnabled {
					variants = variants[:2]
				}
				for _, v := range variants {
					p := bytes.Clone(fm.payload)
					p[i] = v
					m := Decode(fm.Channel, p, fm.options())
					checkMessageMode(t, fm.File, &m, p, n%8 == 0)
					n++
				}
			}
		})
	}
}

func TestUnknownPayloads(t *testing.T) {
	tests := []struct {
		name, channel string
		payload       []byte
		problem       string
	}{
		{"other key", "other#/#", []byte{0x93}, "not a Socket.IO adapter channel"},
		{"no namespace slash", "socket.io#chat#", []byte{0x93}, "not a Socket.IO adapter channel"},
		{"empty", "socket.io#/#", nil, "empty payload"},
		{"text", "socket.io#/#", []byte("hello"), "first byte 0x68"},
		{"two-element array", "socket.io#/#", []byte{0x92, 0xa1, 'x', 0x80}, "has 2 elements"},
		{"trailing bytes", "socket.io#/#", append(broadcast("e"), 0xc0), "1 bytes after"},
		{"array on request channel", "socket.io-request#/#", broadcast("e"), "array on a request channel"},
		{"json array on request channel", "socket.io-request#/#", []byte(`{"type":"5"}`), "type is not an integer"},
		{"json trailing", "socket.io-request#/#", []byte(`{"type":5} {}`), "data after the object"},
		{"json broken", "socket.io-response#/#", []byte(`{"type":`), "json:"},
		{"request without type", "socket.io-request#/#", []byte(`{"uid":"x"}`), "no type field"},
		{"unknown classic type", "socket.io-request#/#", []byte(`{"uid":"x","type":42}`), "unknown classic message type 42"},
		{"unknown cluster type", "socket.io#/#", []byte(`{"uid":"x","type":14,"nsp":"/"}`), "unknown sharded message type 14"},
		{"envelope type float", "socket.io#/#", []byte(`{"type":3.5}`), "type is not an integer"},
		{"nil uid", "socket.io#/#", []byte{0x93, 0xc0, 0x80, 0x80}, "broadcast uid: want str, got nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Decode(tc.channel, tc.payload, Options{})
			checkMessage(t, tc.name, &m, tc.payload)
			if m.Kind != KindUnknown || !strings.Contains(m.Problem, tc.problem) {
				t.Errorf("kind %q problem %q, want unknown with %q", m.Kind, m.Problem, tc.problem)
			}
		})
	}
	// An unknown type keeps what was decoded around it.
	m := Decode("socket.io-request#/#", []byte(`{"uid":"abcdef","type":42,"requestId":"r"}`), Options{})
	if m.Origin != "abcdef" || m.RequestID != "r" || m.TypeCode != 42 || m.Type != "" || m.Adapter != AdapterClassic {
		t.Errorf("unknown type lost fields: %+v", m)
	}
}

// Fields we do not lift are kept in Data, not dropped.
func TestLeftoversKept(t *testing.T) {
	// A packet of type 3 (ACK) on another namespace, with an unknown key and an opts extra.
	b := msgp.AppendArrayHeader(nil, 3)
	b = msgp.AppendString(b, "uid123")
	b = msgp.AppendMapHeader(b, 4)
	b = msgp.AppendString(b, "type")
	b = msgp.AppendInt(b, 3)
	b = msgp.AppendString(b, "data")
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendInt(b, 7) // no event name
	b = msgp.AppendString(b, "x")
	b = msgp.AppendString(b, "nsp")
	b = msgp.AppendString(b, "/other")
	b = msgp.AppendString(b, "id")
	b = msgp.AppendInt(b, 9)
	b = msgp.AppendMapHeader(b, 2)
	b = msgp.AppendString(b, "rooms")
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendInt(b, 42) // numeric room ids are common: io.to(userId)
	b = msgp.AppendString(b, "r")
	b = msgp.AppendString(b, "extra")
	b = msgp.AppendBool(b, true)
	m := Decode("socket.io#/#", b, Options{})
	checkMessage(t, "leftovers", &m, b)
	want := map[string]any{"packet": map[string]any{"type": 3.0, "nsp": "/other", "id": 9.0}, "opts": map[string]any{"extra": true}}
	if got := normalize(m.Data); !reflect.DeepEqual(got, want) {
		t.Errorf("data %s, want %s", jsonText(got), jsonText(want))
	}
	if m.Event != "" || len(m.Args) != 2 || !reflect.DeepEqual(m.Rooms, []string{"42", "r"}) {
		t.Errorf("event %q args %v rooms %v", m.Event, m.Args, m.Rooms)
	}

	// Envelope with a foreign nsp, a non-map data and an unknown key.
	m = Decode("socket.io#/#", []byte(`{"type":2,"data":[1],"uid":"u","nsp":"/x","extra":1}`), Options{})
	want = map[string]any{"envelope": map[string]any{"data": []any{1.0}, "nsp": "/x", "extra": 1.0}}
	if got := normalize(m.Data); m.Kind != KindRequest || m.Type != "HEARTBEAT" || !reflect.DeepEqual(got, want) {
		t.Errorf("kind %s type %s data %s", m.Kind, m.Type, jsonText(got))
	}

	// A classic response without type or known shape: no type, body in Data.
	m = Decode("socket.io-response#/#", []byte(`{"requestId":"abc"}`), Options{})
	if m.Kind != KindResponse || m.TypeCode != NoType || m.Type != "" || m.RequestID != "abc" || m.Data != nil {
		t.Errorf("legacy ack: %+v", m)
	}
	// Pre-8.0 SOCKETS reply: sockets are ids.
	m = Decode("socket.io-response#/#", []byte(`{"requestId":"abc","sockets":["a"]}`), Options{})
	if m.Type != "SOCKETS" || m.TypeCode != 0 {
		t.Errorf("SOCKETS reply: %+v", m)
	}
}

// hostile payloads declare far more than they carry.
var hostile = []struct {
	name, channel string
	payload       []byte
}{
	{"array32 max on broadcast channel", "socket.io#/#", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}},
	{"map32 max on broadcast channel", "socket.io#/#", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}},
	{"map32 max on request channel", "socket.io-request#/#", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}},
	{"map32 max on response channel", "socket.io-response#/#", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}},
	{"array32 max as event data", "socket.io#/#", cat([]byte{0x93, 0xa1, 'u', 0x81, 0xa4}, []byte("data"), []byte{0xdd, 0xff, 0xff, 0xff, 0xff})},
	{"array32 max as argument", "socket.io#/#", broadcast("e", []byte{0xdd, 0xff, 0xff, 0xff, 0xff})},
	{"map32 max as argument", "socket.io#/#", broadcast("e", []byte{0xdf, 0xff, 0xff, 0xff, 0xff})},
	{"str32 max as argument", "socket.io#/#", broadcast("e", []byte{0xdb, 0xff, 0xff, 0xff, 0xff})},
	{"bin32 max as argument", "socket.io#/#", broadcast("e", []byte{0xc6, 0xff, 0xff, 0xff, 0xff})},
	{"ext32 max as argument", "socket.io#/#", broadcast("e", []byte{0xc9, 0xff, 0xff, 0xff, 0xff, 0x00})},
	{"str32 max as uid", "socket.io#/#", []byte{0x93, 0xdb, 0xff, 0xff, 0xff, 0xff}},
	{"map16 max as packet", "socket.io#/#", []byte{0x93, 0xa1, 'u', 0xde, 0xff, 0xff}},
}

func TestHostileLengths(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			m := Decode(tc.channel, tc.payload, Options{})
			checkMessage(t, tc.name, &m, tc.payload)
			if m.Kind != KindUnknown {
				t.Fatalf("decoded as %s", m.Kind)
			}
			allocs := testing.AllocsPerRun(50, func() { Decode(tc.channel, tc.payload, Options{}) })
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const runs = 50
			for range runs {
				Decode(tc.channel, tc.payload, Options{})
			}
			runtime.ReadMemStats(&after)
			perRun := (after.TotalAlloc - before.TotalAlloc) / runs
			t.Logf("%q: %.0f allocs, %d bytes per decode", m.Problem, allocs, perRun)
			if allocs > 25 || perRun > 4096 {
				t.Errorf("%.0f allocs, %d bytes per decode of a %d-byte payload", allocs, perRun, len(tc.payload))
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	deepArray := append(bytes.Repeat([]byte{0x91}, 100000), 0xc0)
	deepMap := append(bytes.Repeat([]byte{0x81, 0xa1, 'k'}, 100000), 0xc0)
	deepJSON := []byte(`{"uid":"x","type":6,"data":["ev",` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `]}`)
	for _, tc := range []struct {
		name, channel string
		payload       []byte
	}{
		{"msgpack arrays", "socket.io#/#", broadcast("e", deepArray)},
		{"msgpack maps", "socket.io#/#", broadcast("e", deepMap)},
		{"msgpack maps in flags", "socket.io#/#", cat(broadcast("e")[:len(broadcast("e"))-1], deepMap)},
		{"msgpack envelope", "socket.io#/#", cat([]byte{0x81, 0xa4}, []byte("data"), deepArray)},
		{"json request", "socket.io-request#/#", deepJSON},
		{"json envelope", "socket.io#/#", deepJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Decode(tc.channel, tc.payload, Options{})
			checkMessage(t, tc.name, &m, tc.payload)
			if m.Kind != KindUnknown || !strings.Contains(m.Problem, "nested deeper than") {
				t.Errorf("kind %s problem %q", m.Kind, m.Problem)
			}
		})
	}
	// Nesting well within the bound decodes.
	ok := append(bytes.Repeat([]byte{0x91}, 40), 0x01)
	m := Decode("socket.io#/#", broadcast("e", ok), Options{})
	checkMessage(t, "40 levels", &m, nil)
	if m.Kind != KindBroadcast {
		t.Errorf("40 levels: %s %s", m.Kind, m.Problem)
	}
	j := []byte(`{"uid":"x","type":6,"data":["ev",` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `]}`)
	if m := Decode("socket.io-request#/#", j, Options{}); m.Kind != KindRequest {
		t.Errorf("40 JSON levels: %s %s", m.Kind, m.Problem)
	}
}

// appendString agrees with encoding/json for every byte value at every
// position around the 8-byte fast path, and for multi-byte runes.
func TestAppendStringBytes(t *testing.T) {
	check := func(s string) {
		t.Helper()
		out := appendString(nil, s)
		var got, want string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: invalid JSON %s", s, out)
		}
		std, _ := json.Marshal(s)
		_ = json.Unmarshal(std, &want)
		if got != want {
			t.Fatalf("%q: got %q, want %q", s, got, want)
		}
	}
	for c := 0; c < 256; c++ {
		for n := 1; n <= 18; n++ {
			for pos := 0; pos < n; pos++ {
				b := bytes.Repeat([]byte{'a'}, n)
				b[pos] = byte(c)
				check(string(b))
			}
		}
	}
	for _, s := range []string{"", "héllo ✓", "\u2028\u2029", "12345678\u20289", "\xe2\x80", "abcdefg\xe2\x80\xa8", strings.Repeat("é", 9), "\U0001F600abcdefgh"} {
		check(s)
	}
}

func TestAppendTime(t *testing.T) {
	times := []time.Time{{}, time.Unix(0, 0), time.Unix(1796049847, 198000000), time.Unix(1796049847, 1),
		time.Unix(1796049847, 999999999), time.Unix(1796049847, 120000000), time.Date(9999, 12, 31, 23, 59, 59, 5, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(400000000000)-200000000000, r.Int64N(1e9)))
	}
	for _, tm := range times {
		tm = tm.UTC()
		if got, want := string(appendTime(nil, tm)), tm.Format(time.RFC3339Nano); got != want {
			t.Fatalf("%v: got %s, want %s", tm, got, want)
		}
	}
}
