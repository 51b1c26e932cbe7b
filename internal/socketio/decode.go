package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unsafe"

	"github.com/tinylib/msgp/msgp"
)

// Decode decodes one pub/sub message of the Socket.IO Redis adapters.
// It never panics and never drops a message: whatever it cannot decode comes
// back as Kind "unknown" with Raw (a copy of payload) and Problem set.
// Time is left zero for the caller to fill.
//
// Dispatch: the channel says broadcast-shaped (`<key>#<nsp>#...`), request
// or response; the first payload byte says msgpack array (0x9N, dc, dd),
// msgpack map (0x8N, de, df) or JSON ('{').
//   - broadcast-shaped + array: classic broadcast `[uid, packet, opts]`;
//   - broadcast-shaped + map/JSON: sharded or streams envelope
//     `{type, data, uid, nsp}`, its kind taken from the type;
//   - request/response + map/JSON: classic request/response body.
func Decode(channel string, payload []byte, opts Options) Message {
	return decode(channel, payload, "", opts)
}

// DecodeString is Decode for a payload held in a string, as valkey-go
// delivers pub/sub messages. It saves a copy: decoded strings share the
// payload's (immutable) memory instead of a private copy of it.
func DecodeString(channel, payload string, opts Options) Message {
	// A read-only view: nothing below writes to the payload.
	return decode(channel, unsafe.Slice(unsafe.StringData(payload), len(payload)), payload, opts)
}

// decode does the work; str is payload as a string when the caller has one.
func decode(channel string, payload []byte, str string, opts Options) (m Message) {
	key := opts.Key
	if key == "" {
		key = DefaultKey
	}
	m = Message{
		Channel:  channel,
		TypeCode: NoType,
		Args:     []any{},
		Rooms:    []string{},
		Except:   []string{},
	}
	defer func() {
		// Safety net only: the fuzz target fails on any message that gets here.
		if r := recover(); r != nil {
			m = unknown(base(&m), payload, fmt.Sprintf("internal decoder error: %v", r))
		}
	}()

	info, ok := ParseChannel(key, channel)
	if !ok {
		return unknown(m, payload, fmt.Sprintf("not a Socket.IO adapter channel of key %q", key))
	}
	m.Namespace = info.Namespace
	if len(payload) == 0 {
		return unknown(m, payload, "empty payload")
	}
	format := payloadFormat(payload[0])
	switch format {
	case fmtJSON:
		m.Encoding = EncodingJSON
	case fmtArray, fmtMap:
		m.Encoding = EncodingMsgpack
	default:
		return unknown(m, payload, fmt.Sprintf("unrecognized payload: first byte 0x%02x", payload[0]))
	}

	var err error
	switch info.Kind {
	case KindBroadcast:
		m.ChannelRoom = info.Room
		switch {
		case format == fmtArray:
			m.Adapter, m.Kind = AdapterClassic, KindBroadcast
			err = decodeClassicBroadcast(&m, &mpDecoder{src: payload, all: str})
		case format == fmtJSON || opts.Sharded:
			m.Adapter = AdapterSharded
			err = decodeEnvelope(&m, payload, format)
		default:
			m.Adapter = AdapterStreams
			err = decodeEnvelope(&m, payload, format)
		}
	case KindRequest, KindResponse:
		m.Adapter, m.Kind = AdapterClassic, info.Kind
		m.ChannelRoom = info.UID
		if format == fmtArray {
			err = fmt.Errorf("msgpack array on a %s channel", info.Kind)
			break
		}
		var body map[string]any
		body, err = decodeObject(payload, format)
		if err != nil {
			break
		}
		if info.Kind == KindRequest {
			err = classicRequest(&m, body)
		} else {
			err = classicResponse(&m, body)
		}
	}
	if err != nil {
		return unknown(base(&m), payload, err.Error())
	}
	if m.Flags == nil {
		m.Flags = map[string]any{}
	}
	if m.Kind == KindUnknown {
		m.Raw = clone(payload)
	}
	return m
}

// base keeps what the channel and first byte said, and forgets the rest.
func base(m *Message) Message {
	return Message{
		Time:        m.Time,
		Channel:     m.Channel,
		Adapter:     m.Adapter,
		Encoding:    m.Encoding,
		Namespace:   m.Namespace,
		ChannelRoom: m.ChannelRoom,
		TypeCode:    NoType,
	}
}

func unknown(m Message, payload []byte, problem string) Message {
	m.Kind = KindUnknown
	m.Problem = problem
	m.Raw = clone(payload)
	if m.Args == nil {
		m.Args = []any{}
	}
	if m.Rooms == nil {
		m.Rooms = []string{}
	}
	if m.Except == nil {
		m.Except = []string{}
	}
	if m.Flags == nil {
		m.Flags = map[string]any{}
	}
	return m
}

type payloadFmt int

const (
	fmtOther payloadFmt = iota
	fmtJSON
	fmtArray
	fmtMap
)

func payloadFormat(c byte) payloadFmt {
	switch {
	case c == '{':
		return fmtJSON
	case c&0xf0 == 0x90 || c == 0xdc || c == 0xdd:
		return fmtArray
	case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
		return fmtMap
	}
	return fmtOther
}

// --- classic broadcast: msgpack [uid, packet, opts] -------------------------

// decodeClassicBroadcast is the hot path: it reads the array straight into
// the Message, with generic values only for arguments and flags.
func decodeClassicBroadcast(m *Message, d *mpDecoder) error {
	b := d.src
	n, o, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return decodeErr("broadcast", err)
	}
	if n != 3 {
		return fmt.Errorf("broadcast array has %d elements, want 3 [uid, packet, opts]", n)
	}
	if m.Origin, o, err = d.readString(o); err != nil {
		return decodeErr("broadcast uid", err)
	}
	var extra map[string]any
	if o, err = d.readBroadcastPacket(m, o, &extra); err != nil {
		return err
	}
	if o, err = d.readBroadcastOpts(m, o, &extra); err != nil {
		return err
	}
	if len(o) != 0 {
		return fmt.Errorf("broadcast: %d bytes after the message", len(o))
	}
	if extra != nil {
		m.Data = extra
	}
	return nil
}

// readBroadcastPacket reads {type, data, nsp}. A packet type other than
// EVENT/BINARY_EVENT, an nsp other than the channel's, and unknown keys are
// kept in Data["packet"].
func (d *mpDecoder) readBroadcastPacket(m *Message, b []byte, extra *map[string]any) ([]byte, error) {
	n, o, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return b, decodeErr("broadcast packet", err)
	}
	if err := checkCount("broadcast packet", n, 2, o); err != nil {
		return b, err
	}
	var rest map[string]any
	keep := func(k string, v any) {
		if rest == nil {
			rest = map[string]any{}
		}
		rest[k] = v
	}
	for range n {
		var k []byte
		k, o, err = msgp.ReadMapKeyZC(o)
		if err != nil {
			return b, decodeErr("broadcast packet key", err)
		}
		key := d.str(k, o)
		switch key {
		case "data":
			if msgp.NextType(o) == msgp.ArrayType {
				if o, err = d.readEventData(m, o, 2); err != nil {
					return b, err
				}
				continue
			}
		case "type":
			var v any
			if v, o, err = d.readValue(o, 2); err != nil {
				return b, decodeErr("broadcast packet type", err)
			}
			if t, ok := asInt(v); !ok || (t != 2 && t != 5) {
				keep("type", v)
			}
			continue
		case "nsp":
			if msgp.NextType(o) == msgp.StrType {
				var s string
				if s, o, err = d.readString(o); err != nil {
					return b, decodeErr("broadcast packet nsp", err)
				}
				if s != m.Namespace {
					keep("nsp", s)
				}
				continue
			}
		}
		var v any
		if v, o, err = d.readValue(o, 2); err != nil {
			return b, decodeErr("broadcast packet", err)
		}
		keep(key, v)
	}
	if rest != nil {
		*extra = map[string]any{"packet": rest}
	}
	return o, nil
}

// readEventData reads the packet data array [event, ...args].
func (d *mpDecoder) readEventData(m *Message, b []byte, depth int) ([]byte, error) {
	n, o, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return b, decodeErr("packet data", err)
	}
	if err := checkCount("packet data", n, 1, o); err != nil {
		return b, err
	}
	if n == 0 {
		return o, nil
	}
	if msgp.NextType(o) == msgp.StrType {
		if m.Event, o, err = d.readString(o); err != nil {
			return b, decodeErr("event name", err)
		}
		n--
	}
	m.Args = make([]any, n)
	for i := range m.Args {
		if m.Args[i], o, err = d.readValue(o, depth+1); err != nil {
			return b, decodeErr("event argument", err)
		}
	}
	return o, nil
}

// readBroadcastOpts reads {rooms, except, flags}; anything else is kept in
// Data["opts"].
func (d *mpDecoder) readBroadcastOpts(m *Message, b []byte, extra *map[string]any) ([]byte, error) {
	n, o, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return b, decodeErr("broadcast opts", err)
	}
	if err := checkCount("broadcast opts", n, 2, o); err != nil {
		return b, err
	}
	var rest map[string]any
	for range n {
		var k []byte
		k, o, err = msgp.ReadMapKeyZC(o)
		if err != nil {
			return b, decodeErr("broadcast opts key", err)
		}
		key := d.str(k, o)
		if (key == "rooms" || key == "except") && msgp.NextType(o) == msgp.ArrayType {
			var rooms []string
			if rooms, o, err = d.readRooms(o, 2); err == nil {
				if key == "rooms" {
					m.Rooms = rooms
				} else {
					m.Except = rooms
				}
				continue
			}
			if !errors.Is(err, errRoomType) {
				return b, decodeErr("broadcast "+key, err)
			}
		}
		var v any
		if v, o, err = d.readValue(o, 2); err != nil {
			return b, decodeErr("broadcast opts", err)
		}
		if !liftOpt(m, key, v) {
			if rest == nil {
				rest = map[string]any{}
			}
			rest[key] = v
		}
	}
	if rest != nil {
		if *extra == nil {
			*extra = map[string]any{}
		}
		(*extra)["opts"] = rest
	}
	return o, nil
}

// --- generic bodies (classic requests/responses, envelopes) -----------------

// decodeObject decodes a JSON object or a msgpack map into a generic map.
func decodeObject(b []byte, format payloadFmt) (map[string]any, error) {
	if format == fmtJSON {
		return decodeJSONObject(b)
	}
	d := &mpDecoder{src: b}
	v, o, err := d.readMap(b, 1)
	if err != nil {
		return nil, decodeErr("body", err)
	}
	if len(o) != 0 {
		return nil, fmt.Errorf("body: %d bytes after the message", len(o))
	}
	return v, nil
}

// decodeJSONObject parses a JSON object, numbers kept exact (json.Number).
func decodeJSONObject(b []byte) (map[string]any, error) {
	if err := checkJSONDepth(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("json: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("json: data after the object")
	}
	if v == nil {
		return nil, errors.New("json: not an object")
	}
	return v, nil
}

// checkJSONDepth rejects JSON nested deeper than maxDepth before it is parsed.
func checkJSONDepth(b []byte) error {
	depth, inStr, esc := 0, false, false
	for _, c := range b {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			if depth++; depth > maxDepth {
				return errTooDeep
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// classicRequest fills m from a body on <key>-request#<nsp>#.
func classicRequest(m *Message, body map[string]any) error {
	code, err := takeType(body)
	if err != nil {
		return fmt.Errorf("request: %v", err)
	}
	takeOrigin(m, body)
	takeRequestID(m, body)
	liftOptsField(m, body)
	switch code {
	case classicBroadcast:
		if p, ok := body["packet"].(map[string]any); ok {
			if rest, ok := liftPacket(m, p); ok {
				setOrDelete(body, "packet", rest)
			}
		}
	case classicServerSideEmit:
		if d, ok := body["data"].([]any); ok {
			setEventArgs(m, d)
			delete(body, "data")
		}
	}
	setType(m, code, ClassicTypeName(code))
	setData(m, body)
	return nil
}

// classicResponse fills m from a body on <key>-response#<nsp>#[<uid>#].
// Only types 6, 8 and 9 carry a type; for the others the answered request
// type is inferred from the body.
func classicResponse(m *Message, body map[string]any) error {
	code, err := takeType(body)
	if errors.Is(err, errNoType) {
		code = inferResponseType(body)
	} else if err != nil {
		return fmt.Errorf("response: %v", err)
	}
	takeOrigin(m, body)
	takeRequestID(m, body)
	if code != NoType {
		setType(m, code, ClassicTypeName(code))
	}
	setData(m, body)
	return nil
}

// inferResponseType names the request a typeless classic response answers:
// {requestId, sockets:[{...}]} REMOTE_FETCH, {requestId, sockets:[ids]}
// SOCKETS (pre-8.0 peers), {requestId, rooms:[...]} ALL_ROOMS.
func inferResponseType(body map[string]any) int {
	if s, ok := body["sockets"].([]any); ok {
		if len(s) > 0 {
			if _, isID := s[0].(string); isID {
				return classicSockets
			}
		}
		return classicRemoteFetch
	}
	if _, ok := body["rooms"].([]any); ok {
		return classicAllRooms
	}
	return NoType
}

// decodeEnvelope fills m from a sharded/streams message {type, data, uid, nsp}.
func decodeEnvelope(m *Message, b []byte, format payloadFmt) error {
	env, err := decodeObject(b, format)
	if err != nil {
		return err
	}
	code, err := takeType(env)
	if err != nil {
		return fmt.Errorf("envelope: %v", err)
	}
	takeOrigin(m, env)
	if s, ok := env["nsp"].(string); ok && s == m.Namespace {
		delete(env, "nsp")
	}
	var rest map[string]any
	if data, ok := env["data"].(map[string]any); ok {
		delete(env, "data")
		takeRequestID(m, data)
		liftOptsField(m, data)
		switch code {
		case clusterBroadcast:
			if p, ok := data["packet"].(map[string]any); ok {
				if r, ok := liftPacket(m, p); ok {
					setOrDelete(data, "packet", r)
				}
			}
		case clusterServerSideEmit:
			if p, ok := data["packet"].([]any); ok {
				setEventArgs(m, p)
				delete(data, "packet")
			}
		}
		rest = data
	}
	// Envelope fields that were not lifted (an unexpected nsp, a data that is
	// not a map, unknown keys) are kept under "envelope".
	if len(env) > 0 {
		if rest == nil {
			rest = map[string]any{}
		}
		rest["envelope"] = env
	}
	m.Kind = clusterKind(code)
	setType(m, code, ClusterTypeName(code))
	setData(m, rest)
	return nil
}

// --- helpers over generic maps ----------------------------------------------

var errNoType = errors.New("no type field")

// takeType removes and returns the integer "type" field.
func takeType(body map[string]any) (int, error) {
	v, ok := body["type"]
	if !ok {
		return 0, errNoType
	}
	n, ok := asInt(v)
	if !ok {
		return 0, fmt.Errorf("type is not an integer: %s", describe(v))
	}
	delete(body, "type")
	return n, nil
}

// setType records the type; an unknown code makes the message unknown.
func setType(m *Message, code int, name string) {
	m.TypeCode, m.Type = code, name
	if name == "" {
		m.Kind = KindUnknown
		m.Problem = fmt.Sprintf("unknown %s message type %d", m.Adapter, code)
	}
}

func takeOrigin(m *Message, body map[string]any) {
	if s, ok := body["uid"].(string); ok {
		m.Origin = s
		delete(body, "uid")
	}
}

func takeRequestID(m *Message, body map[string]any) {
	switch v := body["requestId"].(type) {
	case string:
		m.RequestID = v
	case json.Number:
		m.RequestID = v.String()
	case int64:
		m.RequestID = strconv.FormatInt(v, 10)
	default:
		return
	}
	delete(body, "requestId")
}

// liftOptsField lifts body["opts"] into Rooms/Except/Flags; what is left
// of it stays in the body.
func liftOptsField(m *Message, body map[string]any) {
	opts, ok := body["opts"].(map[string]any)
	if !ok {
		return
	}
	for k, v := range opts {
		if liftOpt(m, k, v) {
			delete(opts, k)
		}
	}
	setOrDelete(body, "opts", opts)
}

// liftOpt stores one opts entry in m if it has the expected shape.
func liftOpt(m *Message, k string, v any) bool {
	switch k {
	case "rooms", "except":
		list, ok := v.([]any)
		if !ok {
			return false
		}
		rooms := make([]string, 0, len(list))
		for _, r := range list {
			s, ok := scalarText(r)
			if !ok {
				return false
			}
			rooms = append(rooms, s)
		}
		if k == "rooms" {
			m.Rooms = rooms
		} else {
			m.Except = rooms
		}
		return true
	case "flags":
		f, ok := v.(map[string]any)
		if ok {
			m.Flags = f
		}
		return ok
	}
	return false
}

// liftPacket lifts a packet {type, data, nsp} into Event/Args. It reports
// false (nothing lifted) when data is not an array; otherwise it returns
// what is left of the packet: a type other than EVENT/BINARY_EVENT, an nsp
// other than the channel's, unknown keys.
func liftPacket(m *Message, p map[string]any) (map[string]any, bool) {
	data, ok := p["data"].([]any)
	if !ok {
		return nil, false
	}
	setEventArgs(m, data)
	delete(p, "data")
	if t, ok := asInt(p["type"]); ok && (t == 2 || t == 5) {
		delete(p, "type")
	}
	if s, ok := p["nsp"].(string); ok && s == m.Namespace {
		delete(p, "nsp")
	}
	return p, true
}

// setEventArgs splits [event, ...args].
func setEventArgs(m *Message, data []any) {
	if len(data) > 0 {
		if ev, ok := data[0].(string); ok {
			m.Event = ev
			data = data[1:]
		}
	}
	m.Args = data
}

func setOrDelete(body map[string]any, k string, v map[string]any) {
	if len(v) == 0 {
		delete(body, k)
	} else {
		body[k] = v
	}
}

func setData(m *Message, rest map[string]any) {
	if len(rest) > 0 {
		m.Data = rest
	}
}

// asInt accepts the integer encodings of msgpack and JSON.
func asInt(v any) (int, bool) {
	const limit = 1 << 31
	switch v := v.(type) {
	case int64:
		if v > -limit && v < limit {
			return int(v), true
		}
	case uint64:
		if v < limit {
			return int(v), true
		}
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 32); err == nil {
			return int(n), true
		}
	case float64:
		if v == float64(int32(v)) {
			return int(v), true
		}
	}
	return 0, false
}

func describe(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > 20 {
			v = v[:20] + "..."
		}
		return strconv.Quote(v)
	case json.Number:
		return v.String()
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
