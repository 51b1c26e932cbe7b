package database

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/backup"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

type env struct {
	t               *testing.T
	stub            *dostub.Server
	c               clusterOptions
	ios             *iostreams.IOStreams
	in, out, errOut *bytes.Buffer
	backups         string
	settings        string // the context's database.settings block (YAML)
	wrap            func(API) API
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, stub: dostub.Start(t), backups: filepath.Join(t.TempDir(), "state", "oxyctl", "backups")}
	e.ios, e.in, e.out, e.errOut = iostreams.Test()
	e.c = clusterOptions{
		IO:        e.ios,
		Now:       clitest.FixedNow,
		BackupDir: func() (string, error) { return e.backups, nil },
		Client: func(ctx context.Context) (API, error) {
			c, err := doapi.New(doapi.Options{BaseURL: e.stub.URL, Token: e.stub.Token(), Timeout: 5 * time.Second,
				RetryMax: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond})
			if err != nil {
				return nil, err
			}
			if e.wrap != nil {
				return e.wrap(c), nil
			}
			return c, nil
		},
		Cluster: func() (string, error) { return dostub.OxyClusterName, nil },
		ContextSettings: func() (*yaml.Node, string, error) {
			if e.settings == "" {
				return nil, "config.yaml", nil
			}
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(e.settings), &doc); err != nil {
				return nil, "", err
			}
			return doc.Content[0], "config.yaml", nil
		},
	}
	t.Cleanup(func() {
		all := e.out.String() + e.errOut.String()
		for _, f := range e.backupFiles() {
			b, _ := os.ReadFile(f)
			all += string(b)
		}
		if strings.Contains(all, e.stub.Token()) {
			t.Error("the token shows in the output or a backup")
		}
	})
	return e
}

func (e *env) reset() { e.out.Reset(); e.errOut.Reset(); e.in.Reset() }

func (e *env) backupFiles() []string {
	var out []string
	filepath.WalkDir(e.backups, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func code(err error) int { c, _ := apperr.Classify(err); return c }

const declared = `maxmemory_policy: allkeys-lru
pubsub_client_output_buffer_limit: 64
timeout: 0
number_of_databases: 16
`

func TestNewCmds(t *testing.T) {
	for _, tc := range []struct {
		build func(f *cmdutil.Factory) *cobra.Command
		args  []string
		ok    bool
	}{
		{func(f *cmdutil.Factory) *cobra.Command {
			return NewCmdSettingsAudit(f, func(context.Context, *settingsOptions) error { return nil })
		}, []string{"--policy", "p.yaml"}, true},
		{func(f *cmdutil.Factory) *cobra.Command {
			return NewCmdSettingsAudit(f, func(context.Context, *settingsOptions) error { return nil })
		}, []string{"--policy", ""}, false},
		{func(f *cmdutil.Factory) *cobra.Command {
			return NewCmdSettingsApply(f, func(context.Context, *applyOptions) error { return nil })
		}, []string{"--dry-run", "--yes"}, true},
		{func(f *cmdutil.Factory) *cobra.Command {
			return NewCmdSettingsApply(f, func(context.Context, *applyOptions) error { return nil })
		}, []string{"x"}, false},
		{func(f *cmdutil.Factory) *cobra.Command {
			return NewCmdSettingsRestore(f, func(context.Context, *restoreOptions) error { return nil })
		}, []string{"b.json"}, true},
		{func(f *cmdutil.Factory) *cobra.Command {
			return NewCmdSettingsRestore(f, func(context.Context, *restoreOptions) error { return nil })
		}, nil, false},
		{func(f *cmdutil.Factory) *cobra.Command {
			return NewCmdEvents(f, func(context.Context, *eventsOptions) error { return nil })
		}, []string{"--since", "24h"}, true},
		{func(f *cmdutil.Factory) *cobra.Command {
			return NewCmdEvents(f, func(context.Context, *eventsOptions) error { return nil })
		}, []string{"--since", "-1h"}, false},
		{func(f *cmdutil.Factory) *cobra.Command {
			return NewCmdCA(f, func(context.Context, *caOptions) error { return nil })
		}, []string{"--file", "ca.crt", "--force"}, true},
		{func(f *cmdutil.Factory) *cobra.Command {
			return NewCmdCA(f, func(context.Context, *caOptions) error { return nil })
		}, []string{"--force"}, false},
	} {
		err := clitest.ParseCmd(t, tc.build, tc.args)
		if tc.ok != (err == nil) || (err != nil && !clitest.IsUsage(err)) {
			t.Errorf("%v: %v", tc.args, err)
		}
	}
}

func TestSettingsAuditApplyRestore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.settings = declared
	before := e.stub.Config(dostub.OxyClusterID)

	// Drift: exit 1, and the risks.
	err := settingsAuditRun(ctx, &settingsOptions{clusterOptions: e.c, Format: output.JSON})
	if code(err) != 1 {
		t.Fatalf("%v", err)
	}
	var doc struct {
		OK       bool
		Settings []map[string]any
		Findings []map[string]string
	}
	if err := json.Unmarshal(e.out.Bytes(), &doc); err != nil || doc.OK {
		t.Fatalf("%v\n%s", err, e.out)
	}
	kinds := []string{}
	for _, f := range doc.Findings {
		kinds = append(kinds, f["kind"]+":"+f["setting"])
	}
	if strings.Join(kinds, ",") != "drift:maxmemory_policy,drift:pubsub_client_output_buffer_limit,drift:timeout,pubsub_minimum:pubsub_client_output_buffer_limit" {
		t.Fatalf("%v", kinds)
	}

	// apply --yes with a 429 on the PATCH: one PATCH body with only the changed keys, a PUT the spec accepts.
	e.stub.Inject(dostub.Fault{Op: "databases_patch_config", Status: 429, Headers: map[string]string{"retry-after": "0"}, Times: 1})
	e.reset()
	if err := settingsApplyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, Yes: true}); err != nil {
		t.Fatalf("%v (%s)", err, apperr.HintOf(err))
	}
	patches := e.stub.Patches()
	if len(patches) != 2 || patches[0].Status != 429 || patches[1].Status != 200 ||
		strings.TrimSpace(string(patches[1].Body)) != `{"config":{"valkey_pubsub_client_output_buffer_limit":64,"valkey_timeout":0}}` {
		t.Fatalf("patches %+v", patches)
	}
	puts := e.stub.EvictionPuts()
	if len(puts) != 1 || strings.TrimSpace(string(puts[0].Body)) != `{"eviction_policy":"allkeys_lru"}` {
		t.Fatalf("puts %+v", puts)
	}
	wantPlan := "Plan for the settings of db-valkey-ams3-04785: 3 changes\n" +
		"  ~ maxmemory_policy: noeviction -> allkeys-lru  (PUT /eviction_policy)\n" +
		"  ~ pubsub_client_output_buffer_limit: 32 -> 64  (PATCH /config)\n" +
		"  ~ timeout: 300 -> 0  (PATCH /config)\n" +
		"ok apply: 3 settings changed; read back as planned\n"
	if e.out.String() != wantPlan {
		t.Fatalf("stdout:\n%s", e.out)
	}
	files := e.backupFiles()
	if len(files) != 1 || e.errOut.String() != "backup: the settings of db-valkey-ams3-04785 as they were are saved in "+files[0]+"\n" {
		t.Fatalf("%v %q", files, e.errOut)
	}
	for p, mode := range map[string]os.FileMode{files[0]: 0o600, filepath.Dir(files[0]): 0o700, e.backups: 0o700} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != mode {
			t.Fatalf("%s: %v", p, err)
		}
	}
	// Now clean, but allkeys-lru is a risk.
	e.reset()
	noErr := settingsAuditRun(ctx, &settingsOptions{clusterOptions: e.c, Format: output.Text})
	if noErr != nil || !strings.Contains(e.out.String(), "warning evicts_counters: maxmemory_policy allkeys-lru evicts rate-limit counters") {
		t.Fatalf("%v\n%s", noErr, e.out)
	}

	// restore brings the old values back.
	e.reset()
	if err := settingsRestoreRun(ctx, &restoreOptions{clusterOptions: e.c, Format: output.Text, File: files[0], Yes: true}); err != nil {
		t.Fatalf("%v", err)
	}
	after := e.stub.Config(dostub.OxyClusterID)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s = %v after restore, want %v", k, after[k], v)
		}
	}
	if puts := e.stub.EvictionPuts(); strings.TrimSpace(string(puts[len(puts)-1].Body)) != `{"eviction_policy":"noeviction"}` {
		t.Fatalf("%s", puts[len(puts)-1].Body)
	}
	if len(e.backupFiles()) != 2 {
		t.Fatal("restore saved no backup")
	}
	// A firewall backup is not a settings backup.
	fw, _ := backup.Save(t.TempDir(), &backup.File{Kind: backup.Firewall, Cluster: backup.Cluster{ID: dostub.OxyClusterID}, Rules: []doapi.Rule{{Type: "ip_addr", Value: "10.0.0.1"}}})
	if err := settingsRestoreRun(ctx, &restoreOptions{clusterOptions: e.c, Format: output.Text, File: fw, Yes: true}); code(err) != 2 {
		t.Fatalf("%v", err)
	}
}

// lyingReadBack reports the old timeout after a write.
type lyingReadBack struct{ API }

func (l lyingReadBack) GetConfig(ctx context.Context, id string) (doapi.Config, error) {
	c, err := l.API.GetConfig(ctx, id)
	if c != nil {
		c["valkey_timeout"] = float64(300)
	}
	return c, err
}

func TestSettingsApplyReadBackAndRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.settings = "timeout: 0\n"
	e.wrap = func(a API) API { return lyingReadBack{a} }
	err := settingsApplyRun(ctx, &applyOptions{clusterOptions: e.c, Format: output.Text, Yes: true})
	if code(err) != 1 || !strings.Contains(err.Error(), "timeout reads back as 300, want 0") || !strings.Contains(err.Error(), e.backupFiles()[0]) {
		t.Fatalf("%v", err)
	}
	e.wrap = nil

	// No terminal, no --yes: refused after the plan; dry run writes nothing.
	e2 := newEnv(t)
	e2.settings = "number_of_databases: 32\ntimeout: 0\n"
	err = settingsApplyRun(ctx, &applyOptions{clusterOptions: e2.c, Format: output.Text})
	if !clitest.IsUsage(err) || !strings.Contains(e2.out.String(), "number_of_databases: 16 -> 32  (PATCH /config)  RESTARTS THE CLUSTER") {
		t.Fatalf("%v\n%s", err, e2.out)
	}
	e2.reset()
	if err := settingsApplyRun(ctx, &applyOptions{clusterOptions: e2.c, Format: output.JSON, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	// A terminal asks for the restarting setting separately: declined, the rest goes ahead.
	clitest.SetTTY(e2.ios, true)
	e2.reset()
	e2.in.WriteString("n\ny\n")
	if err := settingsApplyRun(ctx, &applyOptions{clusterOptions: e2.c, Format: output.Text}); err != nil {
		t.Fatal(err)
	}
	p := e2.stub.Patches()
	if len(p) != 1 || strings.TrimSpace(string(p[0].Body)) != `{"config":{"valkey_timeout":0}}` ||
		!strings.Contains(e2.errOut.String(), "number_of_databases 16 -> 32 RESTARTS db-valkey-ams3-04785") {
		t.Fatalf("%v\n%s", p, e2.errOut)
	}
	if len(e2.stub.EvictionPuts()) != 0 {
		t.Fatal("an unchanged eviction policy was PUT")
	}

	// Unknown names in the context: exit 2 naming the line.
	e3 := newEnv(t)
	e3.settings = "timeout: 0\nmaxmemory: 1\n"
	if err := settingsAuditRun(ctx, &settingsOptions{clusterOptions: e3.c, Format: output.Text}); code(err) != 2 || !strings.Contains(err.Error(), "config.yaml:2") {
		t.Fatalf("%v", err)
	}
	if len(e3.stub.Requests()) != 0 {
		t.Fatal("asked the API before checking the settings")
	}
}

func TestEventsAndCA(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if err := eventsRun(ctx, &eventsOptions{clusterOptions: e.c, Format: output.Text, Since: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.out.String(), "2026-11-30T09:41:07Z  cluster_master_promotion  failover") || strings.Contains(e.out.String(), "cluster_create") {
		t.Fatalf("%s", e.out)
	}
	e.reset()
	if err := eventsRun(ctx, &eventsOptions{clusterOptions: e.c, Format: output.JSON}); err != nil {
		t.Fatal(err)
	}
	var ev struct{ Events []map[string]string }
	if json.Unmarshal(e.out.Bytes(), &ev) != nil || len(ev.Events) != 3 || ev.Events[0]["type"] != "cluster_master_promotion" {
		t.Fatalf("%s", e.out)
	}

	e.reset()
	if err := caRun(ctx, &caOptions{clusterOptions: e.c, Format: output.Text}); err != nil || e.out.String() != dostub.CAPEM {
		t.Fatalf("%v %q", err, e.out)
	}
	p := filepath.Join(t.TempDir(), "ca.crt")
	e.reset()
	if err := caRun(ctx, &caOptions{clusterOptions: e.c, Format: output.Text, Output: p}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("%v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != dostub.CAPEM {
		t.Fatal("content")
	}
	os.WriteFile(p, []byte("mine"), 0o600)
	if err := caRun(ctx, &caOptions{clusterOptions: e.c, Format: output.Text, Output: p}); code(err) != 2 {
		t.Fatalf("%v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "mine" {
		t.Fatal("overwritten without --force")
	}
	if err := caRun(ctx, &caOptions{clusterOptions: e.c, Format: output.Text, Output: p, Force: true}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != dostub.CAPEM {
		t.Fatal("--force did not replace")
	}
}
