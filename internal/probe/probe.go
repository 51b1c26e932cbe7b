// Package probe runs oxyctl's health checks: a Probe per dependency (the
// API's /health, Valkey, the Socket.IO adapter's pub/sub, the managed
// API's rate limiter on that Valkey, the managed database on DigitalOcean),
// a Runner that runs them concurrently, each
// under its own deadline, and the overall status and exit code of a run.
//
// A probe never returns an error: whatever goes wrong (a timeout, a refused
// connection, a bad answer) is a finding, reported as the check's status and
// detail. Only a bug (a panic in a probe) is a tool error.
package probe

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

// Status is a check's outcome.
type Status string

// The statuses, from best to worst; Skip is outside that order.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

func (s Status) rank() int {
	switch s {
	case OK:
		return 1
	case Warn:
		return 2
	case Fail:
		return 3
	}
	return 0
}

// Worse returns the worse of a and b (Skip counts as nothing).
func Worse(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Check names.
const (
	NameAPI       = "api"
	NameValkey    = "valkey"
	NamePubSub    = "pubsub"
	NameRateLimit = "ratelimit"
	NameDO        = "do"
)

// Names are the checks in the order they are always reported.
var Names = []string{NameAPI, NameValkey, NamePubSub, NameRateLimit, NameDO}

// NotConfigured is the detail of a skipped check.
const NotConfigured = "not configured"

// Outcome is what a probe finds.
type Outcome struct {
	Status Status
	Detail string
	// Data are the probe's facts (a struct with JSON tags); nil becomes {}.
	Data any
}

// Probe checks one dependency. Run must honour ctx's deadline; the Runner
// gives up on it at the deadline anyway.
type Probe interface {
	Run(ctx context.Context) Outcome
}

// Func adapts a function to Probe.
type Func func(ctx context.Context) Outcome

// Run calls f.
func (f Func) Run(ctx context.Context) Outcome { return f(ctx) }

// Check is a named probe. A nil Probe is a check whose settings are absent:
// it is reported as skip, "not configured".
type Check struct {
	Name  string
	Probe Probe
	// Timeout, when set and shorter than the run's, is this check's own deadline.
	Timeout time.Duration
}

// Result is one reported check (the JSON of a check).
type Result struct {
	Name      string        `json:"name"`
	Status    Status        `json:"status"`
	LatencyMS int64         `json:"latency_ms"`
	Detail    string        `json:"detail"`
	Data      any           `json:"data"`
	Latency   time.Duration `json:"-"`
	// Panic holds what a panicking probe panicked with (a bug).
	Panic string `json:"-"`
}

// Report is the result of one run (the JSON document of `oxyctl health`).
type Report struct {
	Status Status   `json:"status"`
	Checks []Result `json:"checks"`
}

// Overall is the worst status of the results; a run where every check is
// skipped, or that has no checks, is ok.
func Overall(results []Result) Status {
	s := OK
	for _, r := range results {
		s = Worse(s, r.Status)
	}
	return s
}

// Err is the error a run ends with: nil when every check is ok or skipped
// (or warns without strict), a FindingsError (exit 1) when one fails or,
// with strict, warns, and a RuntimeError of kind internal when a probe
// panicked, which is a bug rather than a finding.
func (r *Report) Err(strict bool) error {
	for _, c := range r.Checks {
		if c.Panic != "" {
			return apperr.Runtime(apperr.KindInternal,
				fmt.Errorf("health check %s crashed (a bug): %s", c.Name, c.Panic),
				"please report it with the command you ran; run with --verbose for the stack")
		}
	}
	var failed, warned []string
	for _, c := range r.Checks {
		switch c.Status {
		case Fail:
			failed = append(failed, c.Name)
		case Warn:
			warned = append(warned, c.Name)
		}
	}
	if len(failed) > 0 {
		return &apperr.FindingsError{}
	}
	if strict && len(warned) > 0 {
		return &apperr.FindingsError{}
	}
	return nil
}

// Counts says how many checks have each status.
func (r *Report) Counts() map[Status]int {
	m := map[Status]int{}
	for _, c := range r.Checks {
		m[c.Status]++
	}
	return m
}

// ParseNames checks a --check list: known names, no duplicates, returned in
// the fixed report order. An empty list is every check.
func ParseNames(list []string) ([]string, error) {
	if len(list) == 0 {
		return append([]string(nil), Names...), nil
	}
	want := map[string]bool{}
	for _, n := range list {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		known := false
		for _, k := range Names {
			if k == n {
				known = true
			}
		}
		if !known {
			return nil, apperr.Usagef("unknown check %q: valid checks are %s", n, strings.Join(Names, ", "))
		}
		want[n] = true
	}
	if len(want) == 0 {
		return nil, apperr.Usagef("--check is empty: valid checks are %s", strings.Join(Names, ", "))
	}
	var out []string
	for _, k := range Names {
		if want[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// findings collects a probe's problems; the status is the worst one.
type findings struct {
	status Status
	notes  []string
}

func newFindings() *findings { return &findings{status: OK} }

func (f *findings) warn(format string, a ...any) {
	f.status = Worse(f.status, Warn)
	f.notes = append(f.notes, fmt.Sprintf(format, a...))
}

func (f *findings) fail(format string, a ...any) {
	f.status = Worse(f.status, Fail)
	f.notes = append(f.notes, fmt.Sprintf(format, a...))
}

// detail is the problems first, then the summary.
func (f *findings) detail(summary string) string {
	parts := append([]string(nil), f.notes...)
	if summary != "" {
		parts = append(parts, summary)
	}
	return strings.Join(parts, "; ")
}
