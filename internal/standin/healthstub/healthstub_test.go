package healthstub

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

func get(t *testing.T, url string, timeout time.Duration) (int, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestReplies(t *testing.T) {
	s := Start(t, Healthy())
	cases := []struct {
		r    Reply
		code int
		body string
	}{
		{Healthy(), 200, `{"database":"connected","redis":"connected","status":"operational"}`},
		{RedisIs(NotConfigured), 200, `{"database":"connected","redis":"not configured","status":"operational"}`},
		{RedisIs(Disconnected), 200, `{"database":"connected","redis":"disconnected","status":"operational"}`},
		{Unavailable(), 503, `{"database":"disconnected","redis":"connected","status":"degraded"}`},
		{BadJSON(), 200, `{"status":"operational","database":`},
	}
	for _, c := range cases {
		s.Set(c.r)
		code, body, err := get(t, s.URL+"/health", time.Second)
		if err != nil || code != c.code || body != c.body {
			t.Fatalf("%+v: %d %q %v", c.r, code, body, err)
		}
	}
	if code, _, _ := get(t, s.URL+"/other", time.Second); code != 404 {
		t.Fatalf("other path: %d", code)
	}
	if s.Hits() != len(cases)+1 || s.Paths()[0] != "/health" {
		t.Fatalf("hits %d paths %v", s.Hits(), s.Paths())
	}
}

func TestDelayAndHang(t *testing.T) {
	s := Start(t, Reply{Delay: 150 * time.Millisecond})
	start := time.Now()
	if code, _, err := get(t, s.URL+"/health", time.Second); err != nil || code != 200 || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("delay: %d %v after %s", code, err, time.Since(start))
	}
	s.Set(Reply{Hang: true})
	start = time.Now()
	if _, _, err := get(t, s.URL+"/health", 200*time.Millisecond); err == nil {
		t.Fatal("hang answered")
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("client gave up only after %s", took)
	}
	// Close ends a hanging request at once.
	done := make(chan struct{})
	go func() { _, _, _ = get(t, s.URL+"/health", 10*time.Second); close(done) }()
	time.Sleep(50 * time.Millisecond)
	start = time.Now()
	s.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close left a hanging request")
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Close took %s", took)
	}
}
