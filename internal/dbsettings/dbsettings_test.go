package dbsettings

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/doapi"
)

func node(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func TestFromNode(t *testing.T) {
	d, err := FromNode(node(t, "maxmemory_policy: allkeys-lru\npubsub_client_output_buffer_limit: 64\ntimeout: 0\nssl: true\nnotify_keyspace_events: \"\"\n"), "c.yaml")
	if err != nil || len(d) != 5 || d[0].Value != "allkeys_lru" || d[1].Value != int64(64) || d[3].Value != true || d[4].Value != "" {
		t.Fatalf("%+v %v", d, err)
	}
	if d2, _ := FromNode(node(t, "maxmemory_policy: allkeys_lru\n"), "c.yaml"); d2[0].Value != "allkeys_lru" {
		t.Fatal("underscore spelling")
	}
	for src, want := range map[string]string{
		"maxmemory: 1\n":                              `c.yaml:1: unknown key "maxmemory"`,
		"timeout: soon\n":                             "c.yaml:1: timeout must be an integer",
		"pubsub_client_output_buffer_limit: 16\n":     "between 32 and 512",
		"maxmemory_policy: allkeys-lfu\n":             "maxmemory_policy must be one of",
		"ssl: yes please\n":                           "ssl must be true or false",
		"timeout: 1\ntimeout: 2\n":                    "c.yaml:2: timeout is given twice",
		"notify_keyspace_events: Kx!\n":               "may hold only",
		"number_of_databases: [1]\n":                  "must be a integer",
		"- timeout\n":                                 "must be a mapping",
		"persistence: aof\n":                          "persistence must be one of off, rdb",
		"pubsub_client_output_buffer_limit: \"64\"\n": "must be an integer",
	} {
		_, err := FromNode(node(t, src), "c.yaml")
		if code, _ := apperr.Classify(err); code != 2 || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
}

func TestAuditPlanVerify(t *testing.T) {
	decl, err := FromNode(node(t, "maxmemory_policy: noeviction\npubsub_client_output_buffer_limit: 64\ntimeout: 0\nnumber_of_databases: 16\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cur := Current(doapi.Config{"valkey_pubsub_client_output_buffer_limit": float64(32), "valkey_timeout": float64(300),
		"valkey_number_of_databases": float64(16), "valkey_maxmemory_policy": "noeviction", "valkey_ssl": true}, "allkeys_lru")
	rep := Audit(decl, cur)
	kinds := []string{}
	for _, f := range rep.Findings {
		kinds = append(kinds, f.Severity+":"+f.Kind+":"+f.Setting)
	}
	want := "error:drift:maxmemory_policy,error:drift:pubsub_client_output_buffer_limit,error:drift:timeout,warning:evicts_counters:maxmemory_policy,warning:pubsub_minimum:pubsub_client_output_buffer_limit"
	if rep.OK || strings.Join(kinds, ",") != want {
		t.Fatalf("%v", kinds)
	}
	if rep.Findings[0].Message != "maxmemory_policy is allkeys-lru, declared noeviction at c.yaml:1" {
		t.Fatal(rep.Findings[0].Message)
	}
	p := MakePlan(decl, cur)
	if len(p.Changes) != 3 || p.EvictionPolicy() != "noeviction" || len(p.Patch()) != 2 ||
		p.Patch()["valkey_timeout"] != int64(0) || p.Patch()["valkey_pubsub_client_output_buffer_limit"] != int64(64) {
		t.Fatalf("%+v %v", p.Changes, p.Patch())
	}
	if len(p.Restarting()) != 0 {
		t.Fatal("number_of_databases did not change")
	}
	after := map[string]any{MaxmemoryPolicy: "noeviction", PubsubLimit: int64(64), "timeout": int64(300)}
	if d := Verify(p, after); len(d) != 1 || d[0] != "timeout reads back as 300, want 0" {
		t.Fatalf("%v", d)
	}
	decl2, _ := FromNode(node(t, "number_of_databases: 32\n"), "c.yaml")
	if p2 := MakePlan(decl2, cur); len(p2.Restarting()) != 1 || len(p2.Without(map[string]bool{"number_of_databases": true}).Changes) != 0 {
		t.Fatalf("%+v", p2)
	}
	// Backups round-trip through FromBackup; a foreign key is refused.
	if d, err := FromBackup(map[string]any{"timeout": float64(300), MaxmemoryPolicy: "allkeys_lru"}, "b.json"); err != nil || len(d) != 2 {
		t.Fatalf("%v %v", d, err)
	}
	if _, err := FromBackup(map[string]any{"sql_mode": "x"}, "b.json"); err == nil {
		t.Fatal("want an error")
	}
}
