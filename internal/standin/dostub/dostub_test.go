package dostub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

type hit struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, s *Server, method, path, token, body string) hit {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return hit{resp.StatusCode, resp.Header, b}
}

func get(t *testing.T, s *Server, path string) hit {
	t.Helper()
	return do(t, s, "GET", path, s.Token(), "")
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func godoClient(t *testing.T, s *Server) *godo.Client {
	t.Helper()
	c, err := godo.New(http.DefaultClient, godo.SetBaseURL(s.URL), godo.SetRequestHeaders(map[string]string{
		"Authorization": "Bearer " + s.Token(),
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every endpoint of the default account answers 200 with a body that matches
// the spec (the cleanup of Start fails the test otherwise) and that godo decodes.
func TestDefaultAccountMatchesSpec(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	c := godoClient(t, s)

	dbs, _, err := c.Databases.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dbs) != 3 {
		t.Fatalf("databases: %d, want 3", len(dbs))
	}
	db, _, err := c.Databases.Get(ctx, OxyClusterID)
	if err != nil {
		t.Fatal(err)
	}
	if db.Name != OxyClusterName || db.EngineSlug != "valkey" || db.VersionSlug != "8" || db.Status != "online" ||
		db.RegionSlug != "ams3" || db.NumNodes != 1 || db.MaintenanceWindow == nil || db.MaintenanceWindow.Day != "sunday" {
		t.Fatalf("oxy cluster: %+v", db)
	}
	rules, _, err := c.Databases.GetFirewallRules(ctx, OxyClusterID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 6 || rules[0].Type != "droplet" || rules[0].Value != "549107286" || rules[0].CreatedAt.IsZero() {
		t.Fatalf("rules: %+v", rules)
	}
	d, _, err := c.Droplets.Get(ctx, OxyDropletID)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := d.PublicIPv4()
	priv, _ := d.PrivateIPv4()
	if d.Name != OxyDropletName || pub != OxyDropletPublic || priv != OxyDropletPriv {
		t.Fatalf("droplet: %s %s %s", d.Name, pub, priv)
	}
	app, _, err := c.Apps.Get(ctx, AppID("mention"))
	if err != nil {
		t.Fatal(err)
	}
	if app.Spec.Name != "mention" || app.ActiveDeployment.Phase != godo.DeploymentPhase_Active {
		t.Fatalf("app: %+v", app.Spec)
	}
	k, _, err := c.Kubernetes.Get(ctx, K8sClusterID)
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != K8sClusterName || k.Status.State != godo.KubernetesClusterStatusRunning {
		t.Fatalf("k8s: %+v", k)
	}
	tag, _, err := c.Tags.Get(ctx, WorkersTag)
	if err != nil {
		t.Fatal(err)
	}
	if tag.Name != WorkersTag || tag.Resources == nil || tag.Resources.Droplets.Count != 5 {
		t.Fatalf("tag: %+v %+v", tag, tag.Resources)
	}
	tag2, _, err := c.Tags.Get(ctx, "k8s:"+K8sClusterID)
	if err != nil || tag2.Name != "k8s:"+K8sClusterID {
		t.Fatalf("tag with colon: %v %+v", err, tag2)
	}
	// Lists with a filter.
	byName, _, err := c.Droplets.ListByName(ctx, DuplicateDropletName, nil)
	if err != nil || len(byName) != 2 {
		t.Fatalf("by name: %v %d", err, len(byName))
	}
	byTag, _, err := c.Droplets.ListByTag(ctx, WorkersTag, nil)
	if err != nil || len(byTag) != 5 {
		t.Fatalf("by tag: %v %d", err, len(byTag))
	}
	for _, path := range []string{"/v2/apps?with_projects=true", "/v2/databases?tag_name=oxy"} {
		if h := get(t, s, path); h.status != 200 {
			t.Fatalf("%s: %d %s", path, h.status, h.body)
		}
	}
	if n := len(s.Requests()); n < 12 {
		t.Fatalf("recorded %d requests", n)
	}
}

// Pages follow the API: default per_page 20, links only where they make
// sense, meta.total the whole count; following next reaches every item once.
func TestPagination(t *testing.T) {
	s := Start(t)
	for _, tc := range []struct {
		path, key string
		total     int
	}{{"/v2/droplets", "droplets", len(s.Droplets())}, {"/v2/apps", "apps", len(s.Apps())}} {
		if tc.total <= 20 {
			t.Fatalf("%s: only %d items; the default account must need two pages", tc.key, tc.total)
		}
		seen := map[string]bool{}
		next := s.URL + tc.path
		pages := 0
		for next != "" {
			u, _ := url.Parse(next)
			h := get(t, s, u.RequestURI())
			if h.status != 200 {
				t.Fatalf("%s: %d %s", next, h.status, h.body)
			}
			m := decode(t, h.body)
			pages++
			if got := int(m["meta"].(map[string]any)["total"].(float64)); got != tc.total {
				t.Fatalf("meta.total %d, want %d", got, tc.total)
			}
			links := m["links"].(map[string]any)["pages"].(map[string]any)
			if pages == 1 && (links["first"] != nil || links["prev"] != nil) {
				t.Fatalf("page 1 has first/prev: %v", links)
			}
			for _, it := range m[tc.key].([]any) {
				id := fmt.Sprint(it.(map[string]any)["id"])
				if seen[id] {
					t.Fatalf("%s seen twice", id)
				}
				seen[id] = true
			}
			next, _ = links["next"].(string)
			if next == "" && links["last"] != nil {
				t.Fatalf("last page has last link: %v", links)
			}
		}
		if pages != (tc.total+19)/20 || len(seen) != tc.total {
			t.Fatalf("%s: %d pages, %d items; want %d items", tc.key, pages, len(seen), tc.total)
		}
	}
	// per_page above the cap is refused by the spec itself.
	if h := get(t, s, "/v2/droplets?per_page=201"); h.status != 400 {
		t.Fatalf("per_page=201: %d", h.status)
	}
	if v := s.TakeViolations(); len(v) != 1 || v[0].Stage != "request" {
		t.Fatalf("violations: %v", v)
	}
	// A page past the end is empty with backward links.
	m := decode(t, get(t, s, "/v2/apps?page=9").body)
	if len(m["apps"].([]any)) != 0 || m["links"].(map[string]any)["pages"].(map[string]any)["prev"] == nil {
		t.Fatalf("page 9: %v", m)
	}
}

func TestMaxPerPageCaps(t *testing.T) {
	s := Start(t, Options{MaxPerPage: 7})
	m := decode(t, get(t, s, "/v2/droplets?per_page=200").body)
	if n := len(m["droplets"].([]any)); n != 7 {
		t.Fatalf("got %d droplets, want 7", n)
	}
	next := m["links"].(map[string]any)["pages"].(map[string]any)["next"].(string)
	if !strings.Contains(next, "page=2") || !strings.Contains(next, "per_page=200") {
		t.Fatalf("next: %s", next)
	}
}

// The validator catches what the reference says a client can get wrong.
func TestBadRequestsAreViolations(t *testing.T) {
	s := Start(t)
	path := "/v2/databases/" + OxyClusterID + "/firewall"
	for _, tc := range []struct{ name, body, want string }{
		{"rules null", `{"rules": null}`, "rules"},
		{"unknown type", `{"rules":[{"type":"vpc","value":"x"}]}`, "type"},
		{"no value", `{"rules":[{"type":"droplet"}]}`, "value"},
		{"read-only field", `{"rules":[{"type":"droplet","value":"1","cluster_uuid":"` + OxyClusterID + `"}]}`, "readOnly"},
	} {
		h := do(t, s, "PUT", path, s.Token(), tc.body)
		if h.status != 400 {
			t.Errorf("%s: status %d, want 400", tc.name, h.status)
		}
		m := decode(t, h.body)
		if m["id"] != "bad_request" || !strings.Contains(m["message"].(string), "does not match the spec") {
			t.Errorf("%s: body %s", tc.name, h.body)
		}
		v := s.TakeViolations()
		if len(v) != 1 || v[0].Stage != "request" || v[0].Op != "databases_update_firewall_rules" || !strings.Contains(v[0].Err, tc.want) {
			t.Errorf("%s: violations %v", tc.name, v)
		}
	}
	if got := s.Rules(OxyClusterID); len(got) != 6 {
		t.Fatalf("a refused PUT changed the rules: %v", got)
	}
	// A path parameter that is not a UUID, and routes the spec does not have.
	for _, p := range []string{"/v2/databases/db-valkey-ams3-04785", "/v2/droplets/0"} {
		if h := get(t, s, p); h.status != 400 {
			t.Errorf("%s: %d", p, h.status)
		}
		if v := s.TakeViolations(); len(v) != 1 || v[0].Stage != "request" {
			t.Errorf("%s: %v", p, v)
		}
	}
	for _, tc := range []struct{ method, path string }{{"GET", "/v2/account"}, {"DELETE", "/v2/droplets/1"}, {"POST", "/v2/databases"}} {
		h := do(t, s, tc.method, tc.path, s.Token(), "")
		if h.status != 404 || decode(t, h.body)["id"] != "not_found" {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, h.status, h.body)
		}
		if v := s.TakeViolations(); len(v) != 1 || v[0].Stage != "route" {
			t.Errorf("%s %s: %v", tc.method, tc.path, v)
		}
	}
}

// A response the spec does not allow is caught and turned into a 500.
func TestBadResponseIsViolation(t *testing.T) {
	s := Start(t)
	s.SetClusterStatus(OxyClusterID, "degraded")
	h := get(t, s, "/v2/databases/"+OxyClusterID)
	if h.status != 500 || !strings.Contains(string(h.body), "response does not match the spec") {
		t.Fatalf("%d %s", h.status, h.body)
	}
	v := s.TakeViolations()
	if len(v) != 1 || v[0].Stage != "response" || !strings.Contains(v[0].Err, "status") {
		t.Fatalf("violations: %v", v)
	}
	s.SetClusterStatus(OxyClusterID, "resizing")
	if h := get(t, s, "/v2/databases/"+OxyClusterID); h.status != 200 {
		t.Fatalf("resizing: %d", h.status)
	}
}

// Start's cleanup fails the test when violations are left.
type fakeTB struct {
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}
func (f *fakeTB) Fatalf(format string, args ...any) { f.Errorf(format, args...); panic("fatal") }

func TestStartFailsTestOnViolation(t *testing.T) {
	ftb := &fakeTB{}
	s := Start(ftb)
	do(t, s, "PUT", "/v2/databases/"+OxyClusterID+"/firewall", s.Token(), `{"rules": null}`)
	for i := len(ftb.cleanups) - 1; i >= 0; i-- {
		ftb.cleanups[i]()
	}
	if len(ftb.errs) != 1 || !strings.Contains(ftb.errs[0], "spec violation") || !strings.Contains(ftb.errs[0], "rules") {
		t.Fatalf("errors: %q", ftb.errs)
	}
}

func TestAuth(t *testing.T) {
	s := Start(t, Options{Token: "dop_v1_right"})
	for _, tok := range []string{"", "dop_v1_wrong"} {
		h := do(t, s, "GET", "/v2/droplets", tok, "")
		m := decode(t, h.body)
		if h.status != 401 || m["id"] != "unauthorized" || m["message"] == "" {
			t.Fatalf("token %q: %d %s", tok, h.status, h.body)
		}
		if strings.Contains(string(h.body), "dop_v1_right") {
			t.Fatal("the body leaks the token")
		}
	}
	if h := do(t, s, "GET", "/v2/droplets", "dop_v1_right", ""); h.status != 200 {
		t.Fatalf("right token: %d", h.status)
	}

	ro := Start(t, Options{Scopes: []string{"database:read", "droplet:read"}})
	if h := get(t, ro, "/v2/databases/"+OxyClusterID+"/firewall"); h.status != 200 {
		t.Fatalf("read with database:read: %d", h.status)
	}
	h := do(t, ro, "PUT", "/v2/databases/"+OxyClusterID+"/firewall", ro.Token(), `{"rules":[{"type":"droplet","value":"1"}]}`)
	if h.status != 403 || decode(t, h.body)["id"] != "forbidden" {
		t.Fatalf("PUT without database:update: %d %s", h.status, h.body)
	}
	if h := get(t, ro, "/v2/apps"); h.status != 403 {
		t.Fatalf("apps without app:read: %d", h.status)
	}
	if len(ro.Puts()) != 1 || len(ro.Rules(OxyClusterID)) != 6 {
		t.Fatal("the refused PUT was not recorded or changed the rules")
	}
}

func TestPutReplacesRules(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := Start(t, Options{Now: func() time.Time { return now }})
	path := "/v2/databases/" + OxyClusterID + "/firewall"
	body := `{"rules":[{"type":"droplet","value":"549107286","description":"kept"},{"type":"ip_addr","value":"203.0.113.7"}]}`
	if h := do(t, s, "PUT", path, s.Token(), body); h.status != 204 || len(h.body) != 0 {
		t.Fatalf("%d %s", h.status, h.body)
	}
	got := s.Rules(OxyClusterID)
	if len(got) != 2 {
		t.Fatalf("rules: %+v", got)
	}
	if got[0].UUID != UUIDFor("rule:droplet") || got[0].Description != "kept" || got[0].CreatedAt.Equal(now) {
		t.Fatalf("kept rule: %+v", got[0])
	}
	if got[1].Type != "ip_addr" || got[1].UUID == "" || !got[1].CreatedAt.Equal(now) || got[1].ClusterUUID != OxyClusterID {
		t.Fatalf("new rule: %+v", got[1])
	}
	puts := s.Puts()
	if len(puts) != 1 || string(puts[0].Body) != body {
		t.Fatalf("recorded: %+v", puts)
	}
	// Semantic refusals are 422s with a spec-shaped body, not violations.
	for _, b := range []string{
		`{"rules":[{"type":"ip_addr","value":"2001:db8::1"}]}`,
		`{"rules":[{"type":"droplet","value":"abc"}]}`,
		`{"rules":[` + strings.Repeat(`{"type":"tag","value":"x"},`, 100) + `{"type":"tag","value":"y"}]}`,
	} {
		h := do(t, s, "PUT", path, s.Token(), b)
		if h.status != 422 || decode(t, h.body)["id"] != "unprocessable_entity" {
			t.Fatalf("%.60s: %d %s", b, h.status, h.body)
		}
	}
	if len(s.Rules(OxyClusterID)) != 2 {
		t.Fatal("a refused PUT changed the rules")
	}
	// An empty list is accepted by the API (it opens the database).
	if h := do(t, s, "PUT", path, s.Token(), `{"rules":[]}`); h.status != 204 {
		t.Fatalf("empty: %d", h.status)
	}
	if h := get(t, s, "/v2/databases/"+UUIDFor("db:nope")+"/firewall"); h.status != 404 {
		t.Fatalf("unknown cluster: %d", h.status)
	}
}

func TestFaults(t *testing.T) {
	s := Start(t)
	s.Inject(Fault{Op: "droplets_list", Status: 429, Headers: map[string]string{"retry-after": "3"}, Times: 2})
	for i := 0; i < 2; i++ {
		h := get(t, s, "/v2/droplets")
		if h.status != 429 || h.header.Get("retry-after") != "3" || h.header.Get("ratelimit-remaining") != "0" {
			t.Fatalf("429 #%d: %d %v", i, h.status, h.header)
		}
		if reset, _ := strconv.ParseInt(h.header.Get("ratelimit-reset"), 10, 64); reset <= time.Now().Unix() {
			t.Fatalf("reset %d", reset)
		}
		if m := decode(t, h.body); m["id"] != "too_many_requests" {
			t.Fatalf("body %s", h.body)
		}
	}
	if h := get(t, s, "/v2/droplets"); h.status != 200 {
		t.Fatalf("after 2: %d", h.status)
	}
	if h := get(t, s, "/v2/apps"); h.status != 200 {
		t.Fatalf("other op: %d", h.status)
	}

	s.Inject(Fault{Status: 500}) // global, persistent
	for _, p := range []string{"/v2/apps", "/v2/databases"} {
		if h := get(t, s, p); h.status != 500 || decode(t, h.body)["id"] != "server_error" {
			t.Fatalf("%s: %d", p, h.status)
		}
	}
	s.ClearFaults()

	for _, st := range []int{401, 403, 404, 503} {
		s.Inject(Fault{Method: "GET", Path: "/v2/databases/" + OxyClusterID, Status: st, Times: 1})
		if h := get(t, s, "/v2/databases/"+OxyClusterID); h.status != st || decode(t, h.body)["message"] == "" {
			t.Fatalf("%d: %d %s", st, h.status, h.body)
		}
	}

	s.Inject(Fault{Op: "databases_list_firewall_rules", Malformed: true, Times: 1})
	h := get(t, s, "/v2/databases/"+OxyClusterID+"/firewall")
	if h.status != 200 || json.Valid(h.body) {
		t.Fatalf("malformed: %d %s", h.status, h.body)
	}

	s.Inject(Fault{Op: "apps_list", EmptyPage: true, OmitLinks: true, Times: 1})
	m := decode(t, get(t, s, "/v2/apps").body)
	if len(m["apps"].([]any)) != 0 || m["links"] != nil || m["meta"] == nil {
		t.Fatalf("empty page: %v", m)
	}

	s.Inject(Fault{Op: "tags_get", Delay: 150 * time.Millisecond, Times: 1})
	start := time.Now()
	if h := get(t, s, "/v2/tags/web"); h.status != 200 {
		t.Fatalf("delayed: %d", h.status)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("delay not applied: %v", el)
	}
	var faults []string
	for _, r := range s.Requests() {
		if r.Fault != "" {
			faults = append(faults, r.Fault)
		}
	}
	want := "status 429,status 429,status 500,status 500,status 401,status 403,status 404,status 503,malformed,empty page, no links,delay 150ms"
	if strings.Join(faults, ",") != want {
		t.Fatalf("faults recorded:\n%s\nwant\n%s", strings.Join(faults, ","), want)
	}
	if v := s.Violations(); len(v) != 0 {
		t.Fatalf("faults counted as violations: %v", v)
	}
}

// A delayed answer ends when the server closes.
func TestCloseEndsDelay(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Inject(Fault{Delay: time.Hour})
	go func() {
		time.Sleep(50 * time.Millisecond)
		s.Close()
	}()
	start := time.Now()
	req, _ := http.NewRequest("GET", s.URL+"/v2/apps", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("Close did not end the delay")
	}
}

func TestMutations(t *testing.T) {
	s := Start(t)
	if !s.RemoveDroplet(OxyDropletID) || s.RemoveDroplet(OxyDropletID) {
		t.Fatal("RemoveDroplet")
	}
	if h := get(t, s, "/v2/droplets/549107286"); h.status != 404 {
		t.Fatalf("removed droplet: %d", h.status)
	}
	s.AddDroplet(Droplet{ID: 42, Name: "new-one", Tags: []string{"fresh"}})
	if h := get(t, s, "/v2/droplets/42"); h.status != 200 {
		t.Fatalf("added droplet: %d", h.status)
	}
	if h := get(t, s, "/v2/tags/fresh"); h.status != 200 {
		t.Fatalf("new tag: %d", h.status)
	}
	if !s.RemoveApp(AppID("allo")) {
		t.Fatal("RemoveApp")
	}
	s.AddApp(App{Name: "newapp"})
	if h := get(t, s, "/v2/apps/"+AppID("newapp")); h.status != 200 {
		t.Fatalf("added app: %d", h.status)
	}
	if h := get(t, s, "/v2/apps/"+AppID("allo")); h.status != 404 {
		t.Fatalf("removed app: %d", h.status)
	}
	if !s.RemoveKubernetes(K8sClusterID) {
		t.Fatal("RemoveKubernetes")
	}
	if h := get(t, s, "/v2/kubernetes/clusters/"+K8sClusterID); h.status != 404 {
		t.Fatalf("removed k8s: %d", h.status)
	}
	s.SetRules(OxyClusterID, []Rule{{Type: "ip_addr", Value: "0.0.0.0/0"}})
	m := decode(t, get(t, s, "/v2/databases/"+OxyClusterID+"/firewall").body)
	rules := m["rules"].([]any)
	if len(rules) != 1 || rules[0].(map[string]any)["uuid"] == "" {
		t.Fatalf("rules: %v", rules)
	}
}

func TestUUIDFor(t *testing.T) {
	a, b := UUIDFor("x"), UUIDFor("x")
	if a != b || a == UUIDFor("y") || !uuidRe.MatchString(a) || a[14] != '5' {
		t.Fatalf("%s %s", a, b)
	}
}

// The two mistakes the reference warns about, made through godo itself,
// are caught: a nil slice sent as "rules": null, and godo's own rule type
// sending read-only fields back.
func TestGodoMistakesAreCaught(t *testing.T) {
	s := Start(t)
	c := godoClient(t, s)
	ctx := context.Background()
	_, err := c.Databases.UpdateFirewallRules(ctx, OxyClusterID, &godo.DatabaseUpdateFirewallRulesRequest{})
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("nil rules: %v", err)
	}
	v := s.TakeViolations()
	if len(v) != 1 || !strings.Contains(v[0].Err, `"/rules": Value is not nullable`) {
		t.Fatalf("violations: %v", v)
	}
	_, err = c.Databases.UpdateFirewallRules(ctx, OxyClusterID, &godo.DatabaseUpdateFirewallRulesRequest{
		Rules: []*godo.DatabaseFirewallRule{{Type: "droplet", Value: "549107286"}},
	})
	if err == nil {
		t.Fatal("godo's body with read-only fields was accepted")
	}
	if v := s.TakeViolations(); len(v) != 1 || !strings.Contains(v[0].Err, "readOnly") {
		t.Fatalf("violations: %v", v)
	}
	if len(s.Rules(OxyClusterID)) != 6 {
		t.Fatal("a refused PUT changed the rules")
	}
}

// GET /v2/databases/options answers per the spec (Start's cleanup fails the
// test on a violation), is not taken for a cluster id, and godo decodes it.
func TestDatabaseOptions(t *testing.T) {
	s := Start(t)
	h := get(t, s, "/v2/databases/options")
	if h.status != 200 {
		t.Fatalf("options: %d %s", h.status, h.body)
	}
	if ops := s.RequestsFor("GET", "databases_list_options"); len(ops) != 1 {
		t.Fatalf("routed as %+v, want databases_list_options", s.Requests())
	}
	opts, _, err := godoClient(t, s).Databases.ListOptions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v := opts.ValkeyOptions
	if len(v.Regions) == 0 || len(v.Versions) != 1 || v.Versions[0] != "8" || len(v.Layouts) != 3 {
		t.Fatalf("valkey options: %+v", v)
	}
	if l := v.Layouts[0]; l.NodeNum != 1 || len(l.Sizes) != len(OptionSizes[1]) || l.Sizes[0] != "db-s-1vcpu-1gb" {
		t.Fatalf("one-node layout: %+v", l)
	}
	if h := do(t, s, "GET", "/v2/databases/options", "", ""); h.status != 401 {
		t.Fatalf("no token: %d", h.status)
	}
}
