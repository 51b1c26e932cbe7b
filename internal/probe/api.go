package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/oxyhq/oxyctl/internal/redact"
)

// APIData are the facts of the api check.
type APIData struct {
	URL        string `json:"url"`
	HTTPStatus int    `json:"http_status"`
	Status     string `json:"status"`
	Database   string `json:"database"`
	Redis      string `json:"redis"`
	LatencyMS  int64  `json:"latency_ms"`
}

// APIProbe checks GET <BaseURL>/health.
type APIProbe struct {
	BaseURL   string
	UserAgent string
	// Client is the HTTP client (default: one with its own transport and no
	// timeout of its own; the context bounds the request).
	Client *http.Client
	Now    func() time.Time
}

// healthBody is the endpoint's answer.
type healthBody struct {
	Status   *string `json:"status"`
	Database *string `json:"database"`
	Redis    *string `json:"redis"`
}

// Run fetches /health and judges the answer.
func (p *APIProbe) Run(ctx context.Context) Outcome {
	now := p.Now
	if now == nil {
		now = time.Now
	}
	u := strings.TrimRight(p.BaseURL, "/") + "/health"
	shown := redact.URL(p.BaseURL) // user info in the URL is a secret too
	data := &APIData{URL: redact.URL(u)}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return Outcome{Status: Fail, Detail: fmt.Sprintf("invalid API URL %q: want https://host", shown), Data: data}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Outcome{Status: Fail, Detail: fmt.Sprintf("invalid API URL %q", shown), Data: data}
	}
	req.Header.Set("Accept", "application/json")
	if p.UserAgent != "" {
		req.Header.Set("User-Agent", p.UserAgent)
	}
	client := p.Client
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		defer client.CloseIdleConnections()
	}
	start := now()
	resp, err := client.Do(req)
	if err != nil {
		took := now().Sub(start)
		data.LatencyMS = took.Milliseconds()
		why := httpError(ctx, err)
		if why == timedOut {
			why = fmt.Sprintf("timed out after %s without an answer", took.Round(100*time.Millisecond))
		}
		return Outcome{Status: Fail, Detail: "GET " + u + ": " + why, Data: data}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	data.LatencyMS = now().Sub(start).Milliseconds()
	data.HTTPStatus = resp.StatusCode
	if err != nil {
		return Outcome{Status: Fail, Detail: fmt.Sprintf("GET %s: HTTP %d, reading the body: %s", data.URL, resp.StatusCode, httpError(ctx, err)), Data: data}
	}

	f := newFindings()
	var hb healthBody
	jsonErr := json.Unmarshal(body, &hb)
	if jsonErr == nil && hb.Status == nil && hb.Database == nil && hb.Redis == nil {
		jsonErr = errors.New("none of status, database, redis")
	}
	if resp.StatusCode != http.StatusOK {
		f.fail("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if jsonErr != nil {
		if resp.StatusCode == http.StatusOK {
			f.fail("the answer is not the health JSON (%s): %s", shortJSONError(jsonErr), snippet(body))
		}
		return Outcome{Status: f.status, Detail: f.detail(""), Data: data}
	}
	data.Status, data.Database, data.Redis = deref(hb.Status), deref(hb.Database), deref(hb.Redis)
	if data.Status != "operational" {
		f.fail("status is %s, not operational", quoteOrMissing(hb.Status))
	}
	if data.Database != "connected" {
		f.fail("database is %s", quoteOrMissing(hb.Database))
	}
	switch data.Redis {
	case "connected":
	case "not configured":
		f.warn("the API runs without Redis (redis: not configured): rate limits are per instance and Socket.IO does not span instances")
	default:
		f.fail("redis is %s", quoteOrMissing(hb.Redis))
	}
	summary := ""
	if f.status == OK {
		summary = fmt.Sprintf("operational, database connected, redis connected (HTTP %d)", resp.StatusCode)
	}
	return Outcome{Status: f.status, Detail: f.detail(summary), Data: data}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func quoteOrMissing(s *string) string {
	if s == nil {
		return "missing"
	}
	return fmt.Sprintf("%q", *s)
}

func shortJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "invalid JSON at byte " + fmt.Sprint(se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s is a JSON %s", te.Field, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	return err.Error()
}

// snippet is the start of a body, printable, for a detail.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	const max = 60
	if len(s) > max {
		s = s[:max] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return fmt.Sprintf("%q", s)
}

const timedOut = "timed out waiting for an answer"

// httpError says in one line why a request failed.
func httpError(ctx context.Context, err error) string {
	var dns *net.DNSError
	switch {
	case ctx.Err() == context.DeadlineExceeded, errors.Is(err, context.DeadlineExceeded), isNetTimeout(err):
		return timedOut
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dns):
		return "cannot resolve " + dns.Name
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return "the server closed the connection"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
