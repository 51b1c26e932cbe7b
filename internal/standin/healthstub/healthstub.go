// Package healthstub is a stand-in for the Oxy API's GET /health endpoint,
// for tests of `oxyctl health` and for the sandbox. It answers 200 with each
// value of "redis" ("connected", "disconnected", "not configured"), any other
// status code, a body that is not JSON, and it can wait before answering or
// hang until the client gives up. It listens on a free loopback port; Start
// closes it in t.Cleanup, New leaves closing to the caller.
package healthstub

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// The values the real endpoint answers with.
const (
	Operational   = "operational"
	Connected     = "connected"
	Disconnected  = "disconnected"
	NotConfigured = "not configured"
)

// Reply is what the stand-in answers. The zero value is the healthy answer:
// 200 {"status":"operational","database":"connected","redis":"connected"}.
type Reply struct {
	Code     int    // HTTP status (default 200)
	Status   string // "status" field (default operational)
	Database string // "database" field (default connected)
	Redis    string // "redis" field (default connected)
	// Body, when set, is sent as is instead of the JSON above (e.g. bad JSON).
	Body string
	// Delay waits this long before answering (cut short if the client goes).
	Delay time.Duration
	// Hang never answers: the handler waits until the client gives up or the
	// stand-in is closed.
	Hang bool
}

// Healthy is the normal answer.
func Healthy() Reply { return Reply{} }

// RedisIs is a 200 answer with the given redis value.
func RedisIs(v string) Reply { return Reply{Redis: v} }

// BadJSON is a 200 answer whose body is not JSON.
func BadJSON() Reply { return Reply{Body: `{"status":"operational","database":`} }

// Unavailable is a 503 with a JSON body saying what is down.
func Unavailable() Reply {
	return Reply{Code: http.StatusServiceUnavailable, Status: "degraded", Database: Disconnected, Redis: Connected}
}

// TB is the part of testing.TB the stand-in uses.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// Server is a running stand-in.
type Server struct {
	URL string // base URL, e.g. http://127.0.0.1:41234 (the check adds /health)

	srv  *httptest.Server
	done chan struct{}
	once sync.Once
	hits atomic.Int64

	mu    sync.Mutex
	reply Reply
	paths []string
}

// Start starts a stand-in answering r, closed when the test ends.
func Start(t TB, r Reply) *Server {
	t.Helper()
	s, err := New(r)
	if err != nil {
		t.Fatalf("healthstub: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// New starts a stand-in; Close it when done.
func New(r Reply) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{reply: r, done: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	s.URL = s.srv.URL
	return s, nil
}

// Set changes the answer for the next requests.
func (s *Server) Set(r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply = r
}

// Hits is the number of requests received so far.
func (s *Server) Hits() int { return int(s.hits.Load()) }

// Paths are the request paths received so far.
func (s *Server) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

// Close stops the stand-in; hanging and delayed answers end at once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	rep := s.reply
	s.paths = append(s.paths, r.URL.Path)
	s.mu.Unlock()

	if r.URL.Path != "/health" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if rep.Hang {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	if rep.Delay > 0 {
		t := time.NewTimer(rep.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
	code := rep.Code
	if code == 0 {
		code = http.StatusOK
	}
	body := []byte(rep.Body)
	if rep.Body == "" {
		body, _ = json.Marshal(map[string]string{
			"status":   or(rep.Status, Operational),
			"database": or(rep.Database, Connected),
			"redis":    or(rep.Redis, Connected),
		})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
