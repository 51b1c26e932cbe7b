package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/doapi"
)

const clusterID = "65b50240-6fca-5a08-b88b-5386644df3ec"

func TestDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if d, _ := Dir(env(map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/h"})); d != "/s/oxyctl/backups" {
		t.Fatal(d)
	}
	// A relative XDG_STATE_HOME is ignored, as the XDG spec says.
	if d, _ := Dir(env(map[string]string{"XDG_STATE_HOME": "rel", "HOME": "/h"})); d != "/h/.local/state/oxyctl/backups" {
		t.Fatal(d)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "oxyctl", "backups")
	now := time.Date(2026, 11, 30, 14, 45, 0, 0, time.UTC)
	f := &File{Kind: Firewall, Cluster: Cluster{ID: clusterID, Name: "db-valkey-ams3-04785"}, Time: now, Command: "firewall allow",
		Rules: []doapi.Rule{{Type: "droplet", Value: "1", Description: "keep me"}}}
	p1, err := Save(dir, f)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "db-valkey-ams3-04785", "20261130T144500Z-firewall.json"); p1 != want {
		t.Fatalf("%s, want %s", p1, want)
	}
	p2, err := Save(dir, f) // same second: a second file, never an overwrite
	if err != nil || p2 == p1 {
		t.Fatalf("%s %v", p2, err)
	}
	for _, p := range []string{p1, filepath.Dir(p1), dir} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o700)
		if !st.IsDir() {
			want = 0o600
		}
		if st.Mode().Perm() != want {
			t.Fatalf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
	got, err := Load(p1, Firewall)
	if err != nil || len(got.Rules) != 1 || got.Rules[0].Description != "keep me" || got.Cluster.ID != clusterID || !got.Time.Equal(now) {
		t.Fatalf("%+v %v", got, err)
	}

	// Refusals: exit 2, naming why.
	other := filepath.Join(t.TempDir(), "x.json")
	for name, body := range map[string]string{
		"other kind":  strings.Replace(mustRead(t, p1), `"kind": "firewall"`, `"kind": "settings"`, 1),
		"not json":    "firewall:\n  allow: []\n",
		"no format":   `{"kind":"firewall","cluster":{"id":"` + clusterID + `"},"rules":[{"type":"droplet","value":"1"}]}`,
		"no rules":    strings.Replace(mustRead(t, p1), `"kind": "firewall"`, `"kind": "firewall", "rules": [], "x": 1`, 1),
		"empty rules": `{"format":"oxyctl-backup/1","kind":"firewall","cluster":{"id":"` + clusterID + `"},"rules":[]}`,
	} {
		os.WriteFile(other, []byte(body), 0o600)
		_, err := Load(other, Firewall)
		if code, _ := apperr.Classify(err); code != 2 || !strings.Contains(err.Error(), "is not an oxyctl firewall backup") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Load(p1, Settings); err == nil || !strings.Contains(err.Error(), "it is a firewall backup") {
		t.Fatalf("%v", err)
	}
	if _, err := Load(filepath.Join(dir, "nope.json"), Firewall); err == nil {
		t.Fatal("want an error")
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
