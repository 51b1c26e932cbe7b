package socketio

import (
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

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

// --- classic requests/responses: a map on <key>-request# or -response# ------

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
