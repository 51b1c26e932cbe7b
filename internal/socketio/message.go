// Package socketio decodes the pub/sub traffic of the Socket.IO Redis
// adapters (@socket.io/redis-adapter classic and sharded, and the pub/sub
// part of @socket.io/redis-streams-adapter) into Messages.
//
// It is pure: a channel name and payload bytes go in, a Message comes out.
// There is no I/O, and no input makes it panic; anything it cannot decode
// becomes a Message of Kind "unknown" carrying the raw bytes and a reason.
// testdata/fixtures/socketio-redis-adapter/ holds messages the real adapters
// published, one .bin file per message, described in its cases.json.
package socketio

import (
	"encoding/base64"
	"strconv"
	"time"
)

// DefaultKey is the adapter's default key (classic) / channel prefix (sharded).
const DefaultKey = "socket.io"

// Kinds of Message.
const (
	KindBroadcast = "broadcast"
	KindRequest   = "request"
	KindResponse  = "response"
	KindUnknown   = "unknown"
)

// Adapters that produce traffic.
const (
	AdapterClassic = "classic" // createAdapter: PUBLISH/PSUBSCRIBE
	AdapterSharded = "sharded" // createShardedAdapter: SPUBLISH/SSUBSCRIBE
	AdapterStreams = "streams" // redis-streams-adapter, its pub/sub part
)

// Encodings of a payload.
const (
	EncodingMsgpack = "msgpack"
	EncodingJSON    = "json"
)

// NoType is the TypeCode of a message that carries no request/message type
// (classic broadcasts, and classic responses whose type cannot be inferred).
const NoType = -1

// Options tune Decode.
type Options struct {
	// Key is the adapter's key (classic) or channelPrefix (sharded).
	// Empty means DefaultKey.
	Key string
	// Sharded says the traffic came from the sharded adapter (SPUBLISH,
	// seen through MONITOR or SSUBSCRIBE). It is only a hint: every payload
	// decodes the same without it. It decides one label: a msgpack envelope
	// on a `<key>#<nsp>#...` channel is reported as adapter "sharded" with
	// the hint and "streams" without it (the streams adapter PUBLISHes the
	// same envelope shape, and PSUBSCRIBE never sees SPUBLISH traffic).
	Sharded bool
}

// Message is one decoded pub/sub message. Its JSON form (encoding/json with
// these tags, or the faster AppendJSON) is one `pubsub tail -o json` line.
//
// Field rules:
//   - Kind is broadcast, request, response or unknown. Classic messages take
//     it from the channel (an acknowledged broadcast, type 7, travels on the
//     request channel and is a "request"). Sharded and streams envelopes take
//     it from the message type: BROADCAST (3) is a broadcast; the response
//     types 8, 10, 11, 12 are responses; every other type is a request.
//   - Event and Args come from broadcast packets and server-side emits
//     (`[event, ...args]`). Args hold JSON-ready values: strings, bools, nil,
//     int64/uint64/float64/json.Number, []any, map[string]any, Binary for
//     msgpack bin and ArrayBuffers, RFC 3339 strings for dates, and the
//     strings "NaN", "Infinity", "-Infinity" for non-finite floats.
//   - Rooms, Except and Flags come from the broadcast/request `opts`.
//   - Type/TypeCode name the message type: the classic request table for
//     classic traffic, the cluster table for sharded/streams. A classic
//     response without a `type` field gets the type of the request it
//     answers when the body shows it (`sockets` -> REMOTE_FETCH, `rooms` ->
//     ALL_ROOMS); otherwise Type is "" and TypeCode is NoType.
//   - Data holds every body field not lifted into another field (for
//     example sockets, rooms, clientCount, close); nil when there are none.
//   - Raw and Problem are set for unknown messages only; the caller may set
//     Raw itself when the user asks for raw bytes.
type Message struct {
	Time        time.Time      `json:"time"`
	Channel     string         `json:"channel"`
	Kind        string         `json:"kind"`
	Adapter     string         `json:"adapter"`
	Encoding    string         `json:"encoding"`
	Namespace   string         `json:"namespace"`
	ChannelRoom string         `json:"channel_room"`
	Event       string         `json:"event"`
	Args        []any          `json:"args"`
	Rooms       []string       `json:"rooms"`
	Except      []string       `json:"except"`
	Flags       map[string]any `json:"flags"`
	Origin      string         `json:"origin"`
	Type        string         `json:"type"`
	TypeCode    int            `json:"type_code"`
	RequestID   string         `json:"request_id"`
	Data        any            `json:"data,omitempty"`
	Raw         []byte         `json:"raw,omitempty"`
	Problem     string         `json:"problem,omitempty"`
}

// Binary is a binary value (msgpack bin, a notepack ArrayBuffer, or the
// payload of an unknown msgpack extension). In JSON it is
// {"binary":"<base64>","size":N}.
type Binary struct{ Data []byte }

// MarshalJSON implements json.Marshaler.
func (b Binary) MarshalJSON() ([]byte, error) {
	return appendBinary(make([]byte, 0, 32+base64.StdEncoding.EncodedLen(len(b.Data))), b), nil
}

func appendBinary(dst []byte, b Binary) []byte {
	dst = append(dst, `{"binary":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, b.Data)
	dst = append(dst, `","size":`...)
	dst = strconv.AppendInt(dst, int64(len(b.Data)), 10)
	return append(dst, '}')
}

// Classic adapter request types (channel <key>-request#<nsp>#), table 2.4.
var classicTypeNames = [...]string{
	0: "SOCKETS",
	1: "ALL_ROOMS",
	2: "REMOTE_JOIN",
	3: "REMOTE_LEAVE",
	4: "REMOTE_DISCONNECT",
	5: "REMOTE_FETCH",
	6: "SERVER_SIDE_EMIT",
	7: "BROADCAST",
	8: "BROADCAST_CLIENT_COUNT",
	9: "BROADCAST_ACK",
}

// Cluster message types (sharded and streams adapters), table 3.2.
var clusterTypeNames = [...]string{
	1:  "INITIAL_HEARTBEAT",
	2:  "HEARTBEAT",
	3:  "BROADCAST",
	4:  "SOCKETS_JOIN",
	5:  "SOCKETS_LEAVE",
	6:  "DISCONNECT_SOCKETS",
	7:  "FETCH_SOCKETS",
	8:  "FETCH_SOCKETS_RESPONSE",
	9:  "SERVER_SIDE_EMIT",
	10: "SERVER_SIDE_EMIT_RESPONSE",
	11: "BROADCAST_CLIENT_COUNT",
	12: "BROADCAST_ACK",
	13: "ADAPTER_CLOSE",
}

// Classic request type codes used by the decoder.
const (
	classicSockets        = 0
	classicAllRooms       = 1
	classicRemoteFetch    = 5
	classicServerSideEmit = 6
	classicBroadcast      = 7
)

// Cluster type codes used by the decoder.
const (
	clusterBroadcast      = 3
	clusterServerSideEmit = 9
)

// ClassicTypeName is the name of a classic request type, "" if unknown.
func ClassicTypeName(code int) string {
	if code < 0 || code >= len(classicTypeNames) {
		return ""
	}
	return classicTypeNames[code]
}

// ClusterTypeName is the name of a sharded/streams message type, "" if unknown.
func ClusterTypeName(code int) string {
	if code < 0 || code >= len(clusterTypeNames) {
		return ""
	}
	return clusterTypeNames[code]
}

// clusterKind maps a known cluster message type to a Message Kind.
func clusterKind(code int) string {
	switch code {
	case 3:
		return KindBroadcast
	case 8, 10, 11, 12:
		return KindResponse
	}
	return KindRequest
}
