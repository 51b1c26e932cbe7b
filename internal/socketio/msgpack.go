package socketio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// maxDepth bounds the nesting of arrays and maps in a payload. Real
// Socket.IO traffic nests a handful of levels (a fetchSockets reply: 5).
const maxDepth = 64

var (
	errTooDeep  = fmt.Errorf("nested deeper than %d levels", maxDepth)
	errRoomType = errors.New("a room is not a string or number")
)

// decodeErr turns an error from the msgp readers into a short reason.
func decodeErr(what string, err error) error {
	switch {
	case errors.Is(err, msgp.ErrShortBytes):
		return fmt.Errorf("%s: truncated", what)
	case errors.Is(err, errTooDeep):
		return err
	}
	var te msgp.TypeError
	if errors.As(err, &te) {
		return fmt.Errorf("%s: want %s, got %s", what, te.Method, te.Encoded)
	}
	return fmt.Errorf("%s: %v", what, err)
}

// checkCount guards a declared element count against the bytes left: every
// element needs at least one byte (per entry of a map: two), so a larger
// count is a lie and nothing is allocated for it.
func checkCount(what string, n uint32, perElem uint64, rest []byte) error {
	if uint64(n)*perElem > uint64(len(rest)) {
		return fmt.Errorf("%s header declares %d elements but only %d bytes remain", what, n, len(rest))
	}
	return nil
}

// mpDecoder reads msgpack values out of one payload. All decoded strings
// are substrings of one copy of the payload (one allocation instead of one
// per string); the readers below only ever pass on suffixes of src, which
// is what str relies on.
type mpDecoder struct {
	src []byte
	all string // src as a string: a copy made on first use
}

// str returns v, which ends where rest begins, as a substring of the copy.
func (d *mpDecoder) str(v, rest []byte) string {
	if d.all == "" {
		d.all = string(d.src)
	}
	end := len(d.src) - len(rest)
	if end < len(v) || end > len(d.all) {
		return string(v) // not a suffix of src: cannot happen, stay correct anyway
	}
	return d.all[end-len(v) : end]
}

// readString reads a msgpack str.
func (d *mpDecoder) readString(b []byte) (string, []byte, error) {
	v, o, err := msgp.ReadStringZC(b)
	if err != nil {
		return "", b, err
	}
	return d.str(v, o), o, nil
}

// readValue decodes one msgpack value into a JSON-ready Go value (see
// Message.Args). depth is the nesting level of the value's container.
func (d *mpDecoder) readValue(b []byte, depth int) (any, []byte, error) {
	if len(b) == 0 {
		return nil, b, msgp.ErrShortBytes
	}
	switch t := msgp.NextType(b); t {
	case msgp.StrType:
		return d.readString(b)
	case msgp.BinType:
		v, o, err := msgp.ReadBytesZC(b)
		if err != nil {
			return nil, b, err
		}
		return Binary{Data: clone(v)}, o, nil
	case msgp.MapType:
		return d.readMap(b, depth+1)
	case msgp.ArrayType:
		return d.readArray(b, depth+1)
	case msgp.Float64Type, msgp.Float32Type:
		f, o, err := msgp.ReadFloat64Bytes(b)
		if err != nil {
			return nil, b, err
		}
		return jsonFloat(f), o, nil
	case msgp.IntType:
		i, o, err := msgp.ReadInt64Bytes(b)
		if err != nil {
			return nil, b, err
		}
		return i, o, nil
	case msgp.UintType:
		u, o, err := msgp.ReadUint64Bytes(b)
		if err != nil {
			return nil, b, err
		}
		if u <= math.MaxInt64 {
			return int64(u), o, nil
		}
		return u, o, nil
	case msgp.BoolType:
		v, o, err := msgp.ReadBoolBytes(b)
		return v, o, err
	case msgp.NilType:
		o, err := msgp.ReadNilBytes(b)
		return nil, o, err
	case msgp.ExtensionType, msgp.TimeType, msgp.Complex64Type, msgp.Complex128Type:
		return readExt(b)
	default:
		return nil, b, fmt.Errorf("invalid msgpack byte 0x%02x", b[0])
	}
}

func (d *mpDecoder) readArray(b []byte, depth int) ([]any, []byte, error) {
	if depth > maxDepth {
		return nil, b, errTooDeep
	}
	n, o, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return nil, b, err
	}
	if err := checkCount("array", n, 1, o); err != nil {
		return nil, b, err
	}
	out := make([]any, n)
	for i := range out {
		out[i], o, err = d.readValue(o, depth)
		if err != nil {
			return nil, b, err
		}
	}
	return out, o, nil
}

func (d *mpDecoder) readMap(b []byte, depth int) (map[string]any, []byte, error) {
	if depth > maxDepth {
		return nil, b, errTooDeep
	}
	n, o, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return nil, b, err
	}
	if err := checkCount("map", n, 2, o); err != nil {
		return nil, b, err
	}
	out := make(map[string]any, n)
	for range n {
		var k string
		k, o, err = d.readKey(o, depth)
		if err != nil {
			return nil, b, err
		}
		out[k], o, err = d.readValue(o, depth)
		if err != nil {
			return nil, b, err
		}
	}
	return out, o, nil
}

// readKey reads a map key. JavaScript only produces string keys; other
// scalars are turned into their text, containers are rejected.
func (d *mpDecoder) readKey(b []byte, depth int) (string, []byte, error) {
	if len(b) > 0 && msgp.NextType(b) == msgp.StrType {
		return d.readString(b)
	}
	v, o, err := d.readValue(b, depth)
	if err != nil {
		return "", b, err
	}
	s, ok := scalarText(v)
	if !ok {
		return "", b, fmt.Errorf("map key of type %T", v)
	}
	return s, o, nil
}

// scalarText is the text of a scalar value, as JavaScript's String() would
// give it for the values msgpack carries.
func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "null", true
	case Binary:
		return string(v.Data), true
	}
	return "", false
}

// readExt decodes a msgpack extension:
//   - type -1, the msgpack timestamp (notepack 3 dates): an RFC 3339 string;
//   - type 0 (notepack 2.x): fixext1 is undefined (nil), fixext8 is a Date
//     as int64 milliseconds, any other length is an ArrayBuffer (Binary);
//   - anything else: {"ext_type": n, "data": Binary}.
func readExt(b []byte) (any, []byte, error) {
	typ, data, o, err := extHeader(b)
	if err != nil {
		return nil, b, err
	}
	switch {
	case typ == -1:
		if t, o2, err := msgp.ReadTimeUTCBytes(b); err == nil {
			return t.Format(time.RFC3339Nano), o2, nil
		}
	case typ == 0 && b[0] == 0xd4: // fixext1: notepack 2.x undefined
		return nil, o, nil
	case typ == 0 && b[0] == 0xd7: // fixext8: notepack 2.x Date
		ms := int64(binary.BigEndian.Uint64(data))
		return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), o, nil
	case typ == 0:
		return Binary{Data: clone(data)}, o, nil
	}
	return map[string]any{"ext_type": int64(typ), "data": Binary{Data: clone(data)}}, o, nil
}

// extHeader splits an extension into its type, its data and the rest.
func extHeader(b []byte) (typ int8, data, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, b, msgp.ErrShortBytes
	}
	var size uint64
	var off int
	switch b[0] {
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		size, off = 1<<(b[0]-0xd4), 2
		typ = int8(b[1])
	case 0xc7: // ext 8
		if len(b) < 3 {
			return 0, nil, b, msgp.ErrShortBytes
		}
		size, off, typ = uint64(b[1]), 3, int8(b[2])
	case 0xc8: // ext 16
		if len(b) < 4 {
			return 0, nil, b, msgp.ErrShortBytes
		}
		size, off, typ = uint64(binary.BigEndian.Uint16(b[1:])), 4, int8(b[3])
	case 0xc9: // ext 32
		if len(b) < 6 {
			return 0, nil, b, msgp.ErrShortBytes
		}
		size, off, typ = uint64(binary.BigEndian.Uint32(b[1:])), 6, int8(b[5])
	default:
		return 0, nil, b, fmt.Errorf("invalid msgpack byte 0x%02x", b[0])
	}
	if size > uint64(len(b)-off) {
		return 0, nil, b, msgp.ErrShortBytes
	}
	end := off + int(size)
	return typ, b[off:end], b[end:], nil
}

// jsonFloat keeps finite floats and names the others the way JavaScript
// prints them, so every value stays representable in JSON.
func jsonFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	return append([]byte(nil), b...)
}

// readRooms reads an array of rooms straight into strings; numeric rooms
// (io.to(userId)) become their decimal text.
func (d *mpDecoder) readRooms(b []byte, depth int) ([]string, []byte, error) {
	n, o, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return nil, b, err
	}
	if err := checkCount("rooms", n, 1, o); err != nil {
		return nil, b, err
	}
	out := make([]string, n)
	for i := range out {
		if msgp.NextType(o) == msgp.StrType {
			if out[i], o, err = d.readString(o); err != nil {
				return nil, b, err
			}
			continue
		}
		var v any
		if v, o, err = d.readValue(o, depth+1); err != nil {
			return nil, b, err
		}
		s, ok := scalarText(v)
		if !ok {
			return nil, b, errRoomType
		}
		out[i] = s
	}
	return out, o, nil
}
