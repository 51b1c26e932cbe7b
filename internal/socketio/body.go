package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

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
