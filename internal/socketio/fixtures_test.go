package socketio

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/repo"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.json")

// fixtureDir is testdata/fixtures/socketio-redis-adapter of the repository.
func fixtureDir(t testing.TB) string {
	t.Helper()
	return repo.Fixtures(t, "socketio-redis-adapter")
}

type fixtureFile struct {
	ClassicRequestTypes map[string]string `json:"classicRequestTypes"`
	ClusterMessageTypes map[string]string `json:"clusterMessageTypes"`
	Cases               []fixtureCase     `json:"cases"`
}

type fixtureCase struct {
	ID             string            `json:"id"`
	Adapter        string            `json:"adapter"`
	AdapterOptions map[string]any    `json:"adapterOptions"`
	Messages       []*fixtureMessage `json:"messages"`
}

type fixtureMessage struct {
	File    string         `json:"file"`
	Bytes   int            `json:"bytes"`
	SHA256  string         `json:"sha256"`
	Command string         `json:"command"`
	Channel string         `json:"channel"`
	Meaning map[string]any `json:"meaning"`

	caseID  string
	key     string
	adapter string // the adapter we must report
	payload []byte
}

// loadFixtures reads cases.json and every .bin, checking size and sha256.
func loadFixtures(t testing.TB) (*fixtureFile, []*fixtureMessage) {
	t.Helper()
	dir := fixtureDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ff fixtureFile
	if err := json.Unmarshal(raw, &ff); err != nil {
		t.Fatalf("cases.json: %v", err)
	}
	var msgs []*fixtureMessage
	for _, c := range ff.Cases {
		for _, m := range c.Messages {
			m.caseID = c.ID
			m.key = DefaultKey
			for _, opt := range []string{"key", "channelPrefix"} {
				if v, ok := c.AdapterOptions[opt].(string); ok {
					m.key = strings.TrimPrefix(v, "(default) ")
				}
			}
			switch {
			case strings.Contains(c.Adapter, "createShardedAdapter"):
				m.adapter = AdapterSharded
			case strings.Contains(c.Adapter, "streams"):
				m.adapter = AdapterStreams
			default:
				m.adapter = AdapterClassic
			}
			m.payload, err = os.ReadFile(filepath.Join(dir, m.File))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(m.payload)
			if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
				t.Fatalf("%s: sha256 %s, cases.json says %s", m.File, got, m.SHA256)
			}
			if len(m.payload) != m.Bytes {
				t.Fatalf("%s: %d bytes, cases.json says %d", m.File, len(m.payload), m.Bytes)
			}
			msgs = append(msgs, m)
		}
	}
	// Every .bin in the directory must be described by cases.json.
	bins, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
	if len(bins) != len(msgs) || len(msgs) == 0 {
		t.Fatalf("%d .bin files, %d messages in cases.json", len(bins), len(msgs))
	}
	return &ff, msgs
}

func (m *fixtureMessage) options() Options {
	return Options{Key: m.key, Sharded: m.Command == "SPUBLISH"}
}

// TestFixtures decodes every captured message and compares it with the
// `meaning` recorded in cases.json.
//
// Meaning fields compared: channelKind (-> Kind, via the message type for
// sharded main/room channels), namespace, messageNsp and packetNsp (both
// must equal Namespace), channelRoom / responseChannelUid (-> ChannelRoom),
// encoding (its first word), senderUid (-> Origin), event, args (with
// {"$bin": hex} -> Binary), rooms, except, flags, type / typeName
// (-> TypeCode / Type, checked against the tables in cases.json),
// answersRequestType / answersRequestTypeName (-> TypeCode / Type of
// classic responses that carry no type), requestId (-> RequestID), and
// body: every body field we do not lift into a dedicated field must be in
// Data, and nothing else. The streams message has no channelKind, namespace
// or senderUid in its meaning; those come from its body.
//
// Deliberately not compared: packetType / packetTypeName (always 2 EVENT;
// we keep a packet type only when it is not EVENT/BINARY_EVENT), note.
func TestFixtures(t *testing.T) {
	ff, msgs := loadFixtures(t)
	failed := 0
	for _, fm := range msgs {
		got := Decode(fm.Channel, fm.payload, fm.options())
		errs := compareMeaning(ff, fm, &got)
		if len(errs) > 0 {
			failed++
			t.Errorf("%s (%s):\n  %s", fm.File, fm.caseID, strings.Join(errs, "\n  "))
		}
	}
	t.Logf("%d fixture messages from %d cases decoded; %d failed", len(msgs), len(ff.Cases), failed)
}

func compareMeaning(ff *fixtureFile, fm *fixtureMessage, got *Message) []string {
	mn := fm.Meaning
	var errs []string
	check := func(field string, got, want any) {
		g, w := normalize(got), normalize(want)
		if !reflect.DeepEqual(g, w) {
			errs = append(errs, fmt.Sprintf("%s: got %s, want %s", field, jsonText(g), jsonText(w)))
		}
	}
	str := func(k string) string { s, _ := mn[k].(string); return s }
	body, _ := mn["body"].(map[string]any)
	data, _ := body["data"].(map[string]any) // envelope data (sharded/streams)
	envelope := fm.adapter != AdapterClassic

	if got.Kind == KindUnknown {
		errs = append(errs, "decoded as unknown: "+got.Problem)
	}
	if got.Raw != nil || got.Problem != "" {
		errs = append(errs, "raw/problem set on a decoded message")
	}
	check("channel", got.Channel, fm.Channel)
	check("adapter", got.Adapter, fm.adapter)
	check("encoding", got.Encoding, strings.Fields(str("encoding"))[0])

	// Type: meaning type, else the request type a response answers, else none.
	wantCode, wantName := NoType, ""
	if v, ok := mn["type"]; ok {
		wantCode, wantName = int(v.(float64)), str("typeName")
	} else if v, ok := mn["answersRequestType"]; ok {
		wantCode, wantName = int(v.(float64)), str("answersRequestTypeName")
	} else if envelope {
		wantCode = int(body["type"].(float64))
		wantName = ff.ClusterMessageTypes[strconv.Itoa(wantCode)]
	}
	if wantCode != NoType {
		table := ff.ClassicRequestTypes
		if envelope {
			table = ff.ClusterMessageTypes
		}
		if table[strconv.Itoa(wantCode)] != wantName {
			errs = append(errs, fmt.Sprintf("meaning type %d %q disagrees with the cases.json table", wantCode, wantName))
		}
	}
	check("type_code", got.TypeCode, wantCode)
	check("type", got.Type, wantName)

	// Kind.
	wantKind := str("channelKind")
	switch wantKind {
	case "main", "room", "":
		switch {
		case wantCode == 3:
			wantKind = KindBroadcast
		case wantCode == 8 || wantCode >= 10 && wantCode <= 12:
			wantKind = KindResponse
		default:
			wantKind = KindRequest
		}
	}
	check("kind", got.Kind, wantKind)

	// Namespace and channel room/uid.
	wantNsp := str("namespace")
	if _, ok := mn["namespace"]; !ok {
		wantNsp, _ = body["nsp"].(string)
	}
	check("namespace", got.Namespace, wantNsp)
	for _, k := range []string{"messageNsp", "packetNsp"} {
		if v, ok := mn[k].(string); ok {
			check(k, got.Namespace, v)
		}
	}
	wantRoom := str("channelRoom")
	if wantRoom == "" {
		wantRoom = str("responseChannelUid")
	}
	check("channel_room", got.ChannelRoom, wantRoom)

	// Origin.
	wantOrigin, ok := mn["senderUid"].(string)
	if !ok {
		wantOrigin, _ = body["uid"].(string)
	}
	check("origin", got.Origin, wantOrigin)
	check("request_id", got.RequestID, str("requestId"))

	// Event and args: from the meaning, else from a server-side emit body.
	wantEvent, wantArgs := str("event"), []any{}
	if a, ok := mn["args"].([]any); ok {
		wantArgs = a
	} else {
		var ev []any
		if !envelope && got.Kind == KindRequest && wantCode == 6 {
			ev, _ = body["data"].([]any)
		} else if envelope && wantCode == 9 {
			ev, _ = data["packet"].([]any)
		}
		if len(ev) > 0 {
			wantEvent, wantArgs = ev[0].(string), ev[1:]
		}
	}
	check("event", got.Event, wantEvent)
	check("args", got.Args, wantArgs)

	// Rooms, except, flags: from the meaning, else from the body's opts.
	opts, _ := body["opts"].(map[string]any)
	if envelope {
		opts, _ = data["opts"].(map[string]any)
	}
	for _, k := range []string{"rooms", "except", "flags"} {
		want, ok := mn[k]
		if !ok {
			want, ok = opts[k]
		}
		if !ok {
			want = map[string]any{"rooms": []any{}, "except": []any{}, "flags": map[string]any{}}[k]
		}
		g := map[string]any{"rooms": got.Rooms, "except": got.Except, "flags": got.Flags}[k]
		check(k, g, want)
	}
	if got.Rooms == nil || got.Except == nil || got.Flags == nil || got.Args == nil {
		errs = append(errs, "nil rooms/except/flags/args")
	}

	// Data: the body minus what has its own field.
	var wantData map[string]any
	if body != nil {
		rest := body
		lifted := []string{"requestId", "opts"}
		if envelope {
			rest = data
			if wantCode == 3 || wantCode == 9 {
				lifted = append(lifted, "packet")
			}
		} else {
			lifted = append(lifted, "uid", "type")
			if got.Kind == KindRequest && wantCode == 7 {
				lifted = append(lifted, "packet")
			}
			if got.Kind == KindRequest && wantCode == 6 {
				lifted = append(lifted, "data")
			}
		}
		wantData = map[string]any{}
		for k, v := range rest {
			if !contains(lifted, k) {
				wantData[k] = v
			}
		}
		if envelope {
			for k := range body {
				if !contains([]string{"type", "data", "uid", "nsp"}, k) {
					errs = append(errs, "envelope field not understood by the test: "+k)
				}
			}
		}
	}
	if len(wantData) == 0 {
		if got.Data != nil {
			errs = append(errs, "data: got "+jsonText(normalize(got.Data))+", want none")
		}
	} else {
		check("data", got.Data, wantData)
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// normalize turns a value into what encoding/json makes of it, with the
// fixtures' {"$bin": hex} replaced by our {"binary": base64, "size": n}.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<unmarshalable %T: %v>", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Sprintf("<bad json: %v>", err)
	}
	return replaceBin(out)
}

func replaceBin(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if h, ok := v["$bin"].(string); ok && len(v) == 1 {
			raw, err := hex.DecodeString(h)
			if err != nil {
				return "<bad $bin>"
			}
			return map[string]any{"binary": base64.StdEncoding.EncodeToString(raw), "size": float64(len(raw))}
		}
		for k, x := range v {
			v[k] = replaceBin(x)
		}
	case []any:
		for i, x := range v {
			v[i] = replaceBin(x)
		}
	}
	return v
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestFixturesWithoutShardedHint: the hint changes only the adapter label
// of msgpack envelopes (sharded vs streams), nothing else.
func TestFixturesWithoutShardedHint(t *testing.T) {
	_, msgs := loadFixtures(t)
	labelled := 0
	for _, fm := range msgs {
		opts := fm.options()
		with := Decode(fm.Channel, fm.payload, opts)
		opts.Sharded = !opts.Sharded
		without := Decode(fm.Channel, fm.payload, opts)
		if with.Adapter != without.Adapter {
			labelled++
			if with.Encoding != EncodingMsgpack || fm.adapter == AdapterClassic {
				t.Errorf("%s: hint changed the adapter of a %s %s message", fm.File, with.Encoding, fm.adapter)
			}
			without.Adapter = with.Adapter
		}
		if !reflect.DeepEqual(normalize(with), normalize(without)) {
			t.Errorf("%s: the sharded hint changed more than the adapter label:\n  %s\n  %s", fm.File, jsonText(with), jsonText(without))
		}
	}
	if labelled != 3 { // sharded-broadcast-binary, sharded-server-side-emit-binary, streams
		t.Errorf("%d messages changed adapter label with the hint, want 3", labelled)
	}
}

// TestFixturesJSON: AppendJSON is valid JSON, equals encoding/json's values
// for the same Message, and matches the committed golden file.
func TestFixturesJSON(t *testing.T) {
	_, msgs := loadFixtures(t)
	when := time.Date(2026, 11, 30, 14, 44, 7, 198000000, time.UTC)
	for _, fm := range msgs {
		m := Decode(fm.Channel, fm.payload, fm.options())
		m.Time = when
		line := AppendJSON(nil, &m)
		if !json.Valid(line) {
			t.Fatalf("%s: invalid JSON: %s", fm.File, line)
		}
		if bytes.ContainsAny(line, "\n") {
			t.Errorf("%s: newline in output", fm.File)
		}
		std, err := json.Marshal(&m)
		if err != nil {
			t.Fatalf("%s: encoding/json: %v", fm.File, err)
		}
		if !sameJSON(line, std) {
			t.Errorf("%s: AppendJSON and encoding/json differ:\n  %s\n  %s", fm.File, line, std)
		}
		golden := filepath.Join("testdata", "golden", strings.TrimSuffix(fm.File, ".bin")+".json")
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, append(line, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/socketio -update)", err)
		}
		if !bytes.Equal(append(line, '\n'), want) {
			t.Errorf("%s: output differs from %s:\n got %s\nwant %s", fm.File, golden, line, want)
		}
	}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
