package probe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
)

func doProbe(stub *dostub.Server, token, cluster string) *DOProbe {
	return &DOProbe{Cluster: cluster, Client: func(context.Context) (ClusterFinder, error) {
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
