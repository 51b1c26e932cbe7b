package probe

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/config"
)

func sleeper(d time.Duration, st Status) Probe {
	return Func(func(ctx context.Context) Outcome {
		select {
		case <-time.After(d):
			return Outcome{Status: st, Detail: "slept " + d.String()}
		case <-ctx.Done():
			return Outcome{Status: Fail, Detail: "gave up: " + ctx.Err().Error()}
		}
	})
}

func TestRunnerConcurrentAndOrdered(t *testing.T) {
	r := &Runner{Timeout: 2 * time.Second}
	checks := []Check{
		{Name: "a", Probe: sleeper(250*time.Millisecond, OK)},
		{Name: "b", Probe: sleeper(10*time.Millisecond, Warn)},
		{Name: "c"},
		{Name: "d", Probe: sleeper(200*time.Millisecond, OK)},
	}
	start := time.Now()
	rep, err := r.Run(context.Background(), checks)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if took >= 400*time.Millisecond {
		t.Fatalf("took %s: probes did not run concurrently (sum is 460ms)", took)
	}
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "a,b,c,d" {
		t.Fatalf("order %v, want declared order a,b,c,d", names)
	}
	if rep.Checks[2].Status != Skip || rep.Checks[2].Detail != NotConfigured {
		t.Fatalf("nil probe: %+v", rep.Checks[2])
	}
	if rep.Status != Warn {
		t.Fatalf("overall %s, want warn", rep.Status)
	}
	if l := rep.Checks[0].LatencyMS; l < 240 || l > 390 {
		t.Fatalf("latency of a: %dms, want about 250", l)
	}
	if rep.Checks[2].Data == nil {
		t.Fatal("skip data is nil, want {}")
	}
}

func TestRunnerDeadline(t *testing.T) {
	// One probe honours the deadline, one ignores it entirely.
	stubborn := Func(func(ctx context.Context) Outcome {
		time.Sleep(3 * time.Second)
		return Outcome{Status: OK}
	})
	r := &Runner{Timeout: 300 * time.Millisecond}
	start := time.Now()
	rep, err := r.Run(context.Background(), []Check{
		{Name: "polite", Probe: sleeper(5*time.Second, OK)},
		{Name: "stubborn", Probe: stubborn},
		{Name: "quick", Probe: sleeper(time.Millisecond, OK)},
		{Name: "own", Probe: sleeper(5*time.Second, OK), Timeout: 100 * time.Millisecond},
	})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if took > 600*time.Millisecond {
		t.Fatalf("took %s, want about the 300ms deadline (+100ms grace)", took)
	}
	for _, i := range []int{0, 1, 3} {
		c := rep.Checks[i]
		if c.Status != Fail || !strings.Contains(c.Detail, "timed out after") {
			t.Fatalf("%s: %s %q, want fail timed out", c.Name, c.Status, c.Detail)
		}
	}
	if !strings.Contains(rep.Checks[3].Detail, "100ms") || rep.Checks[3].LatencyMS > 250 {
		t.Fatalf("own deadline not used: %+v", rep.Checks[3])
	}
	if rep.Checks[2].Status != OK {
		t.Fatalf("quick: %+v", rep.Checks[2])
	}
	if err := rep.Err(false); err == nil {
		t.Fatal("a timed-out check must be a finding")
	} else if code, _ := apperr.Classify(err); code != apperr.ExitFindings {
		t.Fatalf("timeout exit %d, want 1", code)
	}
}

func TestRunnerPanic(t *testing.T) {
	var stacks atomic.Int32
	r := &Runner{Timeout: time.Second, OnPanic: func(string, []byte) { stacks.Add(1) }}
	rep, err := r.Run(context.Background(), []Check{
		{Name: "ok", Probe: sleeper(0, OK)},
		{Name: "boom", Probe: Func(func(context.Context) Outcome {
			panic("boom")
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Checks[1]
	if b.Status != Fail || !strings.Contains(b.Detail, "internal error (a bug)") || b.Panic == "" {
		t.Fatalf("panic result %+v", b)
	}
	if stacks.Load() != 1 {
		t.Fatalf("OnPanic called %d times", stacks.Load())
	}
	code, kind := apperr.Classify(rep.Err(false))
	if code != apperr.ExitRuntime || kind != apperr.KindInternal {
		t.Fatalf("panic: exit %d kind %s, want 3 internal", code, kind)
	}
}

func TestRunnerInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	r := &Runner{Timeout: 5 * time.Second}
	start := time.Now()
	_, err := r.Run(ctx, []Check{{Name: "a", Probe: sleeper(5*time.Second, OK)}})
	if !errors.Is(err, apperr.ErrInterrupted) {
		t.Fatalf("err %v, want interrupted", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("cancel did not stop the run")
	}
}

func TestOverallAndExit(t *testing.T) {
	mk := func(ss ...Status) *Report {
		var rs []Result
		for _, s := range ss {
			rs = append(rs, Result{Name: "x", Status: s})
		}
		return &Report{Status: Overall(rs), Checks: rs}
	}
	cases := []struct {
		in      []Status
		overall Status
		code    int
		strict  int
	}{
		{nil, OK, 0, 0},
		{[]Status{Skip, Skip, Skip, Skip}, OK, 0, 0},
		{[]Status{OK, Skip}, OK, 0, 0},
		{[]Status{OK, Warn, Skip}, Warn, 0, 1},
		{[]Status{Warn, Fail, OK}, Fail, 1, 1},
		{[]Status{Fail}, Fail, 1, 1},
	}
	for _, c := range cases {
		r := mk(c.in...)
		if r.Status != c.overall {
			t.Errorf("%v: overall %s, want %s", c.in, r.Status, c.overall)
		}
		if code, _ := apperr.Classify(r.Err(false)); code != c.code {
			t.Errorf("%v: exit %d, want %d", c.in, code, c.code)
		}
		if code, _ := apperr.Classify(r.Err(true)); code != c.strict {
			t.Errorf("%v strict: exit %d, want %d", c.in, code, c.strict)
		}
	}
}

func TestParseNames(t *testing.T) {
	got, err := ParseNames([]string{"do", "API", "valkey"})
	if err != nil || strings.Join(got, ",") != "api,valkey,do" {
		t.Fatalf("got %v %v, want fixed order api,valkey,do", got, err)
	}
	got, _ = ParseNames(nil)
	if strings.Join(got, ",") != "api,valkey,pubsub,ratelimit,do" {
		t.Fatalf("default %v", got)
	}
	for _, bad := range [][]string{{"redis"}, {""}, {"api", "nope"}} {
		_, err := ParseNames(bad)
		if code, _ := apperr.Classify(err); code != apperr.ExitUsage {
			t.Errorf("%q: err %v, want usage error", bad, err)
		}
	}
}

func TestConfigured(t *testing.T) {
	none := &config.Settings{APIURL: config.DefaultAPIURL, Sources: map[string]string{"api_url": "default"}}
	c := Configured(none)
	for _, n := range Names {
		if c[n] {
			t.Errorf("%s configured with no settings", n)
		}
	}
	all := &config.Settings{APIURL: "http://127.0.0.1:1", RedisURL: "redis://127.0.0.1:1", DOToken: "t0k",
		Sources: map[string]string{"api_url": "env OXY_API_URL"}}
	c = Configured(all)
	for _, n := range Names {
		if !c[n] {
			t.Errorf("%s not configured", n)
		}
	}
	// The default URL given explicitly (flag/env/context) counts.
	flagDefault := &config.Settings{APIURL: config.DefaultAPIURL, Sources: map[string]string{"api_url": "flag"}}
	if !Configured(flagDefault)[NameAPI] {
		t.Error("api-url from a flag must count as configured")
	}
	checks := FromSettings(none, []string{"pubsub", "api"}, Env{})
	if len(checks) != 2 || checks[0].Name != "api" || checks[1].Name != "pubsub" || checks[0].Probe != nil || checks[1].Probe != nil {
		t.Fatalf("FromSettings(none): %+v", checks)
	}
	checks = FromSettings(all, nil, Env{})
	for _, c := range checks {
		if c.Probe == nil {
			t.Errorf("%s: no probe", c.Name)
		}
	}
}
