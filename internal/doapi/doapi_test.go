package doapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
)

// logSink collects verbose log lines (to check the token never shows).
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logSink) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

type env struct {
	stub *dostub.Server
	c    *Client
	log  *logSink
}

// newEnv starts a stand-in and a client with small waits.
func newEnv(t *testing.T, mod func(*Options), stubOpts ...dostub.Options) *env {
	t.Helper()
	s := dostub.Start(t, stubOpts...)
	log := &logSink{}
	o := Options{
		BaseURL: s.URL, Token: s.Token(), UserAgent: "oxyctl/test", Timeout: 5 * time.Second,
		RetryMax: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: 50 * time.Millisecond, Logf: log.logf,
	}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{stub: s, c: c, log: log}
	t.Cleanup(func() {
		// The token never shows in a verbose log line.
		if strings.Contains(log.text(), s.Token()) || strings.Contains(log.text(), "Bearer") {
			t.Errorf("the verbose log shows the token:\n%s", log.text())
		}
	})
	return e
}

// noToken fails the test if err, its hint or its kind text contains the token.
func noToken(t *testing.T, err error, token string) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), token) || strings.Contains(apperr.HintOf(err), token) {
		t.Fatalf("the error shows the token: %v (hint %q)", err, apperr.HintOf(err))
	}
}

func kindOf(err error) (int, string) { return apperr.Classify(err) }

func TestNewOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no token", Options{}, "no DigitalOcean token"},
		{"blank token", Options{Token: "  "}, "no DigitalOcean token"},
		{"bad url", Options{Token: "dop_v1_x", BaseURL: "api.digitalocean.com"}, "invalid DigitalOcean API URL"},
		{"plain http to a remote host", Options{Token: "dop_v1_x", BaseURL: "http://api.digitalocean.com"}, "plain http"},
	} {
		_, err := New(tc.o)
		if code, kind := kindOf(err); code != 2 || kind != "config" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (%d %s)", tc.name, err, code, kind)
		}
		noToken(t, err, "dop_v1_x")
	}
	for _, u := range []string{"", "https://api.digitalocean.com", "http://127.0.0.1:1", "http://[::1]:2", "http://localhost:3"} {
		if _, err := New(Options{Token: "dop_v1_x", BaseURL: u}); err != nil {
			t.Errorf("%q: %v", u, err)
		}
	}
}

func TestFindCluster(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	cl, err := e.c.FindCluster(ctx, dostub.OxyClusterName)
	if err != nil {
		t.Fatal(err)
	}
	if cl.ID != dostub.OxyClusterID || cl.Engine != "valkey" || cl.Version != "8" || !cl.Healthy() || cl.Region != "ams3" ||
		cl.NumNodes != 1 || cl.Maintenance == nil || cl.Maintenance.Day != "sunday" || cl.PrivateHost == "" || cl.Port != 25061 {
		t.Fatalf("cluster: %+v", cl)
	}
	byID, err := e.c.FindCluster(ctx, dostub.OxyClusterID)
	if err != nil || byID.Name != dostub.OxyClusterName {
		t.Fatalf("by id: %v %+v", err, byID)
	}
	// A name matching nothing lists what exists; exit 2.
	_, err = e.c.FindCluster(ctx, "db-valkey-nyc1-00000")
	code, kind := kindOf(err)
	if code != 2 || kind != "config" || !strings.Contains(err.Error(), `no database cluster named "db-valkey-nyc1-00000"`) ||
		!strings.Contains(err.Error(), "db-valkey-ams3-04785 (valkey)") || !strings.Contains(err.Error(), "db-postgresql-ams3-11234 (pg)") {
		t.Fatalf("no match: %v (%d %s)", err, code, kind)
	}
	// An id that does not exist.
	_, err = e.c.FindCluster(ctx, dostub.UUIDFor("nope"))
	if code, _ := kindOf(err); code != 2 || !strings.Contains(err.Error(), "no database cluster with id") {
		t.Fatalf("unknown id: %v", err)
	}
	// A name that several clusters carry.
	e.stub.AddDatabase(dostub.Database{ID: dostub.UUIDFor("db:dup"), Name: dostub.OxyClusterName, Engine: "valkey",
		Version: "8", Region: "nyc1", Size: "db-s-1vcpu-1gb", NumNodes: 1, Status: "online", CreatedAt: time.Now(),
		Host: "dup.example.com", Port: 25061, Password: "x"})
	_, err = e.c.FindCluster(ctx, dostub.OxyClusterName)
	if code, _ := kindOf(err); code != 2 || !strings.Contains(err.Error(), "2 database clusters are named") ||
		!strings.Contains(err.Error(), dostub.UUIDFor("db:dup")) {
		t.Fatalf("several: %v", err)
	}
	_, err = e.c.FindCluster(ctx, " ")
	if code, _ := kindOf(err); code != 2 {
		t.Fatalf("empty: %v", err)
	}
	for _, r := range e.stub.Requests() {
		if r.UserAgent == "" || !strings.HasPrefix(r.UserAgent, "oxyctl/test") {
			t.Fatalf("user agent %q", r.UserAgent)
		}
	}
}

func TestFirewallReadAndReplace(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	rules, err := e.c.Firewall(ctx, dostub.OxyClusterID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 6 || rules[0].Type != TypeDroplet || rules[0].Value != "549107286" ||
		rules[0].Description != "oxy-api-backend (production API)" || rules[0].UUID == "" ||
		rules[0].ClusterUUID != dostub.OxyClusterID || rules[0].CreatedAt.IsZero() || rules[1].Type != TypeApp {
		t.Fatalf("rules: %+v", rules)
	}
	// Replace: keep the droplet with its description, add an IP.
	next := []Rule{rules[0], {Type: TypeIP, Value: "203.0.113.7"}}
	if err := e.c.PutFirewall(ctx, dostub.OxyClusterID, next); err != nil {
		t.Fatal(err)
	}
	puts := e.stub.Puts()
	if len(puts) != 1 {
		t.Fatalf("%d PUTs", len(puts))
	}
	want := `{"rules":[{"type":"droplet","value":"549107286","description":"oxy-api-backend (production API)"},{"type":"ip_addr","value":"203.0.113.7"}]}`
	if got := strings.TrimSpace(string(puts[0].Body)); got != want {
		t.Fatalf("PUT body\n got %s\nwant %s", got, want)
	}
	after, err := e.c.Firewall(ctx, dostub.OxyClusterID)
	if err != nil || len(after) != 2 || after[0].Description != rules[0].Description || after[0].UUID != rules[0].UUID {
		t.Fatalf("after: %v %+v", err, after)
	}
	// Refused locally, no request made.
	e.stub.ResetRequests()
	for _, bad := range [][]Rule{nil, {}, make([]Rule, 101), {{Type: TypeTag}}} {
		err := e.c.PutFirewall(ctx, dostub.OxyClusterID, bad)
		if code, _ := kindOf(err); code != 2 {
			t.Fatalf("%d rules: %v", len(bad), err)
		}
	}
	if err := e.c.PutFirewall(ctx, "not-a-uuid", next); err == nil {
		t.Fatal("non-uuid accepted")
	}
	if n := len(e.stub.Requests()); n != 0 {
		t.Fatalf("refused PUTs sent %d requests", n)
	}
	// The API refusing the body (IPv6) is an api error, exit 3.
	err = e.c.PutFirewall(ctx, dostub.OxyClusterID, []Rule{{Type: TypeIP, Value: "2001:db8::1"}})
	if code, kind := kindOf(err); code != 3 || kind != "api" || !strings.Contains(err.Error(), "422") {
		t.Fatalf("422: %v", err)
	}
}

func TestPagination(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(o *Options) { o.PerPage = 7 })
	ds, err := e.c.Droplets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(e.stub.Droplets()); len(ds) != want || want != 30 {
		t.Fatalf("%d droplets, want %d", len(ds), want)
	}
	if n := len(e.stub.RequestsFor("GET", "droplets_list")); n != 5 {
		t.Fatalf("%d pages requested, want 5", n)
	}
	var oxy *Droplet
	for i := range ds {
		if ds[i].ID == dostub.OxyDropletID {
			oxy = &ds[i]
		}
	}
	if oxy == nil || oxy.Name != dostub.OxyDropletName || oxy.PublicIP != dostub.OxyDropletPublic || oxy.PrivateIP != dostub.OxyDropletPriv {
		t.Fatalf("oxy droplet: %+v", oxy)
	}

	// The client's default page size is 200; a server that caps pages at 20
	// (the API's default) still gets walked to the end.
	e2 := newEnv(t, nil, dostub.Options{MaxPerPage: 20})
	apps, err := e2.c.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 25 || len(e2.stub.RequestsFor("GET", "apps_list")) != 2 {
		t.Fatalf("%d apps in %d requests", len(apps), len(e2.stub.RequestsFor("GET", "apps_list")))
	}
	names := map[string]string{}
	for _, a := range apps {
		names[a.Name] = a.ID
	}
	for _, n := range dostub.OxyApps {
		if names[n] != dostub.AppID(n) {
			t.Fatalf("app %s: %q", n, names[n])
		}
	}

	// No links at all: meta.total drives the walk.
	e2.stub.Inject(dostub.Fault{Op: "droplets_list", OmitLinks: true})
	ds, err = e2.c.Droplets(ctx)
	if err != nil || len(ds) != 30 {
		t.Fatalf("without links: %v, %d droplets", err, len(ds))
	}
	e2.stub.ClearFaults()

	// Every page empty: the listing is incomplete, so it fails rather than
	// report Droplets as gone.
	e3 := newEnv(t, nil, dostub.Options{MaxPerPage: 20})
	e3.stub.Inject(dostub.Fault{Op: "droplets_list", EmptyPage: true})
	_, err = e3.c.Droplets(ctx)
	if code, kind := kindOf(err); code != 3 || kind != "api" || !strings.Contains(err.Error(), "got 0 of 30") {
		t.Fatalf("empty page: %v", err)
	}
}

func TestPaginationEmptySecondPage(t *testing.T) {
	e := newEnv(t, nil, dostub.Options{MaxPerPage: 20})
	ctx := context.Background()
	// The first matching fault wins: page 1 is served normally (a 1ms
	// delay), then every page is empty.
	e.stub.Inject(dostub.Fault{Op: "droplets_list", Times: 1, Delay: time.Millisecond}) // page 1: normal
	e.stub.Inject(dostub.Fault{Op: "droplets_list", EmptyPage: true})                   // page 2: empty
	_, err := e.c.Droplets(ctx)
	if code, _ := kindOf(err); code != 3 || !strings.Contains(err.Error(), "got 20 of 30") {
		t.Fatalf("empty second page: %v", err)
	}
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	t.Run("429 then success", func(t *testing.T) {
		e := newEnv(t, nil)
		e.stub.Inject(dostub.Fault{Op: "databases_list_firewall_rules", Status: 429, Headers: map[string]string{"retry-after": "0"}, Times: 2})
		rules, err := e.c.Firewall(ctx, dostub.OxyClusterID)
		if err != nil || len(rules) != 6 {
			t.Fatalf("%v %d", err, len(rules))
		}
		if n := len(e.stub.RequestsFor("GET", "databases_list_firewall_rules")); n != 3 {
			t.Fatalf("%d attempts, want 3", n)
		}
		if !strings.Contains(e.log.text(), "retrying GET") {
			t.Fatalf("log: %s", e.log.text())
		}
	})
	t.Run("retry-after is honoured", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.RetryWaitMax = 2 * time.Second })
		e.stub.Inject(dostub.Fault{Op: "apps_list", Status: 429, Headers: map[string]string{"retry-after": "1"}, Times: 1})
		start := time.Now()
		if _, err := e.c.Apps(ctx); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < time.Second || el > 5*time.Second {
			t.Fatalf("waited %v, want about 1s", el)
		}
	})
	t.Run("PUT body is sent again", func(t *testing.T) {
		e := newEnv(t, nil)
		e.stub.Inject(dostub.Fault{Op: "databases_update_firewall_rules", Status: 503, Times: 1})
		rules := []Rule{{Type: TypeDroplet, Value: "549107286"}}
		if err := e.c.PutFirewall(ctx, dostub.OxyClusterID, rules); err != nil {
			t.Fatal(err)
		}
		puts := e.stub.Puts()
		if len(puts) != 2 || string(puts[0].Body) != string(puts[1].Body) || len(puts[1].Body) == 0 {
			t.Fatalf("puts: %+v", puts)
		}
		if got := e.stub.Rules(dostub.OxyClusterID); len(got) != 1 {
			t.Fatalf("rules: %+v", got)
		}
	})
	t.Run("persistent 500", func(t *testing.T) {
		e := newEnv(t, nil)
		e.stub.Inject(dostub.Fault{Op: "databases_update_firewall_rules", Status: 500})
		err := e.c.PutFirewall(ctx, dostub.OxyClusterID, []Rule{{Type: TypeIP, Value: "10.0.0.1"}})
		code, kind := kindOf(err)
		if code != 3 || kind != "api" || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "after 4 attempts") ||
			!strings.Contains(apperr.HintOf(err), "status.digitalocean.com") {
			t.Fatalf("%v (%d %s)", err, code, kind)
		}
		if n := len(e.stub.Puts()); n != 4 {
			t.Fatalf("%d PUTs, want 4", n)
		}
		if len(e.stub.Rules(dostub.OxyClusterID)) != 6 {
			t.Fatal("rules changed")
		}
	})
	t.Run("a long retry-after is not waited for", func(t *testing.T) {
		e := newEnv(t, nil)
		e.stub.Inject(dostub.Fault{Op: "droplets_list", Status: 429, Headers: map[string]string{"retry-after": "3600"}})
		start := time.Now()
		_, err := e.c.Droplets(ctx)
		if time.Since(start) > 5*time.Second { // the API asked for an hour
			t.Fatalf("waited %v", time.Since(start))
		}
		code, kind := kindOf(err)
		if code != 3 || kind != "api" || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "asks to wait 1h0m0s") ||
			!strings.Contains(apperr.HintOf(err), "5,000 an hour") {
			t.Fatalf("%v (hint %q)", err, apperr.HintOf(err))
		}
		if n := len(e.stub.Requests()); n != 1 {
			t.Fatalf("%d requests", n)
		}
	})
	t.Run("ratelimit-reset without retry-after", func(t *testing.T) {
		e := newEnv(t, nil)
		e.stub.Inject(dostub.Fault{Op: "droplets_list", Status: 429}) // reset one minute ahead
		_, err := e.c.Droplets(ctx)
		if !strings.Contains(err.Error(), "asks to wait") || !strings.Contains(apperr.HintOf(err), "expires at") {
			t.Fatalf("%v (hint %q)", err, apperr.HintOf(err))
		}
	})
	t.Run("a wait past the deadline gives up at once", func(t *testing.T) {
		e := newEnv(t, func(o *Options) {
			o.Timeout = 300 * time.Millisecond
			o.RetryWaitMin, o.RetryWaitMax = time.Second, 5*time.Second
		})
		e.stub.Inject(dostub.Fault{Op: "apps_list", Status: 502})
		start := time.Now()
		_, err := e.c.Apps(ctx)
		if el := time.Since(start); el > 900*time.Millisecond { // a retry would wait 1s
			t.Fatalf("took %v", el)
		}
		if code, kind := kindOf(err); code != 3 || kind != "api" || !strings.Contains(err.Error(), "502") ||
			!strings.Contains(err.Error(), "after the deadline") {
			t.Fatalf("%v (%s)", err, kind)
		}
	})
	t.Run("retries off", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.RetryMax = -1 })
		e.stub.Inject(dostub.Fault{Status: 500})
		if _, err := e.c.Apps(ctx); err == nil || len(e.stub.Requests()) != 1 {
			t.Fatalf("%v, %d requests", err, len(e.stub.Requests()))
		}
	})
}

func TestErrorKinds(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	tok := e.stub.Token()

	bad, err := New(Options{BaseURL: e.stub.URL, Token: "dop_v1_wrongtoken_abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Droplets(ctx)
	if code, kind := kindOf(err); code != 3 || kind != "auth" || !strings.Contains(err.Error(), "401") ||
		!strings.Contains(apperr.HintOf(err), "DIGITALOCEAN_ACCESS_TOKEN") {
		t.Fatalf("401: %v (%s)", err, kind)
	}
	noToken(t, err, "dop_v1_wrongtoken_abcdef")

	e.stub.Inject(dostub.Fault{Op: "apps_list", Status: 403, Times: 1})
	_, err = e.c.Apps(ctx)
	if code, kind := kindOf(err); code != 3 || kind != "auth" || !strings.Contains(apperr.HintOf(err), "app:read") {
		t.Fatalf("403: %v", err)
	}
	noToken(t, err, tok)

	_, err = e.c.Droplet(ctx, 1)
	if code, kind := kindOf(err); code != 3 || kind != "api" || !errors.Is(err, ErrNotFound) {
		t.Fatalf("404: %v", err)
	}
	_, err = e.c.Kubernetes(ctx, dostub.UUIDFor("gone"))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("k8s 404: %v", err)
	}
	_, err = e.c.Tag(ctx, "no-such-tag")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("tag 404: %v", err)
	}

	e.stub.Inject(dostub.Fault{Op: "databases_list_firewall_rules", Malformed: true, Times: 1})
	_, err = e.c.Firewall(ctx, dostub.OxyClusterID)
	if code, kind := kindOf(err); code != 3 || kind != "api" || !strings.Contains(err.Error(), "cannot read") {
		t.Fatalf("malformed: %v", err)
	}

	// Timeout: the server answers after the client's deadline.
	slow, _ := New(Options{BaseURL: e.stub.URL, Token: tok, Timeout: 100 * time.Millisecond, RetryWaitMin: time.Millisecond})
	e.stub.Inject(dostub.Fault{Op: "tags_get", Delay: 10 * time.Second, Times: 1})
	start := time.Now()
	_, err = slow.Tag(ctx, "web")
	if code, kind := kindOf(err); code != 3 || kind != "timeout" || time.Since(start) > 5*time.Second {
		t.Fatalf("timeout: %v (%s) after %v", err, kind, time.Since(start))
	}
	noToken(t, err, tok)

	// Nothing listens: connect.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	down, _ := New(Options{BaseURL: "http://" + addr, Token: tok, RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	_, err = down.Clusters(ctx)
	if code, kind := kindOf(err); code != 3 || kind != "connect" || !strings.Contains(err.Error(), "connection refused") ||
		!strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("connect: %v (%s)", err, kind)
	}
	noToken(t, err, tok)

	// TLS spoken to a plain HTTP server: tls.
	tlsc, _ := New(Options{BaseURL: "https://" + strings.TrimPrefix(e.stub.URL, "http://"), Token: tok, RetryMax: -1})
	_, err = tlsc.Clusters(ctx)
	if code, kind := kindOf(err); code != 3 || kind != "tls" {
		t.Fatalf("tls: %v (%s)", err, kind)
	}
	noToken(t, err, tok)

	// A certificate nobody vouches for: tls.
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	self, _ := New(Options{BaseURL: ts.URL, Token: tok, RetryMax: -1})
	_, err = self.Clusters(ctx)
	if code, kind := kindOf(err); code != 3 || kind != "tls" || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("tls: %v (%s)", err, kind)
	}
	noToken(t, err, tok)

	// Ctrl-C: the context's cancellation comes back as is (exit 130).
	cctx, cancel := context.WithCancel(ctx)
	e.stub.Inject(dostub.Fault{Op: "apps_list", Delay: 10 * time.Second, Times: 1})
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err = e.c.Apps(cctx)
	if code, _ := kindOf(err); code != 130 {
		t.Fatalf("cancel: %v (%d)", err, code)
	}
	e.stub.ClearFaults()

	// Local argument checks.
	for _, err := range []error{
		func() error { _, err := e.c.Droplet(ctx, 0); return err }(),
		func() error { _, err := e.c.Kubernetes(ctx, "my-cluster"); return err }(),
		func() error { _, err := e.c.Tag(ctx, "bad tag!"); return err }(),
		func() error { _, err := e.c.GetCluster(ctx, "x"); return err }(),
		func() error { _, err := e.c.Firewall(ctx, "x"); return err }(),
	} {
		if code, _ := kindOf(err); code != 2 {
			t.Fatalf("argument check: %v", err)
		}
	}
}

func TestLoadInventory(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	inv, err := e.c.LoadInventory(ctx, Needs{
		Droplets: true, Apps: true,
		K8s:  []string{dostub.K8sClusterID, dostub.UUIDFor("gone"), "by-name", dostub.K8sClusterID},
		Tags: []string{dostub.WorkersTag, "missing-tag", "bad tag"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !inv.DropletsLoaded || len(inv.Droplets) != 30 || !inv.AppsLoaded || len(inv.Apps) != 25 {
		t.Fatalf("lists: %d %d", len(inv.Droplets), len(inv.Apps))
	}
	if k := inv.K8s[dostub.K8sClusterID]; k == nil || k.Name != dostub.K8sClusterName || k.State != "running" {
		t.Fatalf("k8s: %+v", k)
	}
	if k, ok := inv.K8s[dostub.UUIDFor("gone")]; !ok || k != nil {
		t.Fatal("missing k8s not recorded as nil")
	}
	if k, ok := inv.K8s["by-name"]; !ok || k != nil {
		t.Fatal("non-uuid k8s not recorded as nil")
	}
	if tg := inv.Tags[dostub.WorkersTag]; tg == nil || tg.Droplets != 5 {
		t.Fatalf("tag: %+v", tg)
	}
	if tg, ok := inv.Tags["missing-tag"]; !ok || tg != nil {
		t.Fatal("missing tag")
	}
	if n := len(e.stub.RequestsFor("GET", "kubernetes_get_cluster")); n != 2 {
		t.Fatalf("%d k8s requests, want 2 (deduplicated, names skipped)", n)
	}

	// Nothing needed: no request.
	e.stub.ResetRequests()
	if _, err := e.c.LoadInventory(ctx, Needs{}); err != nil || len(e.stub.Requests()) != 0 {
		t.Fatalf("%v %d", err, len(e.stub.Requests()))
	}

	// A failure is reported whole.
	e.stub.Inject(dostub.Fault{Op: "apps_list", Status: 401})
	_, err = e.c.LoadInventory(ctx, Needs{Droplets: true, Apps: true})
	if code, kind := kindOf(err); code != 3 || kind != "auth" {
		t.Fatalf("%v", err)
	}
}

func TestRuleJSON(t *testing.T) {
	b, _ := json.Marshal(Rule{Type: TypeIP, Value: "10.0.0.1"})
	if string(b) != `{"type":"ip_addr","value":"10.0.0.1"}` {
		t.Fatal(string(b))
	}
}
