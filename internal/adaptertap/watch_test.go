package adaptertap

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/resp"
	"github.com/oxyhq/oxyctl/internal/socketio"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

func TestIsFatal(t *testing.T) {
	for _, tc := range []struct {
		raw   error
		typed error
		fatal bool
	}{
		{io.EOF, apperr.Runtime(apperr.KindTLS, errors.New("closed the connection (does it expect TLS?)"), ""), false},
		{errors.New("refused"), apperr.Runtime(apperr.KindConnect, errors.New("refused"), ""), false},
		{&resp.Error{Msg: "WRONGPASS invalid"}, nil, true},
		{&resp.Error{Msg: "LOADING"}, nil, false},
		{errors.New("x"), apperr.Runtime(apperr.KindAuth, errors.New("x"), ""), true},
		{errors.New("x"), apperr.Configf("x"), true},
	} {
		if got := isFatal(tc.raw, tc.typed); got != tc.fatal {
			t.Errorf("isFatal(%v, %v) = %v", tc.raw, tc.typed, got)
		}
	}
}

func TestFilter(t *testing.T) {
	msgs := map[string]socketio.Message{
		"all":     {Kind: "broadcast", Namespace: "/", Event: "news"},
		"room":    {Kind: "broadcast", Namespace: "/", Event: "roomEvent", Rooms: []string{"room1"}, ChannelRoom: "room1"},
		"chat":    {Kind: "broadcast", Namespace: "/chat", Event: "msg", Rooms: []string{"lobby"}},
		"ack":     {Kind: "request", Namespace: "/", Event: "ask", Type: "BROADCAST", Rooms: []string{"room1"}},
		"fetch":   {Kind: "request", Namespace: "/", Type: "REMOTE_FETCH", Rooms: []string{"room1"}},
		"resp":    {Kind: "response", Namespace: "/", Type: "BROADCAST_ACK"},
		"unknown": {Kind: "unknown", Namespace: "/x"},
	}
	for _, tc := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, "ack all chat room unknown"},
		{Filter{Requests: true}, "ack all chat fetch resp room unknown"},
		{Filter{Namespaces: []string{"/chat"}}, "chat unknown"},
		{Filter{Rooms: []string{"room1"}}, "ack room unknown"},
		{Filter{Rooms: []string{"room1"}, Requests: true}, "ack fetch room unknown"},
		{Filter{Events: []string{"news", "msg"}}, "all chat unknown"},
	} {
		var got []string
		for _, name := range []string{"ack", "all", "chat", "fetch", "resp", "room", "unknown"} {
			m := msgs[name]
			if tc.f.Match(&m) {
				got = append(got, name)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%+v: %v, want %s", tc.f, got, tc.want)
		}
	}
}

func TestSummary(t *testing.T) {
	s := NewSummary()
	for _, m := range []socketio.Message{{Kind: "broadcast", Event: "a"}, {Kind: "broadcast", Event: "a"}, {Kind: "request", Type: "REMOTE_FETCH"}, {Kind: "unknown"}} {
		s.Add(&m)
	}
	if s.Messages != 4 || s.ByKind["broadcast"] != 2 || s.ByEvent["a"] != 2 || s.ByEvent["REMOTE_FETCH"] != 1 || s.ByEvent["(unknown)"] != 1 {
		t.Errorf("%+v", s)
	}
	if got := Sorted(s.ByEvent); got[0].Name != "a" || got[1].Name != "(unknown)" {
		t.Errorf("sorted %v", got)
	}
}

// TestSSubscribe: the explicit SSUBSCRIBE mode finds the adapter's channels
// with SHARDCHANNELS (and new ones on refresh), delivers their messages,
// and, as documented, raises SHARDNUMSUB.
func TestSSubscribe(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	app, err := srv.SingleClient() // stands in for an adapter instance
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	dc, release := app.Dedicate()
	defer release()
	defer dc.Close()
	dc.SetPubSubHooks(valkey.PubSubHooks{OnMessage: func(valkey.PubSubMessage) {}})
	if err := dc.Do(ctx, dc.B().Ssubscribe().Channel("socket.io#/#").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	shardnumsub := func(ch string) int64 {
		arr, err := cl.Do(ctx, cl.B().PubsubShardnumsub().Channel(ch).Build()).ToArray()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := arr[1].AsInt64()
		return n
	}
	for deadline := time.Now().Add(5 * time.Second); shardnumsub("socket.io#/#") != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stand-in did not subscribe")
		}
	}

	out := make(chan Event, 16)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Mode: ModeSSubscribe, Conn: connect(t, srv.URL, ""), Timeout: 5 * time.Second, Refresh: 50 * time.Millisecond}, out)
	}()
	if ev := <-out; ev.Kind != EventReady || ev.Detail != "SSUBSCRIBE 1 channels" {
		t.Fatalf("ready: %+v", ev)
	}
	if n := shardnumsub("socket.io#/#"); n != 2 {
		t.Errorf("SHARDNUMSUB = %d, want 2: SSUBSCRIBE does count (that is why it is not the default)", n)
	}
	if err := cl.Do(ctx, cl.B().Spublish().Channel("socket.io#/#").Message("{}").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if ev := <-out; ev.Kind != EventMessage || ev.Channel != "socket.io#/#" || ev.Payload != "{}" {
		t.Errorf("message: %+v", ev)
	}
	// A room channel that appears later is picked up.
	if err := dc.Do(ctx, dc.B().Ssubscribe().Channel("socket.io#/#room1#").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); shardnumsub("socket.io#/#room1#") != 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the new room channel was not subscribed")
		}
	}
	if err := cl.Do(ctx, cl.B().Spublish().Channel("socket.io#/#room1#").Message("{}").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if ev := <-out; ev.Kind != EventMessage || ev.Channel != "socket.io#/#room1#" {
		t.Errorf("room message: %+v", ev)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
