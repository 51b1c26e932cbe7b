package socketio

import (
	"fmt"
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
func Decode(channel string, payload []byte, opts Options) (m Message) {
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
			err = decodeClassicBroadcast(&m, &mpDecoder{src: payload})
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
