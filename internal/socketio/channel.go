package socketio

import (
	"strings"

	"github.com/oxyhq/oxyctl/internal/glob"
)

// ChannelInfo is what a channel name says about a message.
type ChannelInfo struct {
	Key       string // the adapter key the channel was parsed with
	Namespace string // "/", "/chat", ...
	// Kind is "broadcast" for `<key>#<nsp>#[<room>#]`, "request" for
	// `<key>-request#<nsp>#`, "response" for `<key>-response#<nsp>#[<uid>#]`.
	// Sharded and streams traffic uses only broadcast-shaped names; there the
	// message type decides (see Message).
	Kind string
	// Room is the room of a broadcast-shaped channel (`<key>#<nsp>#<room>#`).
	// With the sharded adapter it may instead be the uid of a response
	// channel; only the message type tells which.
	Room string
	// UID is the requester uid of a classic per-uid response channel
	// (`<key>-response#<nsp>#<uid>#`).
	UID string
}

// ParseChannel splits an adapter channel name for the given key ("" means
// DefaultKey). It reports false for a channel of another key or of another
// shape. A namespace always starts with "/" (Socket.IO adds it); it is
// taken up to the first "#", and a room is everything between the
// namespace's "#" and the final "#" (rooms may contain "#").
func ParseChannel(key, channel string) (ChannelInfo, bool) {
	if key == "" {
		key = DefaultKey
	}
	rest, ok := strings.CutPrefix(channel, key)
	if !ok {
		return ChannelInfo{}, false
	}
	info := ChannelInfo{Key: key}
	switch {
	case strings.HasPrefix(rest, "#"):
		info.Kind, rest = KindBroadcast, rest[1:]
	case strings.HasPrefix(rest, "-request#"):
		info.Kind, rest = KindRequest, rest[len("-request#"):]
	case strings.HasPrefix(rest, "-response#"):
		info.Kind, rest = KindResponse, rest[len("-response#"):]
	default:
		return ChannelInfo{}, false
	}
	nsp, tail, ok := strings.Cut(rest, "#")
	if !ok || !strings.HasPrefix(nsp, "/") {
		return ChannelInfo{}, false
	}
	info.Namespace = nsp
	if tail == "" {
		return info, true
	}
	suffix, ok := strings.CutSuffix(tail, "#")
	if !ok {
		return ChannelInfo{}, false
	}
	switch info.Kind {
	case KindBroadcast:
		info.Room = suffix
	case KindResponse:
		if suffix == "" || strings.Contains(suffix, "#") {
			return ChannelInfo{}, false
		}
		info.UID = suffix
	default: // request channels have no suffix
		return ChannelInfo{}, false
	}
	return info, true
}

// BroadcastChannel is `<key>#<nsp>#` or, with a room, `<key>#<nsp>#<room>#`.
// For the sharded adapter it is also the main channel, and with a uid in
// place of the room, a server's response channel.
func BroadcastChannel(key, nsp, room string) string {
	if key == "" {
		key = DefaultKey
	}
	if room == "" {
		return key + "#" + nsp + "#"
	}
	return key + "#" + nsp + "#" + room + "#"
}

// RequestChannel is `<key>-request#<nsp>#`. Its NUMSUB counts the servers of
// the namespace (classic adapter). Never SUBSCRIBE to it: that raises the
// adapter's server count and makes fetchSockets() time out.
func RequestChannel(key, nsp string) string {
	if key == "" {
		key = DefaultKey
	}
	return key + "-request#" + nsp + "#"
}

// Patterns are the PSUBSCRIBE patterns that catch all classic adapter
// traffic of a key (and the streams adapter's pub/sub part):
// `<key>#*`, `<key>-request#*`, `<key>-response#*`, with glob characters in
// the key escaped.
//
// Three patterns rather than `<key>*`, so that a key that merely starts with
// this one ("socket.io2", "socket.iox") is not caught. What they cannot
// separate is inherent in the adapter's naming: the broadcast channels of a
// key `<key>-request` or `<key>-response` are this key's request/response
// channels (the adapter itself would cross-deliver them), and a key
// containing "#" can alias a namespace. Such keys are not worth supporting.
func Patterns(key string) []string {
	if key == "" {
		key = DefaultKey
	}
	k := GlobEscape(key)
	return []string{k + "#*", k + "-request#*", k + "-response#*"}
}

// NamespacePatterns are the PSUBSCRIBE patterns for one namespace:
// `<key>#<nsp>#*`, `<key>-request#<nsp>#`, `<key>-response#<nsp>#*`.
// "/" does not catch "/chat": after "/" the name goes on with "#".
func NamespacePatterns(key, nsp string) []string {
	if key == "" {
		key = DefaultKey
	}
	k, n := GlobEscape(key), GlobEscape(nsp)
	return []string{k + "#" + n + "#*", k + "-request#" + n + "#", k + "-response#" + n + "#*"}
}

// ResponseChannelsPattern is the PUBSUB CHANNELS pattern that lists every
// classic response channel of a key: the shared `<key>-response#<nsp>#` of
// each namespace plus one `<key>-response#<nsp>#<uid>#` per live server.
func ResponseChannelsPattern(key string) string {
	if key == "" {
		key = DefaultKey
	}
	return GlobEscape(key) + "-response#*"
}

// ShardChannelsPattern is the PUBSUB SHARDCHANNELS pattern for the sharded
// adapter's channels of a prefix: main, room and response channels.
func ShardChannelsPattern(key string) string {
	if key == "" {
		key = DefaultKey
	}
	return GlobEscape(key) + "#*"
}

// GlobEscape escapes glob characters in a key or namespace (see glob.Escape).
func GlobEscape(s string) string { return glob.Escape(s) }

// IsShardedUID reports whether s looks like a sharded/streams adapter uid or
// request id: 16 lowercase hex characters.
func IsShardedUID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
