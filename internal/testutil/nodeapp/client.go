package nodeapp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// Hit sends GET path to the rate-limited app, with X-Forwarded-For: xff
// when xff is not empty (the app trusts the proxy, so the leftmost entry is
// the client). It returns the status and the response headers
// (X-RateLimit-*, RateLimit*, Retry-After; see Quota).
func (a *App) Hit(t testing.TB, path, xff string) (status int, headers http.Header) {
	t.Helper()
	status, headers, _ = a.HitBody(t, path, xff)
	return status, headers
}

// HitBody is Hit that also returns the body.
func (a *App) HitBody(t testing.TB, path, xff string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.URL+path, nil)
	if err != nil {
		t.Fatalf("nodeapp: %s: %v", a.Name, err)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return a.do(t, req)
}

func (a *App) do(t testing.TB, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := a.http.Do(req)
	if err != nil {
		t.Fatalf("nodeapp: %s %s %s: %v; app stderr:\n%s", a.Name, req.Method, req.URL.Path, err, a.Stderr())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		t.Fatalf("nodeapp: %s %s %s: read body: %v", a.Name, req.Method, req.URL.Path, err)
	}
	return resp.StatusCode, resp.Header, body
}

// GetJSON sends GET path and decodes a 200 JSON answer into out.
func (a *App) GetJSON(t testing.TB, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.URL+path, nil)
	if err != nil {
		t.Fatalf("nodeapp: %s: %v", a.Name, err)
	}
	a.doJSON(t, req, out)
}

// PostJSON sends POST path with body as JSON and decodes a 200 answer into out.
func (a *App) PostJSON(t testing.TB, path string, body, out any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("nodeapp: %s: %v", a.Name, err)
	}
	req, err := http.NewRequest(http.MethodPost, a.URL+path, bytes.NewReader(b))
	if err != nil {
		t.Fatalf("nodeapp: %s: %v", a.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	a.doJSON(t, req, out)
}

func (a *App) doJSON(t testing.TB, req *http.Request, out any) {
	t.Helper()
	status, _, body := a.do(t, req)
	if status != http.StatusOK {
		t.Fatalf("nodeapp: %s %s %s: status %d: %s", a.Name, req.Method, req.URL.Path, status, truncate(body))
	}
	if out == nil {
		return
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("nodeapp: %s %s %s: decode: %v: %s", a.Name, req.Method, req.URL.Path, err, truncate(body))
	}
	if r, ok := out.(*Result); ok {
		r.Raw = append(json.RawMessage(nil), body...)
	}
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// Quota is what express-rate-limit said about a request in its headers.
// Fields whose header is absent are -1.
type Quota struct {
	Limit      int   // X-RateLimit-Limit
	Remaining  int   // X-RateLimit-Remaining
	Reset      int64 // X-RateLimit-Reset: window end, Unix seconds
	RetryAfter int   // Retry-After seconds (429 only)
	// RateLimit and Policy are the standard headers (draft-7/8), verbatim.
	RateLimit, Policy string
}

// ParseQuota reads the rate-limit headers of a response.
func ParseQuota(h http.Header) Quota {
	num := func(name string) int64 {
		v, err := strconv.ParseInt(strings.TrimSpace(h.Get(name)), 10, 64)
		if err != nil {
			return -1
		}
		return v
	}
	return Quota{
		Limit:      int(num("X-RateLimit-Limit")),
		Remaining:  int(num("X-RateLimit-Remaining")),
		Reset:      num("X-RateLimit-Reset"),
		RetryAfter: int(num("Retry-After")),
		RateLimit:  h.Get("RateLimit"),
		Policy:     h.Get("RateLimit-Policy"),
	}
}

// StoreInfo is what the library's own store reports for a client key.
type StoreInfo struct {
	OK        bool    `json:"ok"`
	Key       string  `json:"key"`        // prefix + client key
	TotalHits *int    `json:"total_hits"` // nil when the key is missing
	ResetTime *string `json:"reset_time"` // RFC 3339
	Error     string  `json:"error"`
}

// Store asks the app's rate-limit-redis store what it holds for client key
// (without prefix) in limiter (empty = the first limiter).
func (a *App) Store(t testing.TB, limiter, key string) StoreInfo {
	t.Helper()
	var out StoreInfo
	a.GetJSON(t, "/_store?"+query(limiter, key), &out)
	return out
}

// ResetKey calls the store's resetKey (a DEL) for client key in limiter.
func (a *App) ResetKey(t testing.TB, limiter, key string) {
	t.Helper()
	a.PostJSON(t, "/_reset?"+query(limiter, key), struct{}{}, nil)
}

func query(limiter, key string) string {
	q := url.Values{"key": {key}}
	if limiter != "" {
		q.Set("limiter", limiter)
	}
	return q.Encode()
}

// Versions reports the package versions the rate-limit app runs.
func (a *App) Versions(t testing.TB) map[string]string {
	t.Helper()
	var out struct {
		Versions map[string]string `json:"versions"`
	}
	a.GetJSON(t, "/_limiters", &out)
	return out.Versions
}

// UIDs are the adapter uids of the harness's two servers, per namespace.
// Classic adapter uids are 6 characters; sharded ones 16 hex characters.
type UIDs struct {
	Adapter string            `json:"adapter"`
	Key     string            `json:"key"`
	A       map[string]string `json:"A"`
	B       map[string]string `json:"B"`
}

// Of returns the uids of both servers for namespace nsp.
func (u UIDs) Of(nsp string) []string { return []string{u.A[nsp], u.B[nsp]} }

// UIDs asks the harness for its adapter uids.
func (a *App) UIDs(t testing.TB) UIDs {
	t.Helper()
	var out UIDs
	a.GetJSON(t, "/uids", &out)
	return out
}

// EmitRequest asks the harness to run one scenario.
type EmitRequest struct {
	Scenario string `json:"scenario"`
	From     string `json:"from,omitempty"`   // "A" (default) or "B"
	Room     string `json:"room,omitempty"`   // room / fetch-sockets / room-ack: the room
	Target   string `json:"target,omitempty"` // to-socket-id: client name (default b3, or a2 from B)
	// Count and Size: flood sends Count broadcasts (default 100) of Size
	// bytes (default 65536) to a room nobody is in.
	Count int `json:"count,omitempty"`
	Size  int `json:"size,omitempty"`
	// WaitMs is how long to collect deliveries after the emit: 0 means the
	// default (200 ms), negative means do not wait.
	WaitMs int `json:"wait_ms,omitempty"`
}

// Scenarios the harness knows (GET /scenarios lists them too).
var Scenarios = []string{
	"all", "room", "rooms-except", "chat", "chat-all", "binary", "volatile", "volatile-compress",
	"to-socket-id", "from-socket", "socket-to-room", "ack", "room-ack", "fetch-sockets", "all-rooms",
	"server-side-emit", "server-side-emit-ack", "server-side-emit-binary", "sockets-join",
	"sockets-leave", "disconnect-sockets", "flood",
}

// Result is the harness's report of one scenario. Args use the JSON shape of
// oxyctl's tail: a binary argument is {"binary":"<base64>","size":N}.
type Result struct {
	OK        bool              `json:"ok"`
	Error     string            `json:"error"` // why OK is false (e.g. a fetchSockets timeout)
	Scenario  string            `json:"scenario"`
	Adapter   string            `json:"adapter"`
	Key       string            `json:"key"`
	From      string            `json:"from"`
	Namespace string            `json:"namespace"`
	Event     string            `json:"event"` // "" for requests without an event
	Args      []json.RawMessage `json:"args"`
	Rooms     []string          `json:"rooms"`
	Except    []string          `json:"except"`
	Flags     map[string]any    `json:"flags"`
	OriginUID string            `json:"origin_uid"` // the emitting server's uid for Namespace
	UIDs      UIDs              `json:"uids"`

	Count      int               `json:"count"`       // fetch-sockets
	Sockets    []RemoteSocket    `json:"sockets"`     // fetch-sockets
	AllRooms   []string          `json:"all_rooms"`   // all-rooms (classic only)
	Responses  []json.RawMessage `json:"responses"`   // ack, server-side-emit-ack
	JoinRooms  []string          `json:"join_rooms"`  // sockets-join
	LeaveRooms []string          `json:"leave_rooms"` // sockets-leave
	Close      bool              `json:"close"`       // disconnect-sockets

	Received     []Delivery    `json:"received"`      // the event as the clients got it
	ServerEvents []ServerEvent `json:"server_events"` // server-side emits the other server got

	Raw json.RawMessage `json:"-"` // the whole answer
}

// RemoteSocket is one socket returned by fetchSockets.
type RemoteSocket struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Rooms []string `json:"rooms"`
}

// Delivery is one event received by a client socket.
type Delivery struct {
	Client    string            `json:"client"`
	Server    string            `json:"server"`
	Namespace string            `json:"namespace"`
	Event     string            `json:"event"`
	Args      []json.RawMessage `json:"args"`
}

// ServerEvent is one serverSideEmit event received by a server.
type ServerEvent struct {
	Server    string            `json:"server"`
	Namespace string            `json:"namespace"`
	Event     string            `json:"event"`
	Args      []json.RawMessage `json:"args"`
}

// Emit runs scenario from server A with the defaults.
func (a *App) Emit(t testing.TB, scenario string) Result {
	t.Helper()
	return a.EmitRequest(t, EmitRequest{Scenario: scenario})
}

// EmitRequest runs one scenario. A scenario that ran but failed (e.g.
// fetch-sockets timing out) returns OK false with Error; a bad request fails t.
func (a *App) EmitRequest(t testing.TB, req EmitRequest) Result {
	t.Helper()
	var out Result
	a.PostJSON(t, "/emit", req, &out)
	return out
}

// ReceivedBy lists the clients that got the event, sorted as delivered.
func (r Result) ReceivedBy() []string {
	out := make([]string, 0, len(r.Received))
	for _, d := range r.Received {
		out = append(out, d.Client)
	}
	return out
}
