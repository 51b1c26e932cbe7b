package probe

import (
	"context"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// The do and valkey checks both need the cluster: one run builds one
// DigitalOcean client and looks the cluster up by name once (a lookup by
// name lists every cluster), however many checks ask.
func TestFromSettingsLooksTheClusterUpOnce(t *testing.T) {
	stub := dostub.Start(t)
	srv := valkeytest.Start(t, valkeytest.Options{})
	s := &config.Settings{RedisURL: srv.URL, DOToken: stub.Token(), DOAPIURL: stub.URL, Cluster: dostub.OxyClusterName,
		Timeout: 5 * time.Second, Sources: map[string]string{}}
	checks := FromSettings(s, []string{NameValkey, NameDO}, Env{
		ValkeyOptions: func() (valkeyclient.Options, error) {
			return valkeyclient.Options{URL: srv.URL, Timeout: 5 * time.Second}, nil
		},
	})
	rep, err := (&Runner{Timeout: 10 * time.Second}).Run(context.Background(), checks)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		if c.Status != OK {
			t.Fatalf("%s: %s %q", c.Name, c.Status, c.Detail)
		}
	}
	if d := rep.Checks[0].Data.(*ValkeyData); d.PlanCap != 10000 {
		t.Fatalf("the valkey check did not read the plan: %+v", d)
	}
	if n := len(stub.RequestsFor("GET", "databases_list_clusters")); n != 1 {
		t.Fatalf("%d cluster list requests, want 1", n)
	}
}
