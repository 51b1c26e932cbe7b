package probe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
)

// doNow is the do check's clock in these tests: a week after the stand-in's
// default events, so that none of them is recent.
var doNow = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func doProbe(stub *dostub.Server, token, cluster string) *DOProbe {
	return &DOProbe{Cluster: cluster, Now: func() time.Time { return doNow }, Client: func(context.Context) (DOClient, error) {
		c, err := doapi.New(doapi.Options{BaseURL: stub.URL, Token: token, RetryMax: -1, Timeout: 5 * time.Second})
		if err != nil {
			return nil, err
		}
		return c, nil
	}}
}

func TestDOProbe(t *testing.T) {
	t.Parallel()
	stub := dostub.Start(t)
	ctx := context.Background()

	out := doProbe(stub, stub.Token(), dostub.OxyClusterName).Run(ctx)
	d := out.Data.(*DOData)
	if out.Status != OK || d.ID != dostub.OxyClusterID || d.Engine != "valkey" || d.Version != "8" || d.Region != "ams3" ||
		d.Size != "db-s-1vcpu-1gb" || d.NumNodes != 1 || d.Status != "online" || d.Maintenance == nil || d.Maintenance.Day != "sunday" {
		t.Fatalf("online: %s %q %+v", out.Status, out.Detail, d)
	}
	if want := "db-valkey-ams3-04785 online: valkey 8, db-s-1vcpu-1gb, 1 node, ams3, maintenance sunday 03:00:00"; out.Detail != want {
		t.Fatalf("detail %q, want %q", out.Detail, want)
	}
	// By id too.
	if out := doProbe(stub, stub.Token(), dostub.OxyClusterID).Run(ctx); out.Status != OK {
		t.Fatalf("by id: %s %q", out.Status, out.Detail)
	}

	for _, st := range []string{"creating", "resizing", "migrating", "forking"} {
		stub.SetClusterStatus(dostub.OxyClusterID, st)
		out := doProbe(stub, stub.Token(), dostub.OxyClusterName).Run(ctx)
		if out.Status != Warn || !strings.Contains(out.Detail, "is "+st) {
			t.Errorf("%s: %s %q, want warn", st, out.Status, out.Detail)
		}
	}
	stub.SetClusterStatus(dostub.OxyClusterID, "online")

	cases := []struct{ name, token, cluster, want string }{
		{"missing", stub.Token(), "db-valkey-nope", `no database cluster named "db-valkey-nope"`},
		{"missing id", stub.Token(), dostub.UUIDFor("db:gone"), "no database cluster with id"},
		{"other engine", stub.Token(), "db-postgresql-ams3-11234", "is a pg database, not Valkey"},
		{"bad token", "dop_v1_wrong", dostub.OxyClusterName, "401"},
	}
	for _, c := range cases {
		out := doProbe(stub, c.token, c.cluster).Run(ctx)
		if out.Status != Fail || !strings.Contains(out.Detail, c.want) {
			t.Errorf("%s: %s %q, want fail with %q", c.name, out.Status, out.Detail, c.want)
		}
		if strings.Contains(out.Detail, "dop_v1_wrong") || strings.Contains(out.Detail, stub.Token()) {
			t.Errorf("%s: token in detail %q", c.name, out.Detail)
		}
	}

	// No token at all is a fail too (the command skips it before that).
	out = doProbe(stub, "", dostub.OxyClusterName).Run(ctx)
	if out.Status != Fail || !strings.Contains(out.Detail, "no DigitalOcean token") {
		t.Fatalf("no token: %s %q", out.Status, out.Detail)
	}
}

func TestDOProbeEvents(t *testing.T) {
	t.Parallel()
	stub := dostub.Start(t)
	ctx := context.Background()
	id := dostub.OxyClusterID
	run := func(t *testing.T) (Outcome, *DOData) {
		t.Helper()
		out := doProbe(stub, stub.Token(), dostub.OxyClusterName).Run(ctx)
		t.Logf("%s: %s", out.Status, out.Detail)
		return out, out.Data.(*DOData)
	}

	// The stand-in's default log (create, maintenance, failover) is older than 24 h.
	out, d := run(t)
	if out.Status != OK || len(d.Events) != 0 || d.EventsError != "" {
		t.Fatalf("old events: %s %q %+v", out.Status, out.Detail, d.Events)
	}
	// The plan's cap: db-s-1vcpu-1gb has 1 GiB, 4 × 1024 < 10000.
	if d.MemoryMiB != 1024 || d.ConnectionCap != 10000 {
		t.Fatalf("memory %d MiB, cap %d", d.MemoryMiB, d.ConnectionCap)
	}

	promoted := doNow.Add(-3*time.Hour - 20*time.Minute)
	updated := doNow.Add(-5 * time.Hour)
	stub.SetEvents(id, []dostub.Event{
		{ID: "ev1", Type: "cluster_create", Time: doNow.Add(-30 * 24 * time.Hour)},
		{ID: "ev2", Type: "cluster_update", Time: updated},
		{ID: "ev3", Type: "cluster_master_promotion", Time: promoted},
	})
	out, d = run(t)
	want := "failover (a standby was promoted to primary) at " + promoted.Format(time.RFC3339) + " (3 hours ago): connections were dropped and the script cache is empty"
	if out.Status != Warn || !strings.HasPrefix(out.Detail, want) {
		t.Fatalf("failover 3 h ago: %s %q, want warn starting %q", out.Status, out.Detail, want)
	}
	wantEvents := []DOEvent{{"cluster_master_promotion", promoted.Format(time.RFC3339)}, {"cluster_update", updated.Format(time.RFC3339)}}
	if len(d.Events) != 2 || d.Events[0] != wantEvents[0] || d.Events[1] != wantEvents[1] {
		t.Fatalf("events %+v, want %+v (the last 24 h, newest first)", d.Events, wantEvents)
	}

	// One just older than 24 h is history.
	stub.SetEvents(id, []dostub.Event{{ID: "ev4", Type: "cluster_master_promotion", Time: doNow.Add(-24*time.Hour - time.Minute)}})
	if out, d := run(t); out.Status != OK || len(d.Events) != 0 {
		t.Fatalf("failover 24 h 1 min ago: %s %q %+v", out.Status, out.Detail, d.Events)
	}

	// Maintenance performed 40 minutes ago.
	maint := doNow.Add(-40 * time.Minute)
	stub.SetEvents(id, []dostub.Event{{ID: "ev5", Type: "cluster_maintenance_perform", Time: maint}})
	if out, _ := run(t); out.Status != Warn || !strings.Contains(out.Detail, "maintenance performed at "+maint.Format(time.RFC3339)+" (40 minutes ago): connections may have been dropped") {
		t.Fatalf("maintenance: %s %q", out.Status, out.Detail)
	}
	stub.SetEvents(id, nil)

	// A pending maintenance is named; it does not warn (health --strict
	// would fail whenever DigitalOcean schedules one).
	stub.SetPendingMaintenance(id, "Update TLS certificate", "Minor version upgrade")
	out, _ = run(t)
	if want := "db-valkey-ams3-04785 online: valkey 8, db-s-1vcpu-1gb, 1 node, ams3, maintenance sunday 03:00:00; maintenance pending for the window sunday 03:00:00: Update TLS certificate; Minor version upgrade"; out.Status != OK || out.Detail != want {
		t.Fatalf("pending: %s %q, want ok %q", out.Status, out.Detail, want)
	}
	stub.SetPendingMaintenance(id)

	// The event log cannot be read: a note, the rest is still judged.
	stub.Inject(dostub.Fault{Op: "databases_list_events_logs", Status: 500})
	out, d = run(t)
	if out.Status != OK || !strings.Contains(out.Detail, "db-valkey-ams3-04785 online") || !strings.Contains(out.Detail, "could not read the events: ") || !strings.Contains(out.Detail, "500") {
		t.Fatalf("events error: %s %q", out.Status, out.Detail)
	}
	if d.EventsError == "" || d.ID != dostub.OxyClusterID || len(d.Events) != 0 {
		t.Fatalf("events error: data %+v", d)
	}
	stub.ClearFaults()
	if v := stub.Violations(); len(v) != 0 {
		t.Fatalf("spec violations: %v", v)
	}
}
