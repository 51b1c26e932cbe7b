package pubsub

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/adaptertap"
	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/nodeapp"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// rawJSON decodes harness JSON the way records are decoded.
func rawJSON(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("harness JSON %s: %v", raw, err)
	}
	return v
}

func (r record) strs(k string) []string {
	var out []string
	for _, v := range asSlice(r[k]) {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// interop collects the records a running tail printed for each emit.
type interop struct {
	t    *testing.T
	app  *nodeapp.App
	out  *clitest.Buffer
	seen int
}

// emit runs a scenario and waits until records matching every predicate
// have appeared after the previous emit; it returns the harness result and
// the new records.
func (it *interop) emit(req nodeapp.EmitRequest, want ...func(record) bool) (nodeapp.Result, []record) {
	t := it.t
	t.Helper()
	if req.WaitMs == 0 {
		req.WaitMs = -1 // the tail's records are what we wait for
	}
	res := it.app.EmitRequest(t, req)
	var recs []record
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs = parseRecords(t, it.out.Lines()[it.seen:])
		all := true
		for _, w := range want {
			if !slices.ContainsFunc(recs, w) {
				all = false
			}
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the tail did not show the expected messages within 5s; new records:\n%s", req.Scenario, jsonText(recs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // late responses belong to this emit
	lines := it.out.Lines()
	recs = parseRecords(t, lines[it.seen:])
	it.seen = len(lines)
	return res, recs
}

// sameAsEmitted checks a broadcast record against what the app emitted.
func sameAsEmitted(t *testing.T, scenario string, rec record, res nodeapp.Result) {
	t.Helper()
	var errs []string
	if rec.str("namespace") != res.Namespace {
		errs = append(errs, "namespace "+rec.str("namespace")+", want "+res.Namespace)
	}
	if rec.str("event") != res.Event {
		errs = append(errs, "event "+rec.str("event")+", want "+res.Event)
	}
	if rec.str("origin") != res.OriginUID {
		errs = append(errs, "origin "+rec.str("origin")+", want "+res.OriginUID)
	}
	args := make([]any, len(res.Args))
	for i, a := range res.Args {
		args[i] = rawJSON(t, a)
	}
	if !sameJSON(rec["args"], args) {
		errs = append(errs, "args "+jsonText(rec["args"])+", want "+jsonText(args))
	}
	if !slices.Equal(rec.strs("rooms"), res.Rooms) && !(len(rec.strs("rooms")) == 0 && len(res.Rooms) == 0) {
		errs = append(errs, "rooms "+jsonText(rec["rooms"])+", want "+jsonText(res.Rooms))
	}
	if !slices.Equal(rec.strs("except"), res.Except) && !(len(rec.strs("except")) == 0 && len(res.Except) == 0) {
		errs = append(errs, "except "+jsonText(rec["except"])+", want "+jsonText(res.Except))
	}
	wantFlags := res.Flags
	if wantFlags == nil {
		wantFlags = map[string]any{}
	}
	if !sameJSON(rec["flags"], wantFlags) {
		errs = append(errs, "flags "+jsonText(rec["flags"])+", want "+jsonText(wantFlags))
	}
	if len(errs) > 0 {
		t.Errorf("%s: %s\n  record %s", scenario, strings.Join(errs, "; "), jsonText(rec))
	}
}

func byEvent(ev string) func(record) bool {
	return func(r record) bool { return r.str("event") == ev }
}

func byType(typ string) func(record) bool {
	return func(r record) bool { return r.str("type") == typ }
}

func find(recs []record, pred func(record) bool) (record, bool) {
	for _, r := range recs {
		if pred(r) {
			return r, true
		}
	}
	return nil, false
}

// TestInteropClassic tails the real @socket.io/redis-adapter (two Socket.IO
// servers on one valkey-server) while the app emits known events, and checks
// every decoded message against what was emitted. The tail must not change
// what the app sees: the request channel's NUMSUB stays 2 and fetchSockets(),
// allRooms() and acknowledged serverSideEmit() still succeed. A plain
// SUBSCRIBE (what tail must never do) breaks fetchSockets(), which shows the
// check can fail.
func TestInteropClassic(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	app := nodeapp.StartSocketIO(t, nodeapp.Options{RedisURL: srv.URL, RequestsTimeout: 2 * time.Second})
	uids := app.UIDs(t)

	if n := numsub(t, cl, "socket.io-request#/#"); n != 2 {
		t.Fatalf("NUMSUB before the tail = %d, want 2", n)
	}
	opts, out, _ := newTail(srv.URL, output.JSON)
	opts.Requests = true
	startTail(t, opts)
	for _, ch := range []string{"socket.io-request#/#", "socket.io-request#/chat#", "socket.io-response#/#"} {
		if n := numsub(t, cl, ch); n != 2 {
			t.Errorf("NUMSUB %s while tailing = %d, want 2", ch, n)
		}
	}
	if list := clientList(t, cl); strings.Contains(list, "name=oxyctl") && !strings.Contains(list, "psub=3") {
		t.Errorf("oxyctl's connection is not the PSUBSCRIBE one:\n%s", list)
	}
	it := &interop{t: t, app: app, out: out}

	// Broadcasts: the whole namespace, one room, rooms with except, /chat,
	// binary, volatile, from a socket, to a socket id.
	for _, sc := range []string{"all", "room", "rooms-except", "chat", "chat-all", "binary", "volatile", "volatile-compress", "from-socket", "socket-to-room", "to-socket-id"} {
		res, recs := it.emit(nodeapp.EmitRequest{Scenario: sc}, func(r record) bool { return r.str("kind") == "broadcast" })
		if !res.OK {
			t.Fatalf("%s: the app failed: %s", sc, res.Error)
		}
		if len(recs) != 1 {
			t.Errorf("%s: %d records, want 1: %s", sc, len(recs), jsonText(recs))
			continue
		}
		rec := recs[0]
		sameAsEmitted(t, sc, rec, res)
		wantChan := "socket.io#" + res.Namespace + "#"
		if len(res.Rooms) == 1 {
			wantChan += res.Rooms[0] + "#"
		}
		if rec.str("channel") != wantChan || rec.str("adapter") != "classic" {
			t.Errorf("%s: channel %s adapter %s, want %s classic", sc, rec.str("channel"), rec.str("adapter"), wantChan)
		}
	}

	// An acknowledged broadcast: the request (type BROADCAST), then the other
	// server's client count and acks, all with the request's id.
	for _, sc := range []string{"ack", "room-ack"} {
		res, recs := it.emit(nodeapp.EmitRequest{Scenario: sc}, byType("BROADCAST"), byType("BROADCAST_CLIENT_COUNT"), byType("BROADCAST_ACK"))
		if !res.OK || len(res.Responses) == 0 {
			t.Fatalf("%s: the app's ack broadcast failed while tailing: %s", sc, res.Error)
		}
		req, _ := find(recs, byType("BROADCAST"))
		sameAsEmitted(t, sc, req, res)
		id := req.str("request_id")
		for _, r := range recs[1:] {
			if r.str("kind") != "response" || r.str("request_id") != id {
				t.Errorf("%s: %s is not a response to %s", sc, jsonText(r), id)
			}
		}
	}

	// fetchSockets(): the request, the other server's answer, and the app
	// still gets every socket (tail did not raise the server count).
	res, recs := it.emit(nodeapp.EmitRequest{Scenario: "fetch-sockets"}, byType("REMOTE_FETCH"), func(r record) bool { return r.str("kind") == "response" })
	if !res.OK || res.Count != 6 {
		t.Fatalf("fetchSockets() while tailing: ok=%v count=%d error=%q, want 6 sockets", res.OK, res.Count, res.Error)
	}
	req, _ := find(recs, func(r record) bool { return r.str("kind") == "request" })
	resp, _ := find(recs, func(r record) bool { return r.str("kind") == "response" })
	if req.str("type") != "REMOTE_FETCH" || req.str("origin") != uids.A["/"] || resp.str("request_id") != req.str("request_id") || resp.str("type") != "REMOTE_FETCH" {
		t.Errorf("fetch-sockets records: %s", jsonText(recs))
	}
	if sockets := asSlice(resp["data"].(map[string]any)["sockets"]); len(sockets) != 3 {
		t.Errorf("the other server answered with %d sockets, want 3 (b1 b2 b3)", len(sockets))
	}

	res, recs = it.emit(nodeapp.EmitRequest{Scenario: "all-rooms"}, byType("ALL_ROOMS"), func(r record) bool { return r.str("kind") == "response" })
	if !res.OK {
		t.Errorf("allRooms() while tailing: %s", res.Error)
	}
	if len(recs) == 0 {
		t.Errorf("the tail showed no ALL_ROOMS record while allRooms() ran")
	}

	// serverSideEmit, plain, binary and with an ack.
	for _, sc := range []string{"server-side-emit", "server-side-emit-binary"} {
		res, recs := it.emit(nodeapp.EmitRequest{Scenario: sc, WaitMs: 200}, byType("SERVER_SIDE_EMIT"))
		rec, _ := find(recs, byType("SERVER_SIDE_EMIT"))
		if sc == "server-side-emit-binary" {
			// The classic adapter sends server-side emits as JSON, so a Buffer
			// travels (and reaches server B) as {"type":"Buffer","data":[...]}:
			// the tail shows what is on the wire, which is what B received.
			if len(res.ServerEvents) != 1 {
				t.Fatalf("%s: server events %+v", sc, res.ServerEvents)
			}
			res.Args = res.ServerEvents[0].Args
		}
		sameAsEmitted(t, sc, rec, res)
	}
	res, recs = it.emit(nodeapp.EmitRequest{Scenario: "server-side-emit-ack"}, byType("SERVER_SIDE_EMIT"), func(r record) bool { return r.str("kind") == "response" })
	if !res.OK || len(res.Responses) != 1 {
		t.Errorf("serverSideEmit with ack while tailing: %v %s", res.OK, res.Error)
	}
	req, _ = find(recs, func(r record) bool { return r.str("kind") == "request" })
	resp, _ = find(recs, func(r record) bool { return r.str("kind") == "response" })
	if req.str("request_id") == "" || resp.str("request_id") != req.str("request_id") || resp.str("type") != "SERVER_SIDE_EMIT" {
		t.Errorf("server-side-emit-ack records: %s", jsonText(recs))
	}

	for sc, typ := range map[string]string{"sockets-join": "REMOTE_JOIN", "sockets-leave": "REMOTE_LEAVE", "disconnect-sockets": "REMOTE_DISCONNECT"} {
		_, recs := it.emit(nodeapp.EmitRequest{Scenario: sc}, byType(typ))
		if rec, _ := find(recs, byType(typ)); rec.str("origin") != uids.A["/"] {
			t.Errorf("%s: %s", sc, jsonText(rec))
		}
	}

	// From server B, the origin is B's uid.
	res, recs = it.emit(nodeapp.EmitRequest{Scenario: "all", From: "B"}, byEvent("news"))
	if rec, _ := find(recs, byEvent("news")); rec.str("origin") != uids.B["/"] || res.OriginUID != uids.B["/"] {
		t.Errorf("from B: origin %s, want %s", rec.str("origin"), uids.B["/"])
	}

	// pubsub channels: 2 instances per namespace, with the app's uids.
	rep := channelsReport(t, srv.URL, config.SocketIO{})
	for _, nsp := range []string{"/", "/chat"} {
		n := namespace(t, rep, nsp)
		want := uids.Of(nsp)
		sort.Strings(want)
		if n.Instances != 2 || !slices.Equal(n.UIDs, want) || n.Status != "ok" {
			t.Errorf("channels %s: %d instances uids %v status %s, want 2 %v ok", nsp, n.Instances, n.UIDs, n.Status, want)
		}
	}
	if rep.Status != "ok" {
		t.Errorf("channels status %s: %v", rep.Status, rep.Problems)
	}

	// The control: a plain SUBSCRIBE on the request channel raises NUMSUB
	// and makes fetchSockets() time out; channels reports it.
	sub, err := srv.SingleClient()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	dc, release := sub.Dedicate()
	defer release()
	defer dc.Close()
	confirmed := make(chan struct{}, 1)
	dc.SetPubSubHooks(valkey.PubSubHooks{OnSubscription: func(valkey.PubSubSubscription) { confirmed <- struct{}{} }})
	if err := dc.Do(tctx(t), dc.B().Subscribe().Channel("socket.io-request#/#").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	<-confirmed
	if r := app.Emit(t, "fetch-sockets"); r.OK {
		t.Errorf("fetchSockets() succeeded with a foreign SUBSCRIBE on the request channel: the control is broken")
	}
	rep = channelsReport(t, srv.URL, config.SocketIO{ExpectedInstances: 2})
	if n := namespace(t, rep, "/"); n.Instances != 3 || n.Status != "warn" || len(n.Problems) == 0 || !strings.Contains(n.Problems[0], "more than the 2 expected") {
		t.Errorf("channels with a foreign subscriber: %+v", n)
	}
}

// TestInteropSharded tails the sharded adapter through MONITOR: every
// decoded message matches what was emitted, SHARDNUMSUB stays 2 and
// fetchSockets() still succeeds.
func TestInteropSharded(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := srv.Client(t)
	app := nodeapp.StartSocketIO(t, nodeapp.Options{RedisURL: srv.URL, Adapter: "sharded", RequestsTimeout: 2 * time.Second})
	uids := app.UIDs(t)

	opts, out, errOut := newTail(srv.URL, output.JSON)
	opts.Requests, opts.Settings = true, settings(config.SocketIO{Sharded: true})
	startTail(t, opts)
	if !strings.Contains(errOut.String(), "MONITOR") {
		t.Errorf("no warning about MONITOR: %q", errOut.String())
	}
	for _, ch := range []string{"socket.io#/#", "socket.io#/chat#"} {
		if n := shardnumsub(t, cl, ch); n != 2 {
			t.Errorf("SHARDNUMSUB %s while tailing = %d, want 2", ch, n)
		}
	}
	it := &interop{t: t, app: app, out: out}
	for _, sc := range []string{"all", "room", "rooms-except", "chat", "binary", "volatile", "from-socket", "to-socket-id"} {
		res, recs := it.emit(nodeapp.EmitRequest{Scenario: sc}, func(r record) bool { return r.str("kind") == "broadcast" })
		if len(recs) != 1 {
			t.Errorf("%s: %d records: %s", sc, len(recs), jsonText(recs))
			continue
		}
		sameAsEmitted(t, sc, recs[0], res)
		if recs[0].str("adapter") != "sharded" || recs[0].str("type") != "BROADCAST" {
			t.Errorf("%s: %s", sc, jsonText(recs[0]))
		}
	}
	res, recs := it.emit(nodeapp.EmitRequest{Scenario: "ack"}, byEvent("ping-ack"), byType("BROADCAST_CLIENT_COUNT"), byType("BROADCAST_ACK"))
	if !res.OK {
		t.Errorf("ack broadcast while tailing: %s", res.Error)
	}
	ack, _ := find(recs, byEvent("ping-ack"))
	sameAsEmitted(t, "ack", ack, res)
	res, recs = it.emit(nodeapp.EmitRequest{Scenario: "fetch-sockets"}, byType("FETCH_SOCKETS"), byType("FETCH_SOCKETS_RESPONSE"))
	if !res.OK || res.Count != 6 {
		t.Fatalf("fetchSockets() while tailing through MONITOR: ok=%v count=%d %s", res.OK, res.Count, res.Error)
	}
	if rec, _ := find(recs, byType("FETCH_SOCKETS_RESPONSE")); rec.str("origin") != uids.B["/"] {
		t.Errorf("the response's origin is %s, want B's uid %s", rec.str("origin"), uids.B["/"])
	}
	res, recs = it.emit(nodeapp.EmitRequest{Scenario: "server-side-emit"}, byType("SERVER_SIDE_EMIT"))
	rec, _ := find(recs, byType("SERVER_SIDE_EMIT"))
	sameAsEmitted(t, "server-side-emit", rec, res)

	rep := channelsReport(t, srv.URL, config.SocketIO{Sharded: true})
	for _, nsp := range []string{"/", "/chat"} {
		n := namespace(t, rep, nsp)
		want := uids.Of(nsp)
		sort.Strings(want)
		if n.Instances != 2 || !slices.Equal(n.UIDs, want) || n.Status != "ok" {
			t.Errorf("channels --sharded %s: %+v, want 2 instances uids %v", nsp, n, want)
		}
	}
}

// channelsReport runs `pubsub channels -o json` and decodes its document.
func channelsReport(t *testing.T, url string, sio config.SocketIO) *adaptertap.Report {
	t.Helper()
	ios, out, _ := testIO()
	err := channelsRun(context.Background(), &channelsOptions{
		IO: ios, Settings: settings(sio), Valkey: connector(url), Format: output.JSON,
		Timeout: func() time.Duration { return 5 * time.Second },
	})
	var fe *apperr.FindingsError
	if err != nil && !errorsAs(err, &fe) {
		t.Fatalf("channels: %v", err)
	}
	var rep adaptertap.Report
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("channels JSON: %v\n%s", err, out.String())
	}
	if (rep.Status == "fail") != (err != nil) {
		t.Errorf("status %s but error %v", rep.Status, err)
	}
	return &rep
}

func namespace(t *testing.T, rep *adaptertap.Report, nsp string) adaptertap.Namespace {
	t.Helper()
	for _, n := range rep.Namespaces {
		if n.Namespace == nsp {
			return n
		}
	}
	t.Fatalf("namespace %s not in the report: %+v", nsp, rep)
	return adaptertap.Namespace{}
}
