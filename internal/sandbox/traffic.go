package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tinylib/msgp/msgp"
	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/ratelimit"
)

// Rate-limit counters, written the way rate-limit-redis writes them: one
// string per client holding the hit count, with a millisecond expiry at
// the end of the fixed 15-minute window.
type counter struct {
	Key    string
	Hits   int64
	PTTLms int64 // 0: no expiry (the anomaly a DECR on a missing key leaves)
}

// Counters are the sandbox's clients: some normal, one blocked (152 > 150),
// IPv6 subnet keys as express-rate-limit 8 writes them, and one anomaly.
var Counters = []counter{
	{"rl:198.51.100.23", 152, 611_000},
	{"rl:203.0.113.7", 42, 845_000},
	{"rl:203.0.113.50", 149, 301_000},
	{"rl:192.0.2.10", 7, 899_000},
	{"rl:2001:db8:abcd:1200::/56", 88, 512_000},
	{"rl:2a02:c7c:1234:5600::/56", 3, 120_000},
	{"rl:127.0.0.1", 1, 899_990},
	{"rl:203.0.113.99", -1, 0},
	{"rl-auth:198.51.100.23", 6, 60_000},
}

func seed(ctx context.Context, c valkey.Client) error {
	// The API's limiter loads its scripts when it starts (health's
	// ratelimit check looks for them).
	for _, s := range ratelimit.Scripts {
		if s.Version == "6.0.1" {
			if err := c.Do(ctx, c.B().ScriptLoad().Script(s.Text).Build()).Error(); err != nil {
				return fmt.Errorf("loading the %s script: %w", s.Role, err)
			}
		}
	}
	for _, k := range Counters {
		var cmd valkey.Completed
		if k.PTTLms > 0 {
			cmd = c.B().Set().Key(k.Key).Value(fmt.Sprint(k.Hits)).Px(time.Duration(k.PTTLms) * time.Millisecond).Build()
		} else {
			cmd = c.B().Set().Key(k.Key).Value(fmt.Sprint(k.Hits)).Build()
		}
		if err := c.Do(ctx, cmd).Error(); err != nil {
			return fmt.Errorf("seeding %s: %w", k.Key, err)
		}
	}
	return nil
}

// Counters are kept alive while the sandbox serves: a counter with less than
// refreshMargin left is written again with its hits and its full time to live,
// checked every refreshEvery. SET XX: a counter that `limits reset` deleted
// stays deleted, as a client's does until its next request.
const (
	refreshEvery  = 10 * time.Second
	refreshMargin = 30 * time.Second
)

// keepAlive refreshes the counters every `every` until ctx ends, so that an
// hour into `--serve` `limits list` still shows the demo clients.
func keepAlive(ctx context.Context, c valkey.Client, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = refresh(ctx, c)
		}
	}
}

// refresh writes again every counter that would expire within refreshMargin.
func refresh(ctx context.Context, c valkey.Client) error {
	for _, k := range Counters {
		if k.PTTLms <= 0 {
			continue // the anomaly never expires
		}
		left, err := c.Do(ctx, c.B().Pttl().Key(k.Key).Build()).AsInt64()
		if err != nil {
			return err
		}
		if left < 0 || time.Duration(left)*time.Millisecond >= refreshMargin {
			continue // gone (reset, or expired while the machine slept) or not due yet
		}
		cmd := c.B().Set().Key(k.Key).Value(fmt.Sprint(k.Hits)).Xx().Px(time.Duration(k.PTTLms) * time.Millisecond).Build()
		if err := c.Do(ctx, cmd).Error(); err != nil && !valkey.IsValkeyNil(err) {
			return fmt.Errorf("refreshing %s: %w", k.Key, err)
		}
	}
	return nil
}

// Two API instances, as the classic adapter names them: 6-character uids.
var instanceUIDs = []string{"9UUkUo", "bYMSRr"}

// instances subscribe the way two adapter instances of namespace "/" do,
// each on one connection: the broadcast pattern, the request channel and
// the response channels, so `pubsub channels`, `clients` and the health
// check see two.
func instances(ctx context.Context, c valkey.Client, key string) []func() {
	var stops []func()
	for _, uid := range instanceUIDs {
		dc, cancel := c.Dedicate()
		dc.SetPubSubHooks(valkey.PubSubHooks{OnMessage: func(valkey.PubSubMessage) {}})
		channels := []string{key + "-request#/#", key + "-response#/#", key + "-response#/#" + uid + "#"}
		_ = dc.Do(ctx, dc.B().Psubscribe().Pattern(key+"#/#*").Build()).Error()
		_ = dc.Do(ctx, dc.B().Subscribe().Channel(channels...).Build()).Error()
		stops = append(stops, func() { cancel() })
	}
	return stops
}

// broadcast is the classic adapter's [uid, packet, opts] array in msgpack,
// byte for byte as notepack.io writes it.
func broadcast(uid, nsp string, data []any, rooms, except []string, flags map[string]any) []byte {
	b := msgp.AppendArrayHeader(nil, 3)
	b = msgp.AppendString(b, uid)
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "type")
	b = msgp.AppendInt(b, 2)
	b = msgp.AppendString(b, "data")
	b = appendValue(b, data)
	b = msgp.AppendString(b, "nsp")
	b = msgp.AppendString(b, nsp)
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "rooms")
	b = appendValue(b, toAny(rooms))
	b = msgp.AppendString(b, "except")
	b = appendValue(b, toAny(except))
	b = msgp.AppendString(b, "flags")
	b = appendValue(b, flags)
	return b
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

type kv struct {
	k string
	v any
}

// appendValue encodes JS-like values; ordered maps ([]kv) keep key order.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return msgp.AppendNil(b)
	case string:
		return msgp.AppendString(b, x)
	case int:
		if x >= 0 {
			return msgp.AppendUint(b, uint(x))
		}
		return msgp.AppendInt(b, x)
	case float64:
		return msgp.AppendFloat64(b, x)
	case bool:
		return msgp.AppendBool(b, x)
	case []byte:
		return msgp.AppendBytes(b, x)
	case []any:
		b = msgp.AppendArrayHeader(b, uint32(len(x)))
		for _, e := range x {
			b = appendValue(b, e)
		}
		return b
	case []kv:
		b = msgp.AppendMapHeader(b, uint32(len(x)))
		for _, e := range x {
			b = msgp.AppendString(b, e.k)
			b = appendValue(b, e.v)
		}
		return b
	case map[string]any:
		b = msgp.AppendMapHeader(b, uint32(len(x)))
		for k, e := range x {
			b = msgp.AppendString(b, k)
			b = appendValue(b, e)
		}
		return b
	}
	panic(fmt.Sprintf("sandbox: cannot encode %T", v))
}

type message struct {
	channel string
	payload []byte
}

// script is the traffic the sandbox keeps publishing, one message a tick.
func script(key string) []message {
	a, b := instanceUIDs[0], instanceUIDs[1]
	fetch, _ := json.Marshal(map[string]any{"uid": b, "requestId": "k3Ja9Q", "type": 5, "opts": map[string]any{"rooms": []string{"room1"}, "except": []string{}}})
	return []message{
		{key + "#/#", broadcast(a, "/", []any{"news", []kv{{"hello", "world"}, {"n", 1}}}, nil, nil, map[string]any{})},
		{key + "#/#room1#", broadcast(b, "/", []any{"roomEvent", "x", 42}, []string{"room1"}, nil, map[string]any{})},
		{key + "#/chat#lobby#", broadcast(a, "/chat", []any{"message", []kv{{"from", "ana"}, {"text", "hola ✓"}}}, []string{"lobby"}, []string{"Z6MFtBVx63TH_cSyAAAB"}, map[string]any{})},
		{key + "#/#", broadcast(b, "/", []any{"file", []byte{0xde, 0xad, 0xbe, 0xef}, []kv{{"name", "x.bin"}}}, nil, nil, map[string]any{"volatile": true})},
		{key + "-request#/#", fetch},
	}
}

func publish(ctx context.Context, c valkey.Client, key string, every time.Duration) {
	msgs := script(key)
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		m := msgs[i%len(msgs)]
		_ = c.Do(ctx, c.B().Publish().Channel(m.channel).Message(valkey.BinaryString(m.payload)).Build()).Error()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
