package doapi

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/oxyhq/oxyctl/internal/standin/dostub"
)

// The settings, events and CA endpoints against the spec-checked stand-in:
// field names as the spec has them, only the sent keys change, faults.
func TestDatabaseSettingsEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	id := dostub.OxyClusterID

	cfg, err := e.c.GetConfig(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if cfg["valkey_timeout"] != float64(300) || cfg["valkey_maxmemory_policy"] != "noeviction" {
		t.Fatalf("config %v", cfg)
	}
	if err := e.c.PatchConfig(ctx, id, Config{"valkey_pubsub_client_output_buffer_limit": 64}); err != nil {
		t.Fatal(err)
	}
	p := e.stub.Patches()
	if len(p) != 1 || strings.TrimSpace(string(p[0].Body)) != `{"config":{"valkey_pubsub_client_output_buffer_limit":64}}` {
		t.Fatalf("patches %v", p)
	}
	if got := e.stub.Config(id); got["valkey_pubsub_client_output_buffer_limit"] != float64(64) || got["valkey_timeout"] != float64(300) {
		t.Fatalf("after patch %v", got)
	}
	// A key of another engine is refused by the stand-in as by the API.
	if err := e.c.PatchConfig(ctx, id, Config{"sql_mode": "ANSI"}); err == nil {
		t.Fatal("want a 422")
	}

	pol, err := e.c.EvictionPolicy(ctx, id)
	if err != nil || pol != "noeviction" {
		t.Fatalf("%q %v", pol, err)
	}
	if err := e.c.PutEvictionPolicy(ctx, id, "allkeys_lru"); err != nil {
		t.Fatal(err)
	}
	if pol, _ := e.c.EvictionPolicy(ctx, id); pol != "allkeys_lru" {
		t.Fatalf("policy %q", pol)
	}
	if puts := e.stub.EvictionPuts(); len(puts) != 1 || strings.TrimSpace(string(puts[0].Body)) != `{"eviction_policy":"allkeys_lru"}` {
		t.Fatalf("puts %v", puts)
	}
	if err := e.c.PutEvictionPolicy(ctx, id, "allkeys-lru"); err == nil || len(e.stub.EvictionPuts()) != 1 {
		t.Fatal("a dash spelling must be refused before any request")
	}

	evs, err := e.c.Events(ctx, id)
	if err != nil || len(evs) != 3 || evs[0].Type != "cluster_master_promotion" || evs[2].Type != "cluster_create" {
		t.Fatalf("%v %v", evs, err)
	}

	ca, err := e.c.CA(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(ca); b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("not PEM: %q", ca)
	}

	// A 429 is retried; a 404 wraps ErrNotFound; a 200 without the key is an API fault.
	e.stub.Inject(dostub.Fault{Op: "databases_patch_config", Status: 429, Headers: map[string]string{"retry-after": "0"}, Times: 1})
	if err := e.c.PatchConfig(ctx, id, Config{"valkey_timeout": 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.GetConfig(ctx, dostub.UUIDFor("db:nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("%v", err)
	}
	e.stub.Inject(dostub.Fault{Op: "databases_get_evictionPolicy", Malformed: true, Times: 1})
	if _, err := e.c.EvictionPolicy(ctx, id); err == nil {
		t.Fatal("want an error for a malformed answer")
	} else {
		noToken(t, err, e.stub.Token())
	}
	if b, _ := json.Marshal(e.stub.Config(id)); len(b) == 0 {
		t.Fatal("no config")
	}
}
