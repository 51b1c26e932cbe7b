package doapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

// hostile is an API stand-in that answers what the real API never does
// (redirects, null bodies, endless bodies). It cannot be the spec-validated
// stand-in: these answers violate the spec on purpose.
type hostile struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD path auth=<Authorization header>"
}

func startHostile(t *testing.T, h http.HandlerFunc) *hostile {
	t.Helper()
	s := &hostile{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization"))
		s.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hostile) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

const hostileToken = "dop_v1_hostile_token_0123456789"

func hostileClient(t *testing.T, base string, mod func(*Options)) *Client {
	t.Helper()
	o := Options{BaseURL: base, Token: hostileToken, Timeout: 5 * time.Second,
		RetryMax: -1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const clusterUUID = "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30"

func validRules() []Rule { return []Rule{{Type: "ip_addr", Value: "198.51.100.7"}} }

// Every redirect code, to another host and to plain http: the other side
// never sees the token, no write follows a redirect, and the call fails with
// an API error (exit 3) that names the redirect.
func TestRedirectsNeverCarryTheToken(t *testing.T) {
	ctx := context.Background()
	elsewhere := startHostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"rules":[]}`))
	})
	for _, code := range []int{301, 302, 307, 308} {
		for _, target := range []string{"other-host", "same-host-write"} {
			t.Run(http.StatusText(code)+"/"+target, func(t *testing.T) {
				var api *hostile
				api = startHostile(t, func(w http.ResponseWriter, r *http.Request) {
					to := elsewhere.URL + r.URL.Path
					if target == "same-host-write" {
						if r.URL.Path == "/moved" {
							w.Header().Set("Content-Type", "application/json")
							_, _ = w.Write([]byte(`{"rules":[]}`))
							return
						}
						to = api.URL + "/moved"
					}
					http.Redirect(w, r, to, code)
				})
				c := hostileClient(t, api.URL, nil)
				_, rerr := c.Firewall(ctx, clusterUUID)
				werr := c.PutFirewall(ctx, clusterUUID, validRules())
				for name, err := range map[string]error{"read": rerr, "write": werr} {
					if target == "same-host-write" && name == "read" {
						if err != nil {
							t.Errorf("a read redirected on the same host should follow: %v", err)
						}
						continue
					}
					code3, kind := apperr.Classify(err)
					if code3 != 3 || kind != "api" || !strings.Contains(err.Error(), "redirect") {
						t.Errorf("%s: want an api error naming the redirect, got %v (%d %s)", name, err, code3, kind)
					}
					if err != nil && strings.Contains(err.Error(), hostileToken) {
						t.Errorf("%s: the error shows the token: %v", name, err)
					}
				}
				for _, r := range elsewhere.requests() {
					if strings.Contains(r, hostileToken) || strings.Contains(r, "Bearer") {
						t.Fatalf("the other host got the token: %s", r)
					}
				}
				wantMovedGets := 0
				if target == "same-host-write" {
					wantMovedGets = 1 // the read, which may follow
				}
				if n := countPrefix(api.requests(), "GET /moved"); n != wantMovedGets {
					t.Errorf("%d GETs of the redirect target, want %d (a redirected PUT must not become a GET): %q", n, wantMovedGets, api.requests())
				}
				if n := countPrefix(api.requests(), "PUT /moved") + countPrefix(elsewhere.requests(), "PUT "); n != 0 {
					t.Errorf("a write followed a redirect %d times", n)
				}
				if n := countPrefix(api.requests(), "PUT "); n != 1 {
					t.Errorf("%d PUTs, want exactly the one that was redirected", n)
				}
			})
		}
	}
}

func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// A redirect of a read from https to plain http on the same host is refused.
func TestRedirectToPlainHTTPRefused(t *testing.T) {
	red := checkRedirect(mustURL(t, "https://api.example.test"))
	first, _ := http.NewRequest(http.MethodGet, "https://api.example.test/v2/databases", nil)
	next, _ := http.NewRequest(http.MethodGet, "http://api.example.test/v2/databases", nil)
	next.Response = &http.Response{StatusCode: 301}
	err := red(next, []*http.Request{first})
	if err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("want a refusal naming plain http, got %v", err)
	}
	up, _ := http.NewRequest(http.MethodGet, "https://api.example.test/v2/databases?page=2", nil)
	if err := red(up, []*http.Request{first}); err != nil {
		t.Fatalf("a same-host https read should follow: %v", err)
	}
}

// A 200 whose body lacks the expected key is an API fault (exit 3), never
// "no such cluster" (exit 2) or "no rules".
func TestNullAnswersAreAPIFaults(t *testing.T) {
	ctx := context.Background()
	for _, body := range []string{`null`, `{}`, `{"database":null}`, `{"databases":null}`, `{"rules":null}`} {
		api := startHostile(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		})
		c := hostileClient(t, api.URL, nil)
		_, e1 := c.GetCluster(ctx, clusterUUID)
		_, e2 := c.FindCluster(ctx, "db-valkey-ams3-04785")
		_, e3 := c.Firewall(ctx, clusterUUID)
		for i, err := range []error{e1, e2, e3} {
			if code, kind := apperr.Classify(err); code != 3 || kind != "api" {
				t.Errorf("body %s, call %d: want an api fault (3), got %v (%d %s)", body, i+1, err, code, kind)
			}
		}
	}
}

// An answer that never ends is cut at the cap: bounded time and memory.
func TestEndlessAnswerIsCut(t *testing.T) {
	api := startHostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"rules":[{"type":"ip_addr","value":"`))
		chunk := []byte(strings.Repeat("9", 64<<10))
		for i := 0; i < 1<<14; i++ { // up to 1 GiB, far past the cap
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	c := hostileClient(t, api.URL, func(o *Options) { o.MaxResponse = 1 << 20 })
	start := time.Now()
	_, err := c.Firewall(context.Background(), clusterUUID)
	if code, kind := apperr.Classify(err); code != 3 || kind != "api" || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("want an api error about the size, got %v (%d %s)", err, code, kind)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s to give up", d)
	}
}

// --verbose names the host of every request.
func TestVerboseNamesTheHost(t *testing.T) {
	api := startHostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"rules":[]}`))
	})
	log := &logSink{}
	c := hostileClient(t, api.URL, func(o *Options) { o.Logf = log.logf })
	if _, err := c.Firewall(context.Background(), clusterUUID); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(api.URL, "http://")
	if !strings.Contains(log.text(), "GET "+host+"/v2/databases/") {
		t.Fatalf("the log does not name the host %s:\n%s", host, log.text())
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
