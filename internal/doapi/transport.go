package doapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
		r.Header.Set("Authorization", "Bearer "+t.token)
		ci.mu.Lock()
		ci.attempts++
		ci.mu.Unlock()

		start := t.now()
		resp, err := t.base.RoundTrip(r)
		t.log(req, resp, err, t.now().Sub(start))

		if !t.retryable(ctx, resp, err) || attempt >= t.retries {
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
	u := req.URL.Path
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
