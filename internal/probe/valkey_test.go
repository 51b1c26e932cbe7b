package probe

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

func valkeyProbe(url, ca string) *ValkeyProbe {
	return &ValkeyProbe{Options: valkeyclient.Options{URL: url, CAFile: ca, Timeout: 5 * time.Second, ClientName: "oxyctl-test"}}
}

func runValkey(t *testing.T, p *ValkeyProbe) (Outcome, *ValkeyData) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := p.Run(ctx)
	t.Logf("%s: %s", out.Status, out.Detail)
	return out, out.Data.(*ValkeyData)
}

func TestValkeyTLSPasswordOK(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: "s3cret-pw"})
	out, d := runValkey(t, valkeyProbe(srv.URL, srv.CAFile))
	if out.Status != OK {
		t.Fatalf("status %s %q, want ok", out.Status, out.Detail)
	}
	if strings.Contains(out.Detail, "s3cret-pw") {
		t.Fatal("password in detail")
	}
	if d.Server != "valkey" || d.Version != srv.Version || d.Cluster || d.Addr != srv.Addr {
		t.Fatalf("data %+v (server %s)", d, srv.Version)
	}
	if d.Pings != DefaultPings || d.PingMaxUS <= 0 || d.PingP50US > d.PingMaxUS {
		t.Fatalf("pings %d p50 %dus max %dus", d.Pings, d.PingP50US, d.PingMaxUS)
	}
	if d.TLS == nil || !d.TLS.Verified || !strings.HasPrefix(d.TLS.Version, "TLS 1.") || d.TLS.DaysLeft < 88 || d.TLS.DaysLeft > 90 {
		t.Fatalf("tls %+v", d.TLS)
	}
	if len(d.Nodes) != 1 {
		t.Fatalf("nodes %+v", d.Nodes)
	}
	n := d.Nodes[0]
	if n.Role != "master" || n.UptimeS < 0 || n.ConnectedClients < 1 || n.UsedMemoryBytes <= 0 || n.MaxMemoryPolicy != "noeviction" || n.TLS == nil {
		t.Fatalf("node %+v", n)
	}
	for _, want := range []string{"valkey " + srv.Version + " master", "noeviction", "ping p50", "certificate expires in"} {
		if !strings.Contains(out.Detail, want) {
			t.Errorf("detail %q lacks %q", out.Detail, want)
		}
	}
}

func TestValkeyCertExpiry(t *testing.T) {
	t.Parallel()
	now := time.Now()
	t.Run("expires soon", func(t *testing.T) {
		t.Parallel()
		files := valkeytest.NewTLSFilesSpec(t, valkeytest.CertSpec{Hosts: []string{"127.0.0.1", "localhost"}, NotAfter: now.Add(10*24*time.Hour + time.Hour)})
		srv := valkeytest.Start(t, valkeytest.Options{TLSFiles: files, Password: "pw-soon"})
		out, d := runValkey(t, valkeyProbe(srv.URL, srv.CAFile))
		if out.Status != Warn || !strings.Contains(out.Detail, "TLS certificate of "+srv.Addr+" expires in 10 days") {
			t.Fatalf("got %s %q, want warn expires in 10 days", out.Status, out.Detail)
		}
		if n := strings.Count(out.Detail, "expires in"); n != 1 {
			t.Fatalf("detail %q says the expiry %d times, want once", out.Detail, n)
		}
		if d.TLS.DaysLeft != 10 || d.Server != "valkey" {
			t.Fatalf("data %+v", d)
		}
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		notAfter := now.Add(-3 * 24 * time.Hour)
		files := valkeytest.NewTLSFilesSpec(t, valkeytest.CertSpec{Hosts: []string{"127.0.0.1"}, NotBefore: now.Add(-90 * 24 * time.Hour), NotAfter: notAfter})
		srv := valkeytest.Start(t, valkeytest.Options{TLSFiles: files, Password: "pw-old"})
		out, d := runValkey(t, valkeyProbe(srv.URL, srv.CAFile))
		want := fmt.Sprintf("TLS certificate of %s expired on %s (3 days ago)", srv.Addr, notAfter.UTC().Format("2006-01-02"))
		if out.Status != Fail || !strings.Contains(out.Detail, want) || !strings.Contains(out.Detail, "cannot connect") {
			t.Fatalf("got %s %q, want fail %q", out.Status, out.Detail, want)
		}
		if d.TLS == nil || d.TLS.DaysLeft > -3 || d.TLS.Verified {
			t.Fatalf("tls %+v", d.TLS)
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t, valkeytest.Options{TLS: true})
		out, d := runValkey(t, valkeyProbe(srv.URL, ""))
		if out.Status != Fail || !strings.Contains(out.Detail, "unknown authority") {
			t.Fatalf("got %s %q", out.Status, out.Detail)
		}
		if d.TLS == nil || d.TLS.Verified {
			t.Fatalf("tls %+v", d.TLS)
		}
	})
}

func TestValkeyMemoryAndEviction(t *testing.T) {
	t.Parallel()
	t.Run("allkeys-lru", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru"}})
		out, d := runValkey(t, valkeyProbe(srv.URL, ""))
		// The policy shows in the summary; what it does to rate-limit
		// counters is judged by the ratelimit check (TestRateLimitEviction,
		// and with the real limiter internal/cmd/health's
		// TestHealthRateLimitCountersEvicted).
		if out.Status != OK || !strings.Contains(out.Detail, "of 256.0 MiB (") || !strings.Contains(out.Detail, ", allkeys-lru, ping") {
			t.Fatalf("got %s %q", out.Status, out.Detail)
		}
		if d.Nodes[0].MaxMemoryPolicy != "allkeys-lru" || d.Nodes[0].MaxMemoryBytes != 256<<20 || d.Nodes[0].MemoryPct <= 0 {
			t.Fatalf("node %+v", d.Nodes[0])
		}
		if d.TLS != nil {
			t.Fatalf("plaintext server has tls %+v", d.TLS)
		}
	})
	t.Run("memory above 90%", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t, valkeytest.Options{})
		cl := srv.Client(t)
		ctx := context.Background()
		info, err := cl.Do(ctx, cl.B().Info().Section("memory").Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		used, _ := valkeyclient.ParseInfo(info).Int("used_memory")
		max := used * 100 / 95 // about 95 % used
		if err := cl.Do(ctx, cl.B().ConfigSet().ParameterValue().ParameterValue("maxmemory", strconv.FormatInt(max, 10)).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		out, d := runValkey(t, valkeyProbe(srv.URL, ""))
		if out.Status != Warn || !strings.Contains(out.Detail, "of maxmemory") || !strings.Contains(out.Detail, "above 90%") {
			t.Fatalf("got %s %q", out.Status, out.Detail)
		}
		if pct := d.Nodes[0].MemoryPct; pct <= 90 {
			t.Fatalf("memory_pct %.1f", pct)
		}
		// Below the threshold it is fine.
		if err := cl.Do(ctx, cl.B().ConfigSet().ParameterValue().ParameterValue("maxmemory", strconv.FormatInt(used*4, 10)).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if out, _ := runValkey(t, valkeyProbe(srv.URL, "")); out.Status != OK {
			t.Fatalf("at ~25%%: %s %q", out.Status, out.Detail)
		}
	})
}

func TestValkeyConnectFailures(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t, valkeytest.Options{TLS: true, Password: "right-pw"})
	wrong := strings.Replace(srv.URL, "right-pw", "wrong-pw", 1)
	out, _ := runValkey(t, valkeyProbe(wrong, srv.CAFile))
	if out.Status != Fail || !strings.Contains(out.Detail, "authentication failed") || strings.Contains(out.Detail, "wrong-pw") {
		t.Fatalf("wrong password: %s %q", out.Status, out.Detail)
	}
	down := valkeytest.Start(t, valkeytest.Options{})
	down.Stop()
	out, _ = runValkey(t, valkeyProbe(down.URL, ""))
	if out.Status != Fail || !strings.Contains(out.Detail, "connection refused") {
		t.Fatalf("down: %s %q", out.Status, out.Detail)
	}
	out, _ = runValkey(t, valkeyProbe("http://x", ""))
	if out.Status != Fail || !strings.Contains(out.Detail, "invalid Valkey URL") {
		t.Fatalf("bad url: %s %q", out.Status, out.Detail)
	}
}

func TestValkeyCluster(t *testing.T) {
	t.Parallel()
	c := valkeytest.StartCluster(t, valkeytest.Options{TLS: true, Password: "cluster-pw"})
	out, d := runValkey(t, valkeyProbe(c.URL, c.Nodes[0].CAFile))
	if out.Status != OK {
		t.Fatalf("got %s %q", out.Status, out.Detail)
	}
	if !d.Cluster || d.ClusterState != "ok" || len(d.Nodes) != 3 || d.Pings != 3*DefaultPings {
		t.Fatalf("data %+v", d)
	}
	for i, n := range d.Nodes {
		if n.ClusterState != "ok" || n.Role != "master" || n.Server != "valkey" || n.TLS == nil || !n.TLS.Verified || n.Error != "" {
			t.Fatalf("node %d: %+v", i, n)
		}
	}
	if !strings.Contains(out.Detail, "cluster ok, 3 nodes") {
		t.Fatalf("detail %q", out.Detail)
	}

	// A node goes away: the check names it and fails.
	c.Nodes[2].Stop()
	t.Logf("stopped %s; seed %s", c.Nodes[2].Addr, c.Nodes[0].Addr)
	out, _ = runValkey(t, valkeyProbe(c.URL, c.Nodes[0].CAFile))
	// When valkeyclient.Connect's INFO happens to go to the stopped node, the
	// connection itself fails (and valkeyclient names the seed address);
	// otherwise the node's row names it.
	if out.Status != Fail || !strings.Contains(out.Detail, "connection refused") {
		t.Fatalf("node down: %s %q", out.Status, out.Detail)
	}
	if d := out.Data.(*ValkeyData); len(d.Nodes) > 0 && !strings.Contains(out.Detail, c.Nodes[2].Addr) {
		t.Fatalf("node down: detail %q does not name %s", out.Detail, c.Nodes[2].Addr)
	}
}

func TestValkeyTLSToPlaintextPort(t *testing.T) {
	t.Parallel()
	srv := valkeytest.Start(t, valkeytest.Options{})
	url := strings.Replace(srv.URL, "redis://", "rediss://", 1)
	r := &Runner{Timeout: time.Second}
	start := time.Now()
	rep, err := r.Run(context.Background(), []Check{{Name: "valkey", Probe: &ValkeyProbe{Options: valkeyclient.Options{URL: url, Timeout: 10 * time.Second}}}})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Checks[0]
	t.Logf("%s %q in %s", c.Status, c.Detail, time.Since(start))
	// valkeyclient explains the silent handshake before the check's deadline.
	if c.Status != Fail || !strings.Contains(c.Detail, "plaintext") || time.Since(start) > 1200*time.Millisecond {
		t.Fatalf("got %s %q", c.Status, c.Detail)
	}
}

func TestJudgeTLSOneDay(t *testing.T) {
	now := time.Now()
	f := newFindings()
	judgeTLS(f, "db:25061", &TLSInfo{DaysLeft: 1, notBefore: now.Add(-time.Hour), notAfter: now.Add(36 * time.Hour)}, now, 14)
	if d := f.detail(""); !strings.Contains(d, "expires in 1 day (") {
		t.Fatalf("detail %q, want \"expires in 1 day (\"", d)
	}
}

// clientsOf returns a reading of the server's connected_clients through an
// observer connection that holds one slot until the test ends, so that
// waiting for the server never costs a rejected connection of its own.
func clientsOf(t *testing.T, srv *valkeytest.Server) func() int64 {
	t.Helper()
	obs, err := srv.SingleClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(obs.Close)
	return func() int64 {
		s, err := obs.Do(context.Background(), obs.B().Info().Section("clients").Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := valkeyclient.ParseInfo(s).Int("connected_clients")
		return n
	}
}

func TestValkeyConnectionsCap(t *testing.T) {
	t.Parallel()
	t.Run("80% of maxclients", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--maxclients", "10"}})
		connected := clientsOf(t, srv)
		// The observer, 5 held and the check's own connection: 70 %.
		srv.Hold(t, 5)
		out, d := runValkey(t, valkeyProbe(srv.URL, ""))
		if n := d.Nodes[0]; out.Status != OK || n.MaxClients != 10 || n.ConnectedClients != 7 || n.ClientsPct != 70 {
			t.Fatalf("at 70%%: %s %q %+v", out.Status, out.Detail, n)
		}
		// One more: 8 of 10 is the threshold (once the server has let the
		// last check's connection go).
		srv.Hold(t, 1)
		clitest.WaitFor(t, 5*time.Second, "the server to let the check's connection go", func() bool { return connected() == 7 })
		out, d = runValkey(t, valkeyProbe(srv.URL, ""))
		if out.Status != Warn || !strings.Contains(out.Detail, "connections 8 of maxclients 10 (80.0%, at or above 80%)") {
			t.Fatalf("at 80%%: %s %q", out.Status, out.Detail)
		}
		if n := d.Nodes[0]; n.MaxClients != 10 || n.ConnectedClients != 8 || n.ClientsPct != 80 || n.RejectedConnections != 0 {
			t.Fatalf("at 80%%: node %+v", n)
		}
	})
	t.Run("rejected connections", func(t *testing.T) {
		t.Parallel()
		srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--maxclients", "10"}})
		connected := clientsOf(t, srv)
		if n := connected(); n != 1 {
			t.Fatalf("%d clients before, want the observer alone", n)
		}
		held, replies := srv.Hold(t, 12)
		refused := 0
		for _, r := range replies {
			if strings.Contains(r, valkeytest.RefusedAtCap) {
				refused++
			}
		}
		if refused != 3 {
			t.Fatalf("%d of 12 connections refused, want 3: %q", refused, replies)
		}
		// Make room for the check: the observer, 1 held and its own.
		for _, c := range held[:8] {
			c.Close()
		}
		clitest.WaitFor(t, 5*time.Second, "the server to let the closed connections go", func() bool { return connected() == 2 })
		out, d := runValkey(t, valkeyProbe(srv.URL, ""))
		if out.Status != Warn || !strings.Contains(out.Detail, "3 connections rejected (maxclients reached) since the server started") || strings.Contains(out.Detail, "of maxclients") {
			t.Fatalf("rejected: %s %q", out.Status, out.Detail)
		}
		if n := d.Nodes[0]; n.RejectedConnections != 3 || n.MaxClients != 10 || n.ConnectedClients != 3 {
			t.Fatalf("rejected: node %+v", n)
		}
	})
}

// planFrom reads the plan of the stand-in's Oxy cluster (db-s-1vcpu-1gb:
// a cap of 10000) as health does when a token is set.
func planFrom(stub *dostub.Server) func(context.Context) (doapi.Plan, error) {
	return func(ctx context.Context) (doapi.Plan, error) {
		c, err := doapi.New(doapi.Options{BaseURL: stub.URL, Token: stub.Token(), RetryMax: -1, Timeout: 5 * time.Second})
		if err != nil {
			return doapi.Plan{}, err
		}
		return doapi.ClusterPlan(ctx, c, dostub.OxyClusterName)
	}
}

// On DigitalOcean the cap is the smaller of maxclients and the plan's cap.
func TestValkeyPlanCap(t *testing.T) {
	t.Parallel()
	stub := dostub.Start(t)

	// maxclients 15000 on a 1 GiB plan: the plan's 10000 is the cap.
	srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--maxclients", "15000"}})
	p := valkeyProbe(srv.URL, "")
	p.Plan = planFrom(stub)
	out, d := runValkey(t, p)
	n := d.Nodes[0]
	if out.Status != OK || n.MaxClients != 15000 || n.Cap != 10000 || n.CapFrom != doapi.CapFromPlan || d.PlanCap != 10000 || d.PlanSize != "db-s-1vcpu-1gb" {
		t.Fatalf("plan below maxclients: %s %q data %+v node %+v", out.Status, out.Detail, d, n)
	}
	if !strings.Contains(out.Detail, "DigitalOcean's db-s-1vcpu-1gb plan caps connections at 10000") {
		t.Fatalf("detail does not name the plan's cap: %q", out.Detail)
	}
	if want := float64(int64(float64(n.ConnectedClients)/10000*1000+0.5)) / 10; n.ClientsPct != want {
		t.Fatalf("clients_pct %v, want %v (of the plan's cap)", n.ClientsPct, want)
	}
	// Without a token the server's maxclients is the cap.
	out, d = runValkey(t, valkeyProbe(srv.URL, ""))
	if n := d.Nodes[0]; n.Cap != 15000 || n.CapFrom != doapi.CapFromMaxclients || d.PlanCap != 0 || strings.Contains(out.Detail, "DigitalOcean") {
		t.Fatalf("no token: %q node %+v", out.Detail, n)
	}

	// maxclients 10 is below the plan's cap: 8 of 10 still warns, as maxclients.
	small := valkeytest.Start(t, valkeytest.Options{Args: []string{"--maxclients", "10"}})
	small.Hold(t, 8) // 8 held and the check's own: at or above 80 % of 10
	p = valkeyProbe(small.URL, "")
	p.Plan = planFrom(stub)
	out, d = runValkey(t, p)
	if n := d.Nodes[0]; n.Cap != 10 || n.CapFrom != doapi.CapFromMaxclients || out.Status != Warn ||
		!strings.Contains(out.Detail, fmt.Sprintf("connections %d of maxclients 10", n.ConnectedClients)) {
		t.Fatalf("maxclients below the plan: %s %q node %+v", out.Status, out.Detail, n)
	}

	// The plan is read alongside the server: a slow API and a slow server
	// take about as long as the slower of the two, not their sum.
	stub.Inject(dostub.Fault{Op: "databases_list_clusters", Delay: 300 * time.Millisecond, Times: 1})
	p = valkeyProbe(srv.URL, "")
	p.Plan = planFrom(stub)
	p.Connect = func(ctx context.Context) (*valkeyclient.Conn, error) {
		time.Sleep(300 * time.Millisecond)
		return valkeyclient.Connect(ctx, p.Options)
	}
	start := time.Now()
	out, d = runValkey(t, p)
	if took := time.Since(start); took > 550*time.Millisecond || d.PlanCap != 10000 || out.Status != OK {
		t.Fatalf("slow API and server: took %s (want about 300ms), plan cap %d, %s %q", took, d.PlanCap, out.Status, out.Detail)
	}

	// The plan cannot be read: a note; connections are judged against maxclients.
	stub.Inject(dostub.Fault{Op: "databases_list_clusters", Status: 500})
	p = valkeyProbe(srv.URL, "")
	p.Plan = planFrom(stub)
	out, d = runValkey(t, p)
	if n := d.Nodes[0]; out.Status != OK || n.Cap != 15000 || n.CapFrom != doapi.CapFromMaxclients || d.PlanError == "" ||
		!strings.Contains(out.Detail, "could not read the plan's connection cap from DigitalOcean: ") {
		t.Fatalf("plan unreadable: %s %q data %+v", out.Status, out.Detail, d)
	}
	stub.ClearFaults()
}

// The warning names the plan's cap when it is the tighter one (reaching 8000
// real connections is out of a unit test's reach: judged on the node's numbers).
func TestValkeyJudgePlanCap(t *testing.T) {
	plan := doapi.PlanOf("db-s-1vcpu-1gb")
	n := &ValkeyNode{ConnectedClients: 8000, MaxClients: 15000}
	n.Cap, n.CapFrom = doapi.ConnectionCap(n.MaxClients, plan)
	n.ClientsPct = 80
	f := newFindings()
	(&ValkeyProbe{}).judgeNode(context.Background(), f, "", n, plan)
	want := "connections 8000 of the plan's cap 10000 (db-s-1vcpu-1gb: max(10000, 4 per MiB)) (80.0%, at or above 80%): new connections are refused at the cap"
	if f.status != Warn || f.detail("") != want {
		t.Fatalf("%s %q, want warn %q", f.status, f.detail(""), want)
	}
	n.ConnectedClients, n.ClientsPct = 7999, 79.99
	f = newFindings()
	(&ValkeyProbe{}).judgeNode(context.Background(), f, "", n, plan)
	if f.status != OK {
		t.Fatalf("7999 of 10000: %s %q", f.status, f.detail(""))
	}
}
