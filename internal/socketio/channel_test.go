package socketio

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/valkey-io/valkey-go"
)

func TestParseChannel(t *testing.T) {
	tests := []struct {
		key, channel string
		ok           bool
		want         ChannelInfo
	}{
		{"", "socket.io#/#", true, ChannelInfo{Key: "socket.io", Namespace: "/", Kind: KindBroadcast}},
		{"socket.io", "socket.io#/#room1#", true, ChannelInfo{Key: "socket.io", Namespace: "/", Kind: KindBroadcast, Room: "room1"}},
		{"socket.io", "socket.io#/chat#lobby#", true, ChannelInfo{Key: "socket.io", Namespace: "/chat", Kind: KindBroadcast, Room: "lobby"}},
		{"socket.io", "socket.io#/#a#b#", true, ChannelInfo{Key: "socket.io", Namespace: "/", Kind: KindBroadcast, Room: "a#b"}},
		{"socket.io", "socket.io#/##", true, ChannelInfo{Key: "socket.io", Namespace: "/", Kind: KindBroadcast}},
		{"socket.io", "socket.io-request#/#", true, ChannelInfo{Key: "socket.io", Namespace: "/", Kind: KindRequest}},
		{"socket.io", "socket.io-request#/chat#", true, ChannelInfo{Key: "socket.io", Namespace: "/chat", Kind: KindRequest}},
		{"socket.io", "socket.io-response#/#", true, ChannelInfo{Key: "socket.io", Namespace: "/", Kind: KindResponse}},
		{"oxy", "oxy-response#/#weUNzf#", true, ChannelInfo{Key: "oxy", Namespace: "/", Kind: KindResponse, UID: "weUNzf"}},
		{"oxy", "oxy#/#", true, ChannelInfo{Key: "oxy", Namespace: "/", Kind: KindBroadcast}},
		{"socket.io", "socket.io-request#/#x#", false, ChannelInfo{}},
		{"socket.io", "socket.io-response#/#a#b#", false, ChannelInfo{}},
		{"socket.io", "socket.io-response#/##", false, ChannelInfo{}},
		{"socket.io", "socket.io2#/#", false, ChannelInfo{}},
		{"socket.io", "socket.io-requests#/#", false, ChannelInfo{}},
		{"socket.io", "socket.io#chat#", false, ChannelInfo{}},
		{"socket.io", "socket.io#/", false, ChannelInfo{}},
		{"socket.io", "socket.io#/#room", false, ChannelInfo{}},
		{"socket.io", "socket.io#", false, ChannelInfo{}},
		{"socket.io", "socket.io", false, ChannelInfo{}},
		{"socket.io", "", false, ChannelInfo{}},
		{"oxy", "socket.io#/#", false, ChannelInfo{}},
	}
	for _, tc := range tests {
		got, ok := ParseChannel(tc.key, tc.channel)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseChannel(%q, %q) = %+v, %v; want %+v, %v", tc.key, tc.channel, got, ok, tc.want, tc.ok)
		}
	}
}

// responseChannel is `<key>-response#<nsp>#`, or with a uid the per-server
// channel `<key>-response#<nsp>#<uid>#`. The tests publish on it; oxyctl
// itself only parses these names and lists them by pattern.
func responseChannel(key, nsp, uid string) string {
	if key == "" {
		key = DefaultKey
	}
	if uid == "" {
		return key + "-response#" + nsp + "#"
	}
	return key + "-response#" + nsp + "#" + uid + "#"
}

func TestChannelNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{BroadcastChannel("", "/", ""), "socket.io#/#"},
		{BroadcastChannel("oxy", "/chat", "lobby"), "oxy#/chat#lobby#"},
		{RequestChannel("", "/"), "socket.io-request#/#"},
		{responseChannel("oxy", "/", ""), "oxy-response#/#"},
		{responseChannel("oxy", "/", "weUNzf"), "oxy-response#/#weUNzf#"},
		{ResponseChannelsPattern(""), "socket.io-response#*"},
		{ShardChannelsPattern("a*b"), `a\*b#*`},
		{GlobEscape(`k*[x]?\`), `k\*\[x\]\?\\`},
		{GlobEscape("socket.io"), "socket.io"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if got := Patterns(""); !slices.Equal(got, []string{"socket.io#*", "socket.io-request#*", "socket.io-response#*"}) {
		t.Errorf("Patterns: %q", got)
	}
	// Names built here parse back.
	for _, ch := range []string{BroadcastChannel("oxy", "/chat", "r#1"), RequestChannel("oxy", "/chat"), responseChannel("oxy", "/chat", "uid123")} {
		if _, ok := ParseChannel("oxy", ch); !ok {
			t.Errorf("%q does not parse", ch)
		}
	}
	for s, want := range map[string]bool{"b2c763a3bc637b13": true, "B2c763a3bc637b13": false, "b2c763a3bc637b1": false} {
		if IsShardedUID(s) != want {
			t.Errorf("IsShardedUID(%q) != %v", s, want)
		}
	}
}

// TestPatternsOnServer subscribes Patterns(key) on a real server and
// publishes the channels of that key and of look-alike keys: exactly the
// key's own channels (and, as documented, those of `<key>-request` /
// `<key>-response` keys) must arrive; glob characters in the key are
// literal.
func TestPatternsOnServer(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	client, err := valkey.NewClient(valkey.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)

	keys := []string{"socket.io", "oxy", `k*[x]?\`}
	others := []string{"socket.io2", "socket.iox", "socket.i", "Socket.io", "xsocket.io", "socket.io-request",
		"oxy-api", "oxyx", `kX[x]?\`, `k*[x]!\`, `k*x?\`, "k"}
	var channels []string
	for _, k := range append(slices.Clone(keys), others...) {
		for _, nsp := range []string{"/", "/chat"} {
			channels = append(channels, BroadcastChannel(k, nsp, ""), BroadcastChannel(k, nsp, "lobby"),
				RequestChannel(k, nsp), responseChannel(k, nsp, ""), responseChannel(k, nsp, "abc123"))
		}
	}
	// "socket.io-request#/#" is both a request channel of socket.io and the
	// broadcast channel of the key "socket.io-request": publish it once.
	slices.Sort(channels)
	channels = slices.Compact(channels)

	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			got := receive(t, client, Patterns(key), channels)
			var want []string
			for _, ch := range channels {
				if strings.HasPrefix(ch, key+"#") || strings.HasPrefix(ch, key+"-request#") || strings.HasPrefix(ch, key+"-response#") {
					want = append(want, ch)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("received %q\nwant     %q", got, want)
			}
			// Every received channel parses for the key, except the channels
			// of a look-alike key "<key>-request" that the adapter's naming
			// cannot tell apart (see Patterns).
			for _, ch := range got {
				if _, ok := ParseChannel(key, ch); !ok && !strings.HasPrefix(ch, key+"-request#") {
					t.Errorf("received %q, which does not parse for key %q", ch, key)
				}
			}
			if len(got) < 10 {
				t.Errorf("only %d channels received", len(got))
			}
		})
	}

	t.Run("namespace", func(t *testing.T) {
		got := receive(t, client, NamespacePatterns("socket.io", "/"), channels)
		want := []string{"socket.io#/#", "socket.io#/#lobby#", "socket.io-request#/#", "socket.io-response#/#", "socket.io-response#/#abc123#"}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("received %q\nwant     %q", got, want)
		}
		glob := []string{BroadcastChannel("", "/a*", ""), BroadcastChannel("", "/ab", ""), RequestChannel("", "/ab")}
		if got := receive(t, client, NamespacePatterns("", "/a*"), glob); !slices.Equal(got, glob[:1]) {
			t.Errorf("namespace /a*: received %q", got)
		}
	})
}

// receive PSUBSCRIBEs patterns, publishes every channel, and returns the
// sorted channels that arrived.
func receive(t *testing.T, client valkey.Client, patterns, channels []string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		mu   sync.Mutex
		got  []string
		done = make(chan struct{})
	)
	const sentinel = "sentinel"
	subscribed := make(chan struct{}, len(patterns))
	hooked := valkey.WithOnSubscriptionHook(ctx, func(s valkey.PubSubSubscription) {
		if s.Kind == "psubscribe" {
			subscribed <- struct{}{}
		}
	})
	dedicated, release := client.Dedicate()
	defer release()
	errc := make(chan error, 1)
	go func() {
		errc <- dedicated.Receive(hooked, dedicated.B().Psubscribe().Pattern(append(patterns, sentinel)...).Build(), func(msg valkey.PubSubMessage) {
			if msg.Channel == sentinel {
				close(done)
				return
			}
			mu.Lock()
			got = append(got, msg.Channel)
			mu.Unlock()
		})
	}()
	for range len(patterns) + 1 {
		select {
		case <-subscribed:
		case err := <-errc:
			t.Fatalf("psubscribe: %v", err)
		case <-ctx.Done():
			t.Fatal("psubscribe: no confirmation")
		}
	}
	for _, ch := range append(slices.Clone(channels), sentinel) {
		if err := client.Do(ctx, client.B().Publish().Channel(ch).Message("x").Build()).Error(); err != nil {
			t.Fatalf("publish %q: %v", ch, err)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("sentinel never arrived")
	}
	cancel()
	<-errc
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(got)
	return got
}
