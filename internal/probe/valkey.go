package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/clientlist"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/human"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// Defaults of ValkeyProbe.
const (
	DefaultPings        = 5
	DefaultCertWarnDays = 21
	DefaultMemoryWarn   = 0.90
)

// ValkeyData are the facts of the valkey check.
type ValkeyData struct {
	Addr         string `json:"addr"`
	Cluster      bool   `json:"cluster"`
	ClusterState string `json:"cluster_state,omitempty"`
	Server       string `json:"server"`  // "valkey" or "redis"
	Version      string `json:"version"` // of the server (the first node in a cluster)
	Pings        int    `json:"pings"`
	PingP50MS    int64  `json:"ping_p50_ms"`
	PingMaxMS    int64  `json:"ping_max_ms"`
	PingP50US    int64  `json:"ping_p50_us"`
	PingMaxUS    int64  `json:"ping_max_us"`
	// TLS is the handshake with the URL's host; null for redis://.
	TLS   *TLSInfo     `json:"tls"`
	Nodes []ValkeyNode `json:"nodes"`
	// PlanSize and PlanCap are the DigitalOcean cluster's size and its
	// connection cap, max(10000, 4 per MiB), when a token is set (PlanError
	// says why they could not be read).
	PlanSize  string `json:"plan_size,omitempty"`
	PlanCap   int64  `json:"plan_cap,omitempty"`
	PlanError string `json:"plan_error,omitempty"`
}

// ValkeyNode is one server (the only one when standalone).
type ValkeyNode struct {
	Addr             string `json:"addr"`
	Role             string `json:"role"`
	Server           string `json:"server"`
	Version          string `json:"version"`
	UptimeS          int64  `json:"uptime_s"`
	ConnectedClients int64  `json:"connected_clients"`
	MaxClients       int64  `json:"maxclients"` // INFO maxclients; 0 when INFO has none
	// Cap is what connections are judged against: the smaller of
	// maxclients and, on DigitalOcean, the plan's cap; CapFrom says which
	// ("maxclients" or "plan"; "" with no cap known).
	Cap                 int64    `json:"cap"`
	CapFrom             string   `json:"cap_from"`
	ClientsPct          float64  `json:"clients_pct"` // connected / cap × 100; 0 without a cap
	UsedMemoryBytes     int64    `json:"used_memory_bytes"`
	MaxMemoryBytes      int64    `json:"maxmemory_bytes"`
	MemoryPct           float64  `json:"memory_pct"` // used / maxmemory × 100; 0 without maxmemory
	MaxMemoryPolicy     string   `json:"maxmemory_policy"`
	EvictedKeys         int64    `json:"evicted_keys"`
	RejectedConnections int64    `json:"rejected_connections"`
	ClusterState        string   `json:"cluster_state,omitempty"`
	PingP50US           int64    `json:"ping_p50_us"`
	PingMaxUS           int64    `json:"ping_max_us"`
	TLS                 *TLSInfo `json:"tls,omitempty"`
	Error               string   `json:"error,omitempty"`

	pings []time.Duration
}

// ValkeyProbe connects, authenticates, PINGs, reads INFO (and CLUSTER INFO
// on every node of a cluster) and inspects the TLS certificate.
type ValkeyProbe struct {
	Options valkeyclient.Options
	// Connect connects with Options (default valkeyclient.Connect).
	Connect func(ctx context.Context) (*valkeyclient.Conn, error)
	// Pings is the number of PINGs per node (default 5).
	Pings int
	// CertWarnDays warns when the certificate expires sooner (default 21).
	CertWarnDays int
	// MemoryWarn warns when used memory is above this share of maxmemory (default 0.9).
	MemoryWarn float64
	// Plan, when set (a DigitalOcean token is), reads the cluster's plan,
	// whose connection cap may be below maxclients; it runs alongside the
	// server's reading.
	Plan func(ctx context.Context) (doapi.Plan, error)
	Now  func() time.Time
}

func (p *ValkeyProbe) defaults() {
	if p.Pings <= 0 {
		p.Pings = DefaultPings
	}
	if p.CertWarnDays <= 0 {
		p.CertWarnDays = DefaultCertWarnDays
	}
	if p.MemoryWarn <= 0 {
		p.MemoryWarn = DefaultMemoryWarn
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Connect == nil {
		o := p.Options
		p.Connect = func(ctx context.Context) (*valkeyclient.Conn, error) { return valkeyclient.Connect(ctx, o) }
	}
}

// Run checks the server or every node of the cluster.
func (p *ValkeyProbe) Run(ctx context.Context) Outcome {
	p.defaults()
	now := p.Now()
	f := newFindings()
	data := &ValkeyData{Nodes: []ValkeyNode{}}

	t, err := valkeyclient.ParseURL(p.Options.URL)
	if err != nil {
		return Outcome{Status: Fail, Detail: errText(err), Data: data}
	}
	data.Addr = t.Addr()
	var tlsCfg *tls.Config
	if t.TLS {
		if tlsCfg, err = valkeyclient.TLSConfig(p.Options, t.Host); err != nil {
			return Outcome{Status: Fail, Detail: errText(err), Data: data}
		}
	}

	plan := p.readPlan(ctx)
	conn, err := p.Connect(ctx)
	// The certificate is inspected after connecting, so that a server that
	// never answers the handshake cannot eat the connection's time; it is
	// what explains a connection that failed on an expired certificate.
	if _, kind := apperr.Classify(err); t.TLS && (err == nil || kind == apperr.KindTLS) {
		if info, herr := p.inspect(ctx, t.Addr(), tlsCfg, now); herr == nil {
			data.TLS = info
			judgeTLS(f, t.Addr(), info, now, p.CertWarnDays)
		}
	}
	if err != nil {
		if f.status == Fail {
			f.notes = append(f.notes, "cannot connect with verification on")
		} else {
			f.fail("%s", errText(err))
		}
		return Outcome{Status: Fail, Detail: f.detail(""), Data: data}
	}
	defer conn.Close()
	data.Cluster = conn.Cluster

	servers := conn.Nodes()
	if conn.Cluster && len(servers) == 0 {
		// CLUSTER SLOTS lists no node: nothing serves any key.
		f.fail("the cluster has no node serving slots (CLUSTER SLOTS is empty)")
		return Outcome{Status: Fail, Detail: f.detail(""), Data: data}
	}
	nodes := valkeyclient.EachNode(servers, func(vn valkeyclient.Node) ValkeyNode {
		n := p.node(ctx, vn, conn.Cluster)
		if t.TLS {
			if vn.Addr == t.Addr() {
				n.TLS = data.TLS
			} else if info, err := p.inspect(ctx, vn.Addr, tlsCfg, now); err == nil {
				n.TLS = info
			}
		}
		return n
	}, func(vn valkeyclient.Node, r any) ValkeyNode {
		return ValkeyNode{Addr: vn.Addr, Error: fmt.Sprintf("internal error (a bug): %v", r)}
	})
	data.Nodes = nodes
	pl, planErr := plan()
	if planErr != nil {
		data.PlanError = errText(planErr)
	}
	data.PlanSize, data.PlanCap = pl.Size, pl.ConnectionCap
	for i := range nodes {
		n := &nodes[i]
		n.Cap, n.CapFrom = doapi.ConnectionCap(n.MaxClients, pl)
		if n.Cap > 0 {
			n.ClientsPct = float64(int64(float64(n.ConnectedClients)/float64(n.Cap)*1000+0.5)) / 10
		}
	}

	var all []time.Duration
	for i := range nodes {
		n := &nodes[i]
		label := ""
		if conn.Cluster {
			label = n.Addr + ": "
		}
		all = append(all, n.pings...)
		if n.Error != "" {
			f.fail("%s%s", label, n.Error)
			continue
		}
		if data.Server == "" {
			data.Server, data.Version = n.Server, n.Version
		}
		p.judgeNode(ctx, f, label, n, pl)
		if conn.Cluster && n.TLS != nil && n.Addr != t.Addr() {
			judgeTLS(f, n.Addr, n.TLS, now, p.CertWarnDays)
		}
	}
	if conn.Cluster {
		data.ClusterState = "ok"
		for _, n := range nodes {
			if n.Error == "" && n.ClusterState != "ok" {
				data.ClusterState = n.ClusterState
			}
		}
	}
	data.Pings = len(all)
	if len(all) > 0 {
		p50, max := percentile(all, 50), percentile(all, 100)
		data.PingP50MS, data.PingMaxMS = p50.Milliseconds(), max.Milliseconds()
		data.PingP50US, data.PingMaxUS = p50.Microseconds(), max.Microseconds()
	}
	summary := p.summary(data)
	if data.PlanError != "" {
		// A note: connections are still judged against maxclients.
		summary = strings.TrimPrefix(summary+"; could not read the plan's connection cap from DigitalOcean: "+data.PlanError, "; ")
	}
	return Outcome{Status: f.status, Detail: f.detail(summary), Data: data}
}

// inspect is inspectTLS bounded to 3s and to half the time left.
func (p *ValkeyProbe) inspect(ctx context.Context, addr string, cfg *tls.Config, now time.Time) (*TLSInfo, error) {
	limit := 3 * time.Second
	if dl, ok := ctx.Deadline(); ok && time.Until(dl)/2 < limit {
		limit = time.Until(dl) / 2
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return inspectTLS(ctx, addr, cfg, p.Options.Insecure, now)
}

// node queries one server: PINGs, INFO, CLUSTER INFO.
func (p *ValkeyProbe) node(ctx context.Context, vn valkeyclient.Node, cluster bool) ValkeyNode {
	n := ValkeyNode{Addr: vn.Addr}
	c, t := vn.Client, vn.Target()
	for i := 0; i < p.Pings; i++ {
		start := time.Now()
		if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
			n.Error = "PING: " + errText(valkeyclient.Classify(err, t))
			return n
		}
		n.pings = append(n.pings, time.Since(start))
	}
	n.PingP50US, n.PingMaxUS = percentile(n.pings, 50).Microseconds(), percentile(n.pings, 100).Microseconds()
	info, err := c.Do(ctx, c.B().Info().Build()).ToString()
	if err != nil {
		n.Error = "INFO: " + errText(valkeyclient.Classify(err, t))
		return n
	}
	kv := valkeyclient.ParseInfo(info)
	num := func(name string) int64 { v, _ := kv.Int(name); return v } // absent: 0
	if v := kv["valkey_version"]; v != "" {
		n.Server, n.Version = "valkey", v
	} else if name := kv["server_name"]; name != "" && kv[name+"_version"] != "" { // another server that names itself as Valkey does
		n.Server, n.Version = name, kv[name+"_version"]
	} else {
		n.Server, n.Version = "redis", kv["redis_version"]
	}
	n.Role = kv["role"]
	n.UptimeS = num("uptime_in_seconds")
	n.ConnectedClients = num("connected_clients")
	n.MaxClients = num("maxclients")
	n.UsedMemoryBytes = num("used_memory")
	n.MaxMemoryBytes = num("maxmemory")
	n.MaxMemoryPolicy = kv["maxmemory_policy"]
	n.EvictedKeys = num("evicted_keys")
	n.RejectedConnections = num("rejected_connections")
	if n.MaxMemoryBytes > 0 {
		n.MemoryPct = float64(int64(float64(n.UsedMemoryBytes)/float64(n.MaxMemoryBytes)*1000+0.5)) / 10
	}
	if cluster {
		ci, err := c.Do(ctx, c.B().ClusterInfo().Build()).ToString()
		if err != nil {
			n.Error = "CLUSTER INFO: " + errText(valkeyclient.Classify(err, t))
			return n
		}
		n.ClusterState = valkeyclient.ParseInfo(ci)["cluster_state"]
	}
	return n
}

func (p *ValkeyProbe) judgeNode(ctx context.Context, f *findings, label string, n *ValkeyNode, plan doapi.Plan) {
	if n.MaxMemoryBytes > 0 && float64(n.UsedMemoryBytes) > p.MemoryWarn*float64(n.MaxMemoryBytes) {
		f.warn("%smemory %s of maxmemory %s (%.1f%%, above %.0f%%)", label, human.Bytes(n.UsedMemoryBytes), human.Bytes(n.MaxMemoryBytes), n.MemoryPct, p.MemoryWarn*100)
	}
	// The eviction policy and evicted keys are the ratelimit check's: what
	// they break is the limiter's counters (RateLimitProbe).
	f.counter(ctx, "valkey:"+n.Addr+":rejected_connections", label, n.RejectedConnections, "connections rejected (maxclients reached)")
	if clientlist.NearCap(n.ConnectedClients, n.Cap) {
		f.warn("%sconnections %d of %s (%.1f%%, at or above %d%%): new connections are refused at the cap", label, n.ConnectedClients, doapi.CapText(n.Cap, n.CapFrom, plan), n.ClientsPct, clientlist.HeadroomPercent)
	}
	if n.ClusterState != "" && n.ClusterState != "ok" {
		f.fail("%scluster_state is %s", label, n.ClusterState)
	}
}

func (p *ValkeyProbe) summary(d *ValkeyData) string {
	var parts []string
	if d.Cluster {
		parts = append(parts, fmt.Sprintf("cluster %s, %d nodes, %s %s", d.ClusterState, len(d.Nodes), d.Server, d.Version))
	} else if len(d.Nodes) == 1 && d.Nodes[0].Error == "" {
		n := d.Nodes[0]
		// A Redis-compatible server may leave INFO fields out: show what it gave.
		head := strings.Join(strings.Fields(n.Server+" "+n.Version+" "+n.Role), " ")
		if n.UptimeS > 0 {
			head += ", up " + uptime(n.UptimeS)
		}
		parts = append(parts, strings.TrimPrefix(head+", "+plural(n.ConnectedClients, "client"), ", "))
		if n.UsedMemoryBytes > 0 {
			mem := "memory " + human.Bytes(n.UsedMemoryBytes)
			if n.MaxMemoryBytes > 0 {
				mem += fmt.Sprintf(" of %s (%.1f%%)", human.Bytes(n.MaxMemoryBytes), n.MemoryPct)
			} else {
				mem += " (no maxmemory)"
			}
			parts = append(parts, mem)
		}
		if n.MaxMemoryPolicy != "" {
			parts = append(parts, n.MaxMemoryPolicy)
		}
	} else {
		return ""
	}
	if d.PlanCap > 0 {
		parts = append(parts, fmt.Sprintf("DigitalOcean's %s plan caps connections at %d", d.PlanSize, d.PlanCap))
	}
	if d.Pings > 0 {
		parts = append(parts, fmt.Sprintf("ping p50 %s max %s", micros(d.PingP50US), micros(d.PingMaxUS)))
	}
	if d.TLS != nil {
		if d.TLS.DaysLeft < p.CertWarnDays {
			// judgeTLS already says when it expires: once is enough.
			parts = append(parts, d.TLS.Version)
		} else {
			parts = append(parts, fmt.Sprintf("%s, certificate expires in %s", d.TLS.Version, plural(int64(d.TLS.DaysLeft), "day")))
		}
	}
	return strings.Join(parts, ", ")
}

// errText is an error's message and hint on one line.
func errText(err error) string {
	msg := apperr.Text(err)
	if h := apperr.HintOf(err); h != "" {
		msg += " — " + apperr.OneLine(h)
	}
	return msg
}

// percentile is the nearest-rank percentile of ds (q in 1..100).
func percentile(ds []time.Duration, q int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := (q*len(s) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return s[rank-1]
}

func uptime(s int64) string {
	d := time.Duration(s) * time.Second
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", s)
}

func micros(us int64) string {
	if us < 1000 {
		return fmt.Sprintf("%.2fms", float64(us)/1000)
	}
	return fmt.Sprintf("%dms", us/1000)
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// readPlan starts reading the DigitalOcean plan (when Plan is set) and
// returns the wait for it. The wait ends at ctx's end: the plan is one
// reading among several and never holds the check past its deadline.
func (p *ValkeyProbe) readPlan(ctx context.Context) func() (doapi.Plan, error) {
	if p.Plan == nil {
		return func() (doapi.Plan, error) { return doapi.Plan{}, nil }
	}
	type result struct {
		plan doapi.Plan
		err  error
	}
	ch := make(chan result, 1) // buffered: a late answer never blocks
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- result{err: fmt.Errorf("internal error (a bug): %v", r)}
			}
		}()
		pl, err := p.Plan(ctx)
		ch <- result{pl, err}
	}()
	return func() (doapi.Plan, error) {
		select {
		case r := <-ch:
			return r.plan, r.err
		case <-ctx.Done():
			return doapi.Plan{}, ctx.Err()
		}
	}
}
