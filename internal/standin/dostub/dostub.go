// Package dostub is a stand-in for the DigitalOcean API v2, limited to the
// endpoints oxyctl uses. Every request it receives and every response it
// sends is checked with kin-openapi against DigitalOcean's OpenAPI
// description (package dospec); a mismatch is recorded as a Violation and
// answered with 400 (bad request) or 500 (bad response) so the client
// notices too.
//
// It serves a realistic account (the Oxy Valkey cluster, the oxy-api-backend
// Droplet, the five Oxy apps and decoys, more than one page of Droplets and
// apps), records every request, injects faults, and lets tests change the
// account. It does not import "testing": Start takes any TB, so a demo
// program can use New directly.
package dostub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/oxyhq/oxyctl/internal/standin/dospec"
)

// Options configure a stand-in. The zero value is ready to use.
type Options struct {
	// Token is the only bearer token accepted (default DefaultToken).
	Token string
	// Scopes, when non-nil, are the token's custom scopes (e.g. "database:read");
	// an operation needing a scope the token lacks gets 403.
	Scopes []string
	// Addr is the listen address (default 127.0.0.1:0, a free loopback port).
	Addr string
	// MaxPerPage caps the page size the way the API caps per_page (default 200).
	MaxPerPage int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnViolation is called for every violation, as it happens.
	OnViolation func(Violation)
	// Logf, when set, gets one line per request.
	Logf func(format string, args ...any)
}

// Request is one request the stand-in received.
type Request struct {
	Method    string
	Path      string
	RawQuery  string
	Query     url.Values
	Body      []byte
	UserAgent string
	Op        string // the spec's operationId, "" when no route matched
	Status    int    // the status that was sent
	Fault     string // the injected fault, if any (e.g. "status 429", "malformed")
	Time      time.Time
}

// Violation is a request or response that does not match the spec, or a route
// the spec does not have.
type Violation struct {
	Stage  string // "route", "request" or "response"
	Method string
	Path   string
	Op     string
	Err    string
}

func (v Violation) String() string {
	op := v.Op
	if op == "" {
		op = "no operation"
	}
	return fmt.Sprintf("%s %s (%s): %s: %s", v.Method, v.Path, op, v.Stage, v.Err)
}

// Fault is an injected misbehaviour. It matches a request by operationId
// (Op), method and exact path, each optional; the first matching fault wins.
type Fault struct {
	Op     string
	Method string
	Path   string

	// Status, when non-zero, answers with this status and a spec-shaped error
	// body ({"id","message"}). A 429 also carries ratelimit-remaining: 0 and
	// a ratelimit-reset one minute ahead.
	Status  int
	Message string            // error message (default per status)
	Headers map[string]string // extra response headers, e.g. {"retry-after": "0"}
	// Delay waits this long before answering (or until the client gives up).
	Delay time.Duration
	// Malformed sends a 200 with a body that is not JSON. It is recorded as an
	// injected fault, not a violation.
	Malformed bool
	// EmptyPage answers a list with no items (links and meta unchanged).
	EmptyPage bool
	// OmitLinks leaves "links" out of a list response.
	OmitLinks bool
	// Times is how many requests the fault applies to; 0 means until cleared.
	Times int
}

type activeFault struct {
	Fault
	left int // remaining uses; -1 persistent
}

// Server is a running stand-in.
type Server struct {
	URL string // e.g. http://127.0.0.1:41234

	opts   Options
	token  string
	srv    *httptest.Server
	router routers.Router
	done   chan struct{}
	once   sync.Once

	mu         sync.Mutex
	st         *state
	requests   []Request
	violations []Violation
	faults     []*activeFault
}

// New starts a stand-in. Close it when done.
func New(opts Options) (*Server, error) {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.MaxPerPage <= 0 {
		opts.MaxPerPage = 200
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	doc, err := dospec.Load()
	if err != nil {
		return nil, fmt.Errorf("dostub: %w", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dostub: listen %s: %w", addr, err)
	}
	s := &Server{opts: opts, token: opts.Token, st: defaultState(), done: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Listener.Close()
	s.srv.Listener = ln
	s.URL = "http://" + ln.Addr().String()
	if s.router, err = newRouter(doc, s.URL); err != nil {
		ln.Close()
		return nil, fmt.Errorf("dostub: router: %w", err)
	}
	s.srv.Start()
	return s, nil
}

// Close stops the server; pending delayed answers end at once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// Token returns the accepted bearer token.
func (s *Server) Token() string { return s.token }

// ---- recording ----

// Requests returns every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestsFor returns the requests with this method and operationId ("" matches any).
func (s *Server) RequestsFor(method, op string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && (op == "" || r.Op == op) {
			out = append(out, r)
		}
	}
	return out
}

// Puts returns the firewall PUT requests received so far.
func (s *Server) Puts() []Request {
	return s.RequestsFor(http.MethodPut, "databases_update_firewall_rules")
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.requests = nil
	s.mu.Unlock()
}

// Violations returns the violations recorded so far.
func (s *Server) Violations() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Violation(nil), s.violations...)
}

// TakeViolations returns the violations and forgets them: a test that
// provokes one on purpose takes it so that Start's cleanup does not fail.
func (s *Server) TakeViolations() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.violations
	s.violations = nil
	return v
}

func (s *Server) violate(v Violation) {
	s.mu.Lock()
	s.violations = append(s.violations, v)
	cb := s.opts.OnViolation
	s.mu.Unlock()
	if cb != nil {
		cb(v)
	}
}

// ---- faults ----

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	left := f.Times
	if left <= 0 {
		left = -1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &activeFault{Fault: f, left: left})
	s.mu.Unlock()
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

func (s *Server) takeFault(method, path, op string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.left == 0 {
			continue
		}
		if (f.Op != "" && f.Op != op) || (f.Method != "" && f.Method != method) || (f.Path != "" && f.Path != path) {
			continue
		}
		if f.left > 0 {
			f.left--
		}
		ff := f.Fault
		return &ff
	}
	return nil
}

// ---- account state ----

// SetRules replaces a cluster's firewall rules. Missing uuid, cluster_uuid
// and created_at are filled in.
func (s *Server) SetRules(clusterID string, rules []Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Rule, len(rules))
	for i, r := range rules {
		if r.UUID == "" {
			s.st.seq++
			r.UUID = UUIDFor(fmt.Sprintf("rule:set:%s:%d", clusterID, s.st.seq))
		}
		if r.ClusterUUID == "" {
			r.ClusterUUID = clusterID
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = s.opts.Now().UTC().Truncate(time.Second)
		}
		out[i] = r
	}
	s.st.rules[clusterID] = out
}

// Rules returns a cluster's firewall rules.
func (s *Server) Rules(clusterID string) []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rule(nil), s.st.rules[clusterID]...)
}

// AddRule appends one rule to a cluster's firewall.
func (s *Server) AddRule(clusterID string, r Rule) {
	rules := append(s.Rules(clusterID), r)
	s.SetRules(clusterID, rules)
}

// AddDroplet adds (or replaces, by id) a Droplet; its tags become known tags.
func (s *Server) AddDroplet(d Droplet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.Status == "" {
		d.Status = "active"
	}
	if d.Region == "" {
		d.Region = "ams3"
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = epoch
	}
	for i, o := range s.st.droplets {
		if o.ID == d.ID {
			s.st.droplets[i] = d
			s.st.addTags(d.Tags)
			return
		}
	}
	s.st.droplets = append(s.st.droplets, d)
	s.st.addTags(d.Tags)
}

// RemoveDroplet deletes a Droplet; it reports whether it existed.
func (s *Server) RemoveDroplet(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, d := range s.st.droplets {
		if d.ID == id {
			s.st.droplets = append(s.st.droplets[:i], s.st.droplets[i+1:]...)
			return true
		}
	}
	return false
}

// Droplets returns the account's Droplets.
func (s *Server) Droplets() []Droplet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Droplet(nil), s.st.droplets...)
}

// Apps returns the account's apps.
func (s *Server) Apps() []App {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]App(nil), s.st.apps...)
}

// AddApp adds (or replaces, by id) an app. An empty ID becomes AppID(Name).
func (s *Server) AddApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.ID == "" {
		a.ID = AppID(a.Name)
	}
	if a.Region == "" {
		a.Region = "ams"
	}
	if a.Phase == "" {
		a.Phase = "ACTIVE"
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = epoch
	}
	for i, o := range s.st.apps {
		if o.ID == a.ID {
			s.st.apps[i] = a
			return
		}
	}
	s.st.apps = append(s.st.apps, a)
}

// RemoveApp deletes an app by id; it reports whether it existed.
func (s *Server) RemoveApp(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, a := range s.st.apps {
		if a.ID == id {
			s.st.apps = append(s.st.apps[:i], s.st.apps[i+1:]...)
			return true
		}
	}
	return false
}

// AddKubernetes adds a DOKS cluster; RemoveKubernetes deletes one.
func (s *Server) AddKubernetes(k KubernetesCluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k.State == "" {
		k.State = "running"
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = epoch
	}
	s.st.k8s = append(s.st.k8s, k)
	s.st.addTags(k.Tags)
}

// RemoveKubernetes deletes a DOKS cluster; it reports whether it existed.
func (s *Server) RemoveKubernetes(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.st.k8s {
		if k.ID == id {
			s.st.k8s = append(s.st.k8s[:i], s.st.k8s[i+1:]...)
			return true
		}
	}
	return false
}

// AddDatabase adds a database cluster with an empty firewall. An empty ID
// becomes UUIDFor("db:"+Name); other blanks get plausible values.
func (s *Server) AddDatabase(d Database) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.ID == "" {
		d.ID = UUIDFor("db:" + d.Name)
	}
	if d.Engine == "" {
		d.Engine, d.Version = "valkey", "8"
	}
	if d.Region == "" {
		d.Region = "ams3"
	}
	if d.Size == "" {
		d.Size = "db-s-1vcpu-1gb"
	}
	if d.NumNodes == 0 {
		d.NumNodes = 1
	}
	if d.Status == "" {
		d.Status = "online"
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = epoch
	}
	if d.Port == 0 {
		d.Port = 25061
	}
	if d.Host == "" {
		d.Host = d.Name + "-do-user-1234567-0.k.db.ondigitalocean.com"
	}
	s.st.databases = append(s.st.databases, d)
	if _, ok := s.st.rules[d.ID]; !ok {
		s.st.rules[d.ID] = []Rule{}
	}
}

// SetClusterStatus sets a database cluster's status. A value outside the
// spec's enum makes the stand-in's own responses violate the spec.
func (s *Server) SetClusterStatus(id, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.st.databases {
		if s.st.databases[i].ID == id {
			s.st.databases[i].Status = status
			return true
		}
	}
	return false
}

// SetPendingMaintenance makes a maintenance with this description pending
// for a cluster's window (none: nothing pending).
func (s *Server) SetPendingMaintenance(id string, description ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.st.databases {
		if s.st.databases[i].ID == id {
			s.st.databases[i].PendingMaintenance = append([]string(nil), description...)
			return true
		}
	}
	return false
}

// ---- HTTP ----

type reply struct {
	status int
	header http.Header
	body   []byte
	fault  string
}

var errorIDs = map[int]string{
	400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
	422: "unprocessable_entity", 429: "too_many_requests", 500: "server_error", 503: "service_unavailable",
}

var errorMessages = map[int]string{
	401: "Unable to authenticate you.",
	403: "You are not authorized to perform this operation.",
	404: "The resource you were accessing could not be found.",
	429: "API Rate limit exceeded.",
	500: "Server was unable to give you a response.",
	503: "Service is temporarily unavailable.",
}

func errorReply(status int, msg string) reply {
	id := errorIDs[status]
	if id == "" {
		id = "error"
	}
	if msg == "" {
		msg = errorMessages[status]
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	b, _ := json.Marshal(map[string]string{"id": id, "message": msg, "request_id": "stub-" + strconv.Itoa(status)})
	return reply{status: status, body: b}
}

func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		return errorReply(500, "stub: cannot encode: "+err.Error())
	}
	return reply{status: status, body: b}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body.Close()
	now := s.opts.Now()
	rec := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Query: r.URL.Query(), Body: body,
		UserAgent: r.UserAgent(), Time: now}

	s.mu.Lock()
	n := len(s.requests) + 1
	s.mu.Unlock()

	rep := s.handle(r, body, &rec)
	if rep.header == nil {
		rep.header = http.Header{}
	}
	if rep.header.Get("ratelimit-limit") == "" {
		rep.header.Set("ratelimit-limit", "5000")
		rep.header.Set("ratelimit-remaining", strconv.Itoa(max(0, 5000-n)))
		rep.header.Set("ratelimit-reset", strconv.FormatInt(now.Add(time.Minute).Unix(), 10))
	}
	if rep.body != nil && rep.header.Get("Content-Type") == "" {
		rep.header.Set("Content-Type", "application/json; charset=utf-8")
	}
	rep.header.Set("x-request-id", UUIDFor(fmt.Sprintf("request:%d", n)))
	rec.Status = rep.status
	rec.Fault = rep.fault

	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	if s.opts.Logf != nil {
		s.opts.Logf("dostub: %s %s -> %d %s", r.Method, r.URL.RequestURI(), rep.status, rep.fault)
	}

	for k, v := range rep.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rep.status)
	if rep.body != nil {
		w.Write(rep.body)
	}
}

func (s *Server) handle(r *http.Request, body []byte, rec *Request) reply {
	// Route against the spec. The request seen by a server has no scheme or
	// host in its URL; give it ours so the router's server matcher applies.
	rr := r.Clone(r.Context())
	base, _ := url.Parse(s.URL)
	rr.URL.Scheme, rr.URL.Host, rr.Host = base.Scheme, base.Host, base.Host
	rr.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := s.router.FindRoute(rr)
	if err != nil {
		s.violate(Violation{Stage: "route", Method: r.Method, Path: r.URL.Path, Err: "not in the spec: " + err.Error()})
		return errorReply(404, "stub: no such route in the spec")
	}
	op := route.Operation.OperationID
	rec.Op = op

	in := &openapi3filter.RequestValidationInput{Request: rr, PathParams: params, Route: route}
	rep := s.serve(rr, body, route, params, op, in)

	if rep.fault == "malformed" {
		return rep // deliberately invalid; recorded as a fault, not a violation
	}
	resp := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rep.status,
		Header:                 http.Header{"Content-Type": {"application/json"}},
		Options:                filterOptions(s.authenticate),
	}
	if rep.header != nil {
		for k, v := range rep.header {
			resp.Header[k] = v
		}
	}
	if rep.body != nil {
		resp.SetBodyBytes(rep.body)
	} else {
		resp.Header.Del("Content-Type")
		resp.SetBodyBytes(nil)
	}
	if err := openapi3filter.ValidateResponse(r.Context(), resp); err != nil {
		s.violate(Violation{Stage: "response", Method: r.Method, Path: r.URL.Path, Op: op, Err: oneLine(err)})
		return errorReply(500, "stub: response does not match the spec: "+oneLine(err))
	}
	return rep
}

func (s *Server) serve(r *http.Request, body []byte, route *routers.Route, params map[string]string, op string, in *openapi3filter.RequestValidationInput) reply {
	// Authentication, as the API does it: a wrong or missing token is a 401,
	// not a spec violation.
	if !s.tokenOK(r) {
		return errorReply(401, "")
	}
	if s.opts.Scopes != nil && !s.scopesOK(route) {
		return errorReply(403, "")
	}
	in.Options = filterOptions(s.authenticate)
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		s.violate(Violation{Stage: "request", Method: r.Method, Path: r.URL.Path, Op: op, Err: oneLine(err)})
		return errorReply(400, "stub: request does not match the spec: "+oneLine(err))
	}

	f := s.takeFault(r.Method, r.URL.Path, op)
	var list listOpts
	if f != nil {
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			case <-s.done:
				t.Stop()
			}
		}
		switch {
		case f.Malformed:
			return reply{status: 200, body: []byte(`{"rules": [{"type": "droplet", "value": `), fault: "malformed",
				header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}}
		case f.Status != 0:
			rep := errorReply(f.Status, f.Message)
			rep.fault = "status " + strconv.Itoa(f.Status)
			rep.header = http.Header{}
			if f.Status == 429 {
				rep.header.Set("ratelimit-limit", "5000")
				rep.header.Set("ratelimit-remaining", "0")
				rep.header.Set("ratelimit-reset", strconv.FormatInt(s.opts.Now().Add(time.Minute).Unix(), 10))
			}
			for k, v := range f.Headers {
				rep.header.Set(k, v)
			}
			return rep
		}
		list = listOpts{empty: f.EmptyPage, omitLinks: f.OmitLinks}
		var what []string
		if f.Delay > 0 {
			what = append(what, "delay "+f.Delay.String())
		}
		if f.EmptyPage {
			what = append(what, "empty page")
		}
		if f.OmitLinks {
			what = append(what, "no links")
		}
		rep := s.dispatch(r, body, params, op, list)
		rep.fault = strings.Join(what, ", ")
		return rep
	}
	return s.dispatch(r, body, params, op, list)
}

func (s *Server) tokenOK(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	return ok && strings.EqualFold(scheme, "Bearer") && tok == s.token
}

func (s *Server) scopesOK(route *routers.Route) bool {
	reqs := route.Spec.Security
	if route.Operation.Security != nil {
		reqs = *route.Operation.Security
	}
	for _, req := range reqs {
		need := req["bearer_auth"]
		ok := true
		for _, sc := range need {
			if !hasScope(s.opts.Scopes, sc) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return len(reqs) == 0
}

func hasScope(have []string, need string) bool {
	for _, h := range have {
		if h == need {
			return true
		}
		// "database:update" also grants read, as DigitalOcean's scopes do.
		if strings.HasSuffix(need, ":read") && h == strings.TrimSuffix(need, ":read")+":update" {
			return true
		}
	}
	return false
}

// authenticate is kin-openapi's AuthenticationFunc: the bearer scheme must
// carry the accepted token.
func (s *Server) authenticate(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
	if ai.SecuritySchemeName != "bearer_auth" {
		return fmt.Errorf("unknown security scheme %q", ai.SecuritySchemeName)
	}
	if !s.tokenOK(ai.RequestValidationInput.Request) {
		return errors.New("missing or wrong bearer token")
	}
	return nil
}

type listOpts struct{ empty, omitLinks bool }

func (s *Server) dispatch(r *http.Request, body []byte, params map[string]string, op string, lo listOpts) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	if rep, ok := s.dispatchDatabase(r, body, params["database_cluster_uuid"], op); ok {
		return rep
	}
	switch op {
	case "databases_list_clusters":
		out := []any{}
		tag := q.Get("tag_name")
		for _, d := range s.st.databases {
			if tag == "" || contains(d.Tags, tag) {
				out = append(out, d.json())
			}
		}
		return jsonReply(200, map[string]any{"databases": out})
	case "databases_get_cluster":
		d, ok := s.st.database(params["database_cluster_uuid"])
		if !ok {
			return errorReply(404, "")
		}
		return jsonReply(200, map[string]any{"database": d.json()})
	case "databases_list_options":
		return jsonReply(200, databaseOptions())
	case "databases_list_firewall_rules":
		id := params["database_cluster_uuid"]
		if _, ok := s.st.database(id); !ok {
			return errorReply(404, "")
		}
		out := []any{}
		for _, rule := range s.st.rules[id] {
			out = append(out, rule.json())
		}
		return jsonReply(200, map[string]any{"rules": out})
	case "databases_update_firewall_rules":
		return s.putFirewall(params["database_cluster_uuid"], body)
	case "droplets_list":
		var items []any
		tag, name := q.Get("tag_name"), q.Get("name")
		for _, d := range s.st.droplets {
			if (tag == "" || contains(d.Tags, tag)) && (name == "" || strings.EqualFold(d.Name, name)) {
				items = append(items, d.json())
			}
		}
		return s.page(r, "droplets", items, lo)
	case "droplets_get":
		id, _ := strconv.Atoi(params["droplet_id"])
		d, ok := s.st.droplet(id)
		if !ok {
			return errorReply(404, "")
		}
		return jsonReply(200, map[string]any{"droplet": d.json()})
	case "apps_list":
		withProjects := q.Get("with_projects") == "true"
		var items []any
		for _, a := range s.st.apps {
			items = append(items, a.json(withProjects))
		}
		return s.page(r, "apps", items, lo)
	case "apps_get":
		a, ok := s.st.app(params["id"])
		if !ok {
			return errorReply(404, "")
		}
		return jsonReply(200, map[string]any{"app": a.json(true)})
	case "kubernetes_get_cluster":
		k, ok := s.st.kubernetes(params["cluster_id"])
		if !ok {
			return errorReply(404, "")
		}
		return jsonReply(200, map[string]any{"kubernetes_cluster": k.json()})
	case "tags_get":
		name := params["tag_id"]
		if !s.st.hasTag(name) {
			return errorReply(404, "")
		}
		return jsonReply(200, map[string]any{"tag": s.st.tagJSON(s.URL, name)})
	}
	return errorReply(500, "stub: operation "+op+" is in the spec but not served")
}

func (s *Server) putFirewall(id string, body []byte) reply {
	if _, ok := s.st.database(id); !ok {
		return errorReply(404, "")
	}
	var req struct {
		Rules []struct {
			Type        string `json:"type"`
			Value       string `json:"value"`
			Description string `json:"description"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return errorReply(422, "invalid request body")
	}
	if len(req.Rules) > 100 {
		return errorReply(422, "a database firewall can have at most 100 rules")
	}
	rules := make([]Rule, 0, len(req.Rules))
	for _, r := range req.Rules {
		switch r.Type {
		case "ip_addr":
			if !validIPv4Source(r.Value) {
				return errorReply(422, fmt.Sprintf("invalid IPv4 address %q (IPv6 is not supported)", r.Value))
			}
		case "droplet":
			if n, err := strconv.Atoi(r.Value); err != nil || n < 1 {
				return errorReply(422, fmt.Sprintf("invalid droplet id %q", r.Value))
			}
		}
		rules = append(rules, Rule{Type: r.Type, Value: r.Value, Description: r.Description})
	}
	s.st.putRules(id, rules, s.opts.Now())
	return reply{status: 204}
}

func validIPv4Source(v string) bool {
	if a, err := netip.ParseAddr(v); err == nil {
		return a.Is4()
	}
	if p, err := netip.ParsePrefix(v); err == nil {
		return p.Addr().Is4()
	}
	return false
}

// page serves one page of a collection with links and meta as the API does.
func (s *Server) page(r *http.Request, key string, items []any, lo listOpts) reply {
	q := r.URL.Query()
	page, perPage := 1, 20
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = v
	}
	perPage = min(perPage, s.opts.MaxPerPage)
	total := len(items)
	last := max(1, (total+perPage-1)/perPage)
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)
	pageItems := append([]any{}, items[start:end]...)
	if lo.empty {
		pageItems = []any{}
	}
	link := func(p int) string {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		qq.Set("page", strconv.Itoa(p))
		return s.URL + r.URL.Path + "?" + qq.Encode()
	}
	pages := map[string]any{}
	if page > 1 {
		pages["first"] = link(1)
		pages["prev"] = link(min(page-1, last))
	}
	if page < last {
		pages["next"] = link(page + 1)
		pages["last"] = link(last)
	}
	out := map[string]any{key: pageItems, "meta": map[string]any{"total": total}}
	if !lo.omitLinks {
		out["links"] = map[string]any{"pages": pages}
	}
	return jsonReply(200, out)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if i := strings.Index(s, " Schema: "); i > 0 {
		s = s[:i] // the schema dump adds nothing a reader needs
	}
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}
