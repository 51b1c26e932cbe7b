package health_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/standin/healthstub"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// These tests drive the real entry point (app.Run) against real servers: a
// TLS valkey-server with a password, the /health stand-in and the
// DigitalOcean stand-in. They run one after another: app.Run sets cobra's
// process-wide hooks.

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	res := clitest.Run(context.Background(), app.Run, env, "", append([]string{"health"}, args...)...)
	r := result{code: res.Code, stdout: res.Stdout, stderr: res.Stderr, took: res.Elapsed}
	t.Logf("oxyctl health %s: exit %d in %s\n%s%s", strings.Join(args, " "), r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
	return r
}

type doc struct {
	Status string `json:"status"`
	Checks []struct {
		Name      string          `json:"name"`
		Status    string          `json:"status"`
		LatencyMS int64           `json:"latency_ms"`
		Detail    string          `json:"detail"`
		Data      json.RawMessage `json:"data"`
	} `json:"checks"`
}

func parse(t *testing.T, r result) doc {
	t.Helper()
	var d doc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("stdout is not the JSON document: %v\n%s", err, r.stdout)
	}
	return d
}

// statuses is "name=status" for every check, in order.
func (d doc) statuses() string {
	var s []string
	for _, c := range d.Checks {
		s = append(s, c.Name+"="+c.Status)
	}
	return strings.Join(s, " ")
}

func (d doc) detail(name string) string {
	for _, c := range d.Checks {
		if c.Name == name {
			return c.Detail
		}
	}
	return ""
}

// baseEnv has a temp HOME and config dir, so no developer config is read.
func baseEnv(t *testing.T) map[string]string {
	dir := t.TempDir()
	return map[string]string{"HOME": dir, "XDG_CONFIG_HOME": filepath.Join(dir, "config")}
}

// deployment is every real server, healthy.
type deployment struct {
	valkey *valkeytest.Server
	api    *healthstub.Server
	do     *dostub.Server
	env    map[string]string
}

func startDeployment(t *testing.T, opts valkeytest.Options) *deployment {
	t.Helper()
	if opts.Password == "" {
		opts.Password = "e2e-Secret-pw"
	}
	if opts.TLSFiles == nil {
		opts.TLS = true
	}
	d := &deployment{
		valkey: valkeytest.Start(t, opts),
		api:    healthstub.Start(t, healthstub.Healthy()),
		do:     dostub.Start(t),
	}
	d.env = baseEnv(t)
	d.env["REDIS_URL"] = d.valkey.URL
	d.env["OXYCTL_REDIS_CA"] = d.valkey.CAFile
	d.env["OXY_API_URL"] = d.api.URL
	d.env["DIGITALOCEAN_ACCESS_TOKEN"] = d.do.Token()
	d.env["DIGITALOCEAN_API_URL"] = d.do.URL
	if !opts.Refused {
		apiLoadedScripts(t, d.valkey)
	}
	return d
}

// apiLoadedScripts loads rate-limit-redis 6.0.1's scripts, as the API's
// limiter does when it starts.
func apiLoadedScripts(t *testing.T, srv *valkeytest.Server) {
	t.Helper()
	cl := srv.Client(t)
	for _, s := range ratelimit.Scripts {
		if s.Version != "6.0.1" {
			continue
		}
		sha, err := cl.Do(context.Background(), cl.B().ScriptLoad().Script(s.Text).Build()).ToString()
		if err != nil || sha != s.SHA1 {
			t.Fatalf("SCRIPT LOAD: %q %v, want %s", sha, err, s.SHA1)
		}
	}
}

// apiInstances subscribes n connections the way the classic adapter's
// instances do, and waits until Valkey counts them.
func apiInstances(t *testing.T, srv *valkeytest.Server, n int) {
	t.Helper()
	cl := srv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for i := 0; i < n; i++ {
		// One connection each: the broadcast pattern, the request channel,
		// the shared and the instance's own response channel.
		dc, release := cl.Dedicate()
		t.Cleanup(release)
		dc.SetPubSubHooks(valkey.PubSubHooks{OnMessage: func(valkey.PubSubMessage) {}})
		if err := dc.Do(ctx, dc.B().Psubscribe().Pattern("socket.io#/#*").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		uid := fmt.Sprintf("inst%02d", i)
		if err := dc.Do(ctx, dc.B().Subscribe().Channel("socket.io-request#/#", "socket.io-response#/#", "socket.io-response#/#"+uid+"#").Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m, err := cl.Do(ctx, cl.B().PubsubNumsub().Channel("socket.io-request#/#").Build()).AsIntMap()
		if err == nil && m["socket.io-request#/#"] == int64(n) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d subscribers did not show up", n)
}

func TestHealthAllOK(t *testing.T) {
	d := startDeployment(t, valkeytest.Options{})
	apiInstances(t, d.valkey, 2)

	r := run(t, d.env, "-o", "json")
	got := parse(t, r)
	if r.code != 0 || got.Status != "ok" || got.statuses() != "api=ok valkey=ok pubsub=ok ratelimit=ok do=ok" {
		t.Fatalf("exit %d, %s %s", r.code, got.Status, got.statuses())
	}
	if r.stderr != "" {
		t.Fatalf("stderr %q", r.stderr)
	}
	if strings.Contains(r.stdout, "e2e-Secret-pw") || strings.Contains(r.stdout, d.do.Token()) {
		t.Fatal("a secret in the output")
	}
	var vd struct {
		Server string `json:"server"`
		TLS    struct {
			Version  string `json:"version"`
			DaysLeft int    `json:"days_left"`
		} `json:"tls"`
	}
	_ = json.Unmarshal(got.Checks[1].Data, &vd)
	if vd.Server != "valkey" || !strings.HasPrefix(vd.TLS.Version, "TLS 1.") || vd.TLS.DaysLeft < 80 {
		t.Fatalf("valkey data %s", got.Checks[1].Data)
	}
	if !strings.Contains(got.detail("ratelimit"), "rate-limit-redis 6.0.1 (increment, get)") {
		t.Fatalf("ratelimit detail %q", got.detail("ratelimit"))
	}
	if !strings.Contains(got.detail("pubsub"), "/ 2") || !strings.Contains(got.detail("do"), "db-valkey-ams3-04785 online") {
		t.Fatalf("details: %+v", got)
	}
	if hits := d.api.Hits(); hits != 1 {
		t.Fatalf("/health hit %d times", hits)
	}

	r = run(t, d.env)
	if r.code != 0 || strings.Count(r.stdout, "✓ ok") != 6 || !strings.Contains(r.stdout, "overall: ✓ ok (5 ok)") {
		t.Fatalf("text: exit %d\n%s", r.code, r.stdout)
	}
}

func TestHealthFailureModes(t *testing.T) {
	d := startDeployment(t, valkeytest.Options{})
	apiInstances(t, d.valkey, 1)

	type tc struct {
		name    string
		setup   func(env map[string]string)
		check   string
		status  string
		detail  string
		code    int
		strict  int // exit code with --strict
		cleanup func()
	}
	api := func(r healthstub.Reply) func(map[string]string) { return func(map[string]string) { d.api.Set(r) } }
	cases := []tc{
		{name: "api redis not configured", setup: api(healthstub.RedisIs(healthstub.NotConfigured)), check: "api", status: "warn", detail: "not configured", code: 0, strict: 1},
		{name: "api redis disconnected", setup: api(healthstub.RedisIs(healthstub.Disconnected)), check: "api", status: "fail", detail: `redis is "disconnected"`, code: 1, strict: 1},
		{name: "api other status", setup: api(healthstub.Reply{Status: "starting"}), check: "api", status: "fail", detail: `status is "starting"`, code: 1, strict: 1},
		{name: "api 503", setup: api(healthstub.Unavailable()), check: "api", status: "fail", detail: "HTTP 503", code: 1, strict: 1},
		{name: "api bad json", setup: api(healthstub.BadJSON()), check: "api", status: "fail", detail: "not the health JSON", code: 1, strict: 1},
		{name: "api healthy again", setup: api(healthstub.Healthy()), check: "api", status: "ok", detail: "operational", code: 0, strict: 0},
		{name: "pubsub expected more", check: "pubsub", status: "warn", detail: "has 1 of 3 expected", code: 0, strict: 1,
			setup: func(env map[string]string) { writeConfig(t, env, "socketio:\n      expected_instances: 3\n") }},
		{name: "pubsub other key: none", check: "pubsub", status: "fail", detail: "no API instance is subscribed", code: 1, strict: 1,
			setup: func(env map[string]string) { writeConfig(t, env, "socketio:\n      key: oxy\n") }},
		{name: "do missing cluster", setup: func(env map[string]string) { env["OXYCTL_CLUSTER"] = "db-valkey-nope" }, check: "do", status: "fail", detail: `no database cluster named "db-valkey-nope"`, code: 1, strict: 1},
		{name: "do other engine", setup: func(env map[string]string) { env["OXYCTL_CLUSTER"] = "db-postgresql-ams3-11234" }, check: "do", status: "fail", detail: "is a pg database, not Valkey", code: 1, strict: 1},
		{name: "do resizing", setup: func(map[string]string) { d.do.SetClusterStatus(dostub.OxyClusterID, "resizing") }, check: "do", status: "warn", detail: "is resizing", code: 0, strict: 1,
			cleanup: func() { d.do.SetClusterStatus(dostub.OxyClusterID, "online") }},
		{name: "do bad token", setup: func(env map[string]string) { env["DIGITALOCEAN_ACCESS_TOKEN"] = "dop_v1_revoked0000" }, check: "do", status: "fail", detail: "401", code: 1, strict: 1},
		{name: "valkey wrong password", setup: func(env map[string]string) {
			env["REDIS_URL"] = strings.Replace(d.valkey.URL, "e2e-Secret-pw", "nope-pw", 1)
		}, check: "valkey", status: "fail", detail: "authentication failed", code: 1, strict: 1},
		{name: "valkey down", setup: func(env map[string]string) { env["REDIS_URL"] = "rediss://default:pw@127.0.0.1:1" }, check: "valkey", status: "fail", detail: "connection refused", code: 1, strict: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range d.env {
				env[k] = v
			}
			env["XDG_CONFIG_HOME"] = t.TempDir()
			if c.setup != nil {
				c.setup(env)
			}
			if c.cleanup != nil {
				defer c.cleanup()
			}
			for _, strict := range []bool{false, true} {
				args := []string{"-o", "json", "--check", c.check}
				want := c.code
				if strict {
					args, want = append(args, "--strict"), c.strict
				}
				r := run(t, env, args...)
				got := parse(t, r)
				if r.code != want || len(got.Checks) != 1 || got.Checks[0].Status != c.status || !strings.Contains(got.Checks[0].Detail, c.detail) {
					t.Fatalf("strict=%v: exit %d (want %d), %s %q (want %s with %q)", strict, r.code, want, got.statuses(), got.detail(c.check), c.status, c.detail)
				}
				for _, secret := range []string{"e2e-Secret-pw", "nope-pw", "dop_v1_revoked0000", d.do.Token()} {
					if strings.Contains(r.stdout+r.stderr, secret) {
						t.Fatalf("secret %q in the output", secret)
					}
				}
			}
		})
	}
}

// writeConfig writes a config file with one context holding block.
func writeConfig(t *testing.T, env map[string]string, block string) {
	t.Helper()
	dir := filepath.Join(env["XDG_CONFIG_HOME"], "oxyctl")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	body := "current_context: test\ncontexts:\n  test:\n    " + block
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestHealthCertificates(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name, detail string
		spec         valkeytest.CertSpec
		status       string
		code         int
	}{
		{"expires in 10 days", "expires in 10 days", valkeytest.CertSpec{Hosts: []string{"127.0.0.1"}, NotAfter: now.Add(10*24*time.Hour + time.Hour)}, "warn", 0},
		{"expired", "expired on " + now.Add(-2*24*time.Hour).UTC().Format("2006-01-02"), valkeytest.CertSpec{Hosts: []string{"127.0.0.1"}, NotBefore: now.Add(-60 * 24 * time.Hour), NotAfter: now.Add(-2 * 24 * time.Hour)}, "fail", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := valkeytest.NewTLSFilesSpec(t, c.spec)
			srv := valkeytest.Start(t, valkeytest.Options{TLSFiles: files, Password: "cert-pw"})
			env := baseEnv(t)
			env["REDIS_URL"], env["OXYCTL_REDIS_CA"] = srv.URL, srv.CAFile
			r := run(t, env, "-o", "json", "--check", "valkey")
			got := parse(t, r)
			if r.code != c.code || got.Checks[0].Status != c.status || !strings.Contains(got.Checks[0].Detail, c.detail) {
				t.Fatalf("exit %d, %s %q", r.code, got.statuses(), got.detail("valkey"))
			}
		})
	}
}

// The eviction policy alone no longer warns (TestHealthEvictionPolicy was
// here): the ratelimit check warns when counters were evicted, with the
// strict exit code, in TestHealthRateLimitCountersEvicted.

func TestHealthConcurrent(t *testing.T) {
	d := startDeployment(t, valkeytest.Options{})
	apiInstances(t, d.valkey, 1)
	d.api.Set(healthstub.Reply{Delay: 300 * time.Millisecond})
	// The do check makes two requests (the cluster, then its events): the
	// first one is slow, so the check takes 300ms as the api check does.
	d.do.Inject(dostub.Fault{Op: "databases_list_clusters", Delay: 300 * time.Millisecond})
	// Every run dials afresh, as the CLI does. On a loaded CI machine one
	// run can be slow for reasons of its own, so up to 3 runs are made and
	// one must finish in time; sequential checks (600ms+) never would.
	var took []time.Duration
	for attempt := 0; attempt < 3; attempt++ {
		r := run(t, d.env, "-o", "json")
		got := parse(t, r)
		if r.code != 0 || got.statuses() != "api=ok valkey=ok pubsub=ok ratelimit=ok do=ok" {
			t.Fatalf("exit %d %s", r.code, got.statuses())
		}
		if got.Checks[0].LatencyMS < 300 || got.Checks[4].LatencyMS < 300 {
			t.Fatalf("the delays did not apply: api %dms do %dms", got.Checks[0].LatencyMS, got.Checks[4].LatencyMS)
		}
		took = append(took, r.took)
		if r.took < 500*time.Millisecond {
			return
		}
	}
	t.Fatalf("runs took %v with two 300ms checks: they did not run concurrently", took)
}

func TestHealthHangingAPI(t *testing.T) {
	d := startDeployment(t, valkeytest.Options{})
	apiInstances(t, d.valkey, 1)
	d.api.Set(healthstub.Reply{Hang: true})
	var took []time.Duration
	for attempt := 0; attempt < 3; attempt++ {
		r := run(t, d.env, "-o", "json", "--timeout", "1s")
		got := parse(t, r)
		if r.code != 1 || got.statuses() != "api=fail valkey=ok pubsub=ok ratelimit=ok do=ok" || got.Status != "fail" {
			t.Fatalf("exit %d %s", r.code, got.statuses())
		}
		if !strings.Contains(got.detail("api"), "timed out") {
			t.Fatalf("api detail %q", got.detail("api"))
		}
		if r.took < time.Second {
			t.Fatalf("took %s: the hanging check did not wait for its 1s deadline", r.took)
		}
		took = append(took, r.took)
		if r.took < 1500*time.Millisecond {
			break
		}
	}
	if last := took[len(took)-1]; last >= 1500*time.Millisecond {
		t.Fatalf("runs took %v, want under 1.5s", took)
	}
	// The text form says the same.
	r := run(t, d.env, "--timeout", "1s", "--check", "api")
	if r.code != 1 || !strings.Contains(r.stdout, "✗ FAIL") || !strings.Contains(r.stdout, "timed out") {
		t.Fatalf("text: exit %d\n%s", r.code, r.stdout)
	}
}

func TestHealthNothingConfigured(t *testing.T) {
	env := baseEnv(t)
	r := run(t, env, "-o", "json")
	got := parse(t, r)
	if r.code != 0 || got.Status != "ok" || got.statuses() != "api=skip valkey=skip pubsub=skip ratelimit=skip do=skip" {
		t.Fatalf("exit %d %s %s", r.code, got.Status, got.statuses())
	}
	for _, c := range got.Checks {
		if c.Detail != "not configured" || string(c.Data) != "{}" || c.LatencyMS != 0 {
			t.Fatalf("%+v", c)
		}
	}
	if r.took > 200*time.Millisecond {
		t.Fatalf("took %s: something was contacted", r.took)
	}
	r = run(t, env, "--strict")
	want := "CHECK      STATUS  LATENCY  DETAIL\n" +
		"api        – skip  -        not configured\n" +
		"valkey     – skip  -        not configured\n" +
		"pubsub     – skip  -        not configured\n" +
		"ratelimit  – skip  -        not configured\n" +
		"do         – skip  -        not configured\n" +
		"overall: ✓ ok (5 skip)\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Fatalf("text: exit %d\n%s\nwant\n%s", r.code, r.stdout, want)
	}
	// A bad --check is a usage error.
	if r := run(t, env, "--check", "nope"); r.code != 2 {
		t.Fatalf("--check nope: exit %d", r.code)
	}
}
