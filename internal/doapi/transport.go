package doapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// callInfo follows one method call through the transport: how many attempts
// it took and, when it stopped retrying early, why.
type callInfo struct {
	mu       sync.Mutex
	attempts int
	gaveUp   string // e.g. "the API asks to wait 60s, longer than the 30s limit"
}

type callKey struct{}

func withCall(ctx context.Context) (context.Context, *callInfo) {
	ci := &callInfo{}
	return context.WithValue(ctx, callKey{}, ci), ci
}

func callFrom(ctx context.Context) *callInfo {
	if ci, ok := ctx.Value(callKey{}).(*callInfo); ok {
		return ci
	}
	return &callInfo{}
}

func (ci *callInfo) get() (int, string) {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	return ci.attempts, ci.gaveUp
}

// transport adds the bearer token and retries 429, 5xx (except 501) and
// failed connections with exponential backoff. A Retry-After header (or, on a
// 429 without it, ratelimit-reset) sets the wait; it is never shortened.
// A wait longer than the maximum, or one that would end after the context's
// deadline, is not started: the last answer is returned at once.
type transport struct {
	base    http.RoundTripper
	token   string
	host    string // the configured API host[:port]: the only one that gets the token
	maxBody int64
	retries int
	minWait time.Duration
	maxWait time.Duration
	now     func() time.Time
	logf    func(format string, args ...any)
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	ci := callFrom(ctx)
	for attempt := 0; ; attempt++ {
		r := req.Clone(ctx)
		if attempt > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		if r.URL.Host == t.host {
			r.Header.Set("Authorization", "Bearer "+t.token)
		} else {
			// checkRedirect follows no redirect to another host; this is the
			// second lock on that door.
			r.Header.Del("Authorization")
		}
		ci.mu.Lock()
		if attempt == 0 {
			ci.attempts = 0 // "after N attempts" speaks of this request, not of every page before it
		}
		ci.attempts++
		ci.mu.Unlock()

		start := t.now()
		resp, err := t.base.RoundTrip(r)
		t.log(req, resp, err, t.now().Sub(start))

		if !t.retryable(ctx, resp, err) || attempt >= t.retries {
			if resp != nil && resp.Body != nil {
				resp.Body = &capBody{rc: resp.Body, left: t.maxBody, limit: t.maxBody}
			}
			return resp, err
		}
		wait, told := t.backoff(attempt, resp)
		if told && wait > t.maxWait {
			t.giveUp(ci, fmt.Sprintf("the API asks to wait %s, longer than the %s limit", roundWait(wait), roundWait(t.maxWait)))
			return resp, err
		}
		if dl, ok := ctx.Deadline(); ok && t.now().Add(wait).After(dl) {
			t.giveUp(ci, fmt.Sprintf("the next attempt (in %s) would come after the deadline", roundWait(wait)))
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if t.logf != nil {
			t.logf("DigitalOcean API: retrying %s %s in %s", req.Method, req.URL.Path, roundWait(wait))
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

func (t *transport) giveUp(ci *callInfo, why string) {
	ci.mu.Lock()
	ci.gaveUp = why
	ci.mu.Unlock()
	if t.logf != nil {
		t.logf("DigitalOcean API: not retrying: %s", why)
	}
}

func (t *transport) retryable(ctx context.Context, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		return true // connection refused, reset, ...: try again
	}
	c := resp.StatusCode
	return c == http.StatusTooManyRequests || (c >= 500 && c != http.StatusNotImplemented)
}

// backoff returns the wait before the next attempt and whether the server
// told us (Retry-After, ratelimit-reset) rather than our own backoff.
func (t *transport) backoff(attempt int, resp *http.Response) (time.Duration, bool) {
	wait := t.minWait << attempt
	if wait > t.maxWait || wait <= 0 {
		wait = t.maxWait
	}
	if resp == nil {
		return wait, false
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			if secs, err := strconv.ParseFloat(ra, 64); err == nil && secs >= 0 {
				return time.Duration(secs * float64(time.Second)), true
			}
			if when, err := http.ParseTime(ra); err == nil {
				return max(0, when.Sub(t.now())), true
			}
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("ratelimit-remaining") == "0" {
		if reset, err := strconv.ParseInt(resp.Header.Get("ratelimit-reset"), 10, 64); err == nil && reset > 0 {
			return max(0, time.Unix(reset, 0).Sub(t.now())), true
		}
	}
	return wait, false
}

func (t *transport) log(req *http.Request, resp *http.Response, err error, took time.Duration) {
	if t.logf == nil {
		return
	}
	// The URL never holds the token; headers (which do) are never logged.
	u := req.URL.Host + req.URL.Path
	if req.URL.RawQuery != "" {
		u += "?" + req.URL.RawQuery
	}
	if err != nil {
		t.logf("DigitalOcean API: %s %s: %v (%s)", req.Method, u, err, took.Round(time.Millisecond))
		return
	}
	extra := ""
	if resp.StatusCode == http.StatusTooManyRequests {
		extra = fmt.Sprintf(" retry-after=%q ratelimit-reset=%q", resp.Header.Get("Retry-After"), resp.Header.Get("ratelimit-reset"))
	}
	t.logf("DigitalOcean API: %s %s -> %d (%s)%s", req.Method, u, resp.StatusCode, took.Round(time.Millisecond), extra)
}

func roundWait(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// errTooLarge is what reading an answer past Options.MaxResponse returns.
var errTooLarge = errors.New("the answer is larger than oxyctl reads")

// capBody ends an answer's body with errTooLarge after limit bytes, so a
// server that streams without end costs bounded memory and time.
type capBody struct {
	rc          io.ReadCloser
	left, limit int64
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("%w (%d MiB)", errTooLarge, b.limit>>20)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *capBody) Close() error { return b.rc.Close() }

// redirectError is a redirect oxyctl did not follow.
type redirectError struct {
	status int
	to     *url.URL
	why    string
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("the DigitalOcean API answered %d, a redirect to %s://%s, which oxyctl does not follow (%s)",
		e.status, e.to.Scheme, e.to.Host, e.why)
}

// checkRedirect follows a redirect only where the token may go: a read (GET
// or HEAD) to the configured host, by the configured scheme or https. A
// write is never redirected: 301 and 302 would turn a PUT into a GET that
// "succeeds", and 307 and 308 would send the body somewhere else.
func checkRedirect(base *url.URL) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		refuse := func(why string) error { return &redirectError{status: status, to: req.URL, why: why} }
		switch first := via[0]; {
		case first.Method != http.MethodGet && first.Method != http.MethodHead:
			return refuse("a write is never redirected")
		case req.URL.Host != base.Host:
			return refuse("another host than " + base.Host + " would get the token")
		case req.URL.Scheme != base.Scheme && req.URL.Scheme != "https":
			return refuse("plain http would carry the token")
		case len(via) >= 5:
			return refuse("too many redirects")
		}
		return nil
	}
}
