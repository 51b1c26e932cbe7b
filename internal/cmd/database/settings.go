package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/backup"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/dbsettings"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/userfile"
)

const settingsLong = `The managed Valkey settings as code. The current values come from the
DigitalOcean API (GET /v2/databases/{id}/config and /eviction_policy: CONFIG is
refused on the server); the declared ones from the context's database.settings
(or a --policy file with a top-level database: settings: block), with the
names of Terraform's digitalocean_database_valkey_config:

  database:
    settings:
      maxmemory_policy: noeviction              # or allkeys-lru / allkeys_lru, volatile-lru, ...
      pubsub_client_output_buffer_limit: 64     # MiB, hard limit (soft = 1/4); 32-512
      timeout: 0                                # idle seconds before a client is closed
      notify_keyspace_events: ""
      persistence: rdb                          # or off
      io_threads: 1
      number_of_databases: 16                   # changing it restarts the cluster
      lfu_log_factor / lfu_decay_time / ssl / acl_channels_default /
      frequent_snapshots / active_expire_effort

A setting the context does not declare is shown, never changed. audit (the
default verb) reports a declared value that differs as drift (error, exit 1),
and warns of risks whatever is declared: an allkeys-* policy evicts rate-limit
counters (a client's limit silently lifts), and a pub/sub buffer limit at its
minimum cuts off a Socket.IO adapter that falls behind.

JSON: {"cluster":{"id","name"},"ok","settings":[{"name","current","declared",
"drift"}],"findings":[{"severity","kind","setting","message"}]}.
`

type settingsOptions struct {
	clusterOptions
	Format     output.Format
	PolicyFile string
}

// NewCmdSettings builds `database settings` (audit when run alone) with its
// verbs audit, apply and restore.
func NewCmdSettings(f *cmdutil.Factory) *cobra.Command {
	opts := &settingsOptions{clusterOptions: newClusterOptions(f)}
	cmd := &cobra.Command{
		Use:     "settings [audit] [--policy FILE]",
		Short:   "Valkey settings as code: audit (default), apply, restore",
		Long:    settingsLong + exitStatus,
		Example: "$ oxyctl database settings\n$ oxyctl database settings apply --dry-run\n$ oxyctl database settings -o json | jq '.findings'\n",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			return settingsAuditRun(cmd.Context(), opts)
		},
	}
	cmdutil.FileFlag(cmd, &opts.PolicyFile, "policy", "file with a top-level database: settings: block (default: the context's)")
	cmd.AddCommand(NewCmdSettingsAudit(f, nil), NewCmdSettingsApply(f, nil), NewCmdSettingsRestore(f, nil))
	return cmd
}

// NewCmdSettingsAudit builds `database settings audit`.
func NewCmdSettingsAudit(f *cmdutil.Factory, runF func(context.Context, *settingsOptions) error) *cobra.Command {
	opts := &settingsOptions{clusterOptions: newClusterOptions(f)}
	cmd := &cobra.Command{
		Use:     "audit [--policy FILE]",
		Short:   "Compare the declared Valkey settings with the cluster's; warn of risks",
		Long:    settingsLong + exitStatus,
		Example: "$ oxyctl database settings audit\n$ oxyctl database settings audit --policy deploy/valkey.yaml -o json\n",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return settingsAuditRun(cmd.Context(), opts)
		},
	}
	cmdutil.FileFlag(cmd, &opts.PolicyFile, "policy", "file with a top-level database: settings: block (default: the context's)")
	return cmd
}

// declared reads --policy FILE or the context's block.
func (c *clusterOptions) declared(file string) ([]dbsettings.Declared, string, error) {
	if file != "" {
		data, err := userfile.Read(file, 1<<20)
		if err != nil {
			return nil, "", apperr.Configf("cannot read settings file %s: %s", file, err)
		}
		n, err := settingsNode(data, file)
		if err != nil {
			return nil, "", err
		}
		d, err := dbsettings.FromNode(n, file)
		return d, file, err
	}
	n, path, err := c.ContextSettings()
	if err != nil {
		return nil, "", err
	}
	d, err := dbsettings.FromNode(n, path)
	return d, path, err
}

// settingsNode finds database.settings in a file; other keys are errors.
func settingsNode(data []byte, file string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, apperr.Configf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, apperr.Configf("%s: want a top-level database: settings: block", file)
	}
	top := doc.Content[0]
	var out *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value != "database" || v.Kind != yaml.MappingNode {
			return nil, apperr.Configf("%s:%d: unknown key %q at the top level (want database: settings:)", file, k.Line, k.Value)
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			if v.Content[j].Value != "settings" {
				return nil, apperr.Configf("%s:%d: unknown key %q under database (want settings)", file, v.Content[j].Line, v.Content[j].Value)
			}
			out = v.Content[j+1]
		}
	}
	if out == nil {
		return nil, apperr.Configf("%s: no database: settings: block", file)
	}
	return out, nil
}

// current reads the cluster's values.
func current(ctx context.Context, api API, cl *doapi.Cluster) (map[string]any, error) {
	cfg, err := api.GetConfig(ctx, cl.ID)
	if err != nil {
		return nil, err
	}
	pol, err := api.EvictionPolicy(ctx, cl.ID)
	if err != nil {
		return nil, err
	}
	return dbsettings.Current(cfg, pol), nil
}

type settingsResult struct {
	Cluster  clusterRef           `json:"cluster"`
	OK       bool                 `json:"ok"`
	Settings []dbsettings.Row     `json:"settings"`
	Findings []dbsettings.Finding `json:"findings"`
}

func settingsAuditRun(ctx context.Context, opts *settingsOptions) error {
	decl, from, err := opts.declared(opts.PolicyFile)
	if err != nil {
		return err
	}
	api, cl, err := opts.cluster(ctx)
	if err != nil {
		return err
	}
	if err := valkeyOnly(cl); err != nil {
		return err
	}
	cur, err := current(ctx, api, cl)
	if err != nil {
		return err
	}
	rep := dbsettings.Audit(decl, cur)
	res := settingsResult{Cluster: clusterRef{ID: cl.ID, Name: cl.Name}, OK: rep.OK, Settings: rep.Settings, Findings: rep.Findings}
	err = output.Print(opts.IO, opts.Format, res, func(w io.Writer, th *output.Theme) error {
		src := "none declared"
		if len(decl) > 0 {
			src = fmt.Sprintf("%s declared in %s", plural(len(decl), "setting"), from)
		}
		fmt.Fprintf(w, "Settings of %s (%s): %s\n", cl.Name, cl.Engine, src)
		rows := make([][]string, 0, len(res.Settings))
		for _, r := range res.Settings {
			d, state := "-", ""
			if r.Declared != nil {
				d, state = dbsettings.Show(r.Name, r.Declared), "ok"
			}
			if r.Drift {
				state = "DRIFT"
			}
			if r.Restarts {
				state = strings.TrimSpace(state + " (restarts)")
			}
			rows = append(rows, []string{r.Name, dbsettings.Show(r.Name, r.Current), d, state})
		}
		out := th.Table([]string{"SETTING", "CURRENT", "DECLARED", ""}, rows)
		fmt.Fprint(w, out)
		if !strings.HasSuffix(out, "\n") {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
		if len(res.Findings) == 0 {
			fmt.Fprintf(w, "%s the settings match the declaration\n", th.Status("ok"))
			return nil
		}
		for _, f := range res.Findings {
			fmt.Fprintf(w, "%s %s: %s\n", th.Status(f.Severity), f.Kind, f.Message)
		}
		if !res.OK {
			fmt.Fprintf(w, "%s the settings drift from the declaration (`oxyctl database settings apply` shows the fix)\n", th.Status("fail"))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !rep.OK {
		return &apperr.FindingsError{}
	}
	return nil
}

type applyOptions struct {
	clusterOptions
	Format     output.Format
	PolicyFile string
	DryRun     bool
	Yes        bool
}

type changeJSON struct {
	Name     string `json:"name"`
	From     any    `json:"from"`
	To       any    `json:"to"`
	Restarts bool   `json:"restarts"`
}

type applyResult struct {
	Cluster clusterRef   `json:"cluster"`
	DryRun  bool         `json:"dry_run"`
	Changed bool         `json:"changed"`
	Changes []changeJSON `json:"changes"`
	// Skipped are restarting changes declined at the prompt.
	Skipped  []changeJSON   `json:"skipped"`
	Settings map[string]any `json:"settings"`
	Backup   string         `json:"backup,omitempty"`
}

const applyLong = `Make the cluster's Valkey settings equal to the declared ones. The plan comes
first, one line per setting that changes; a setting that restarts the cluster
(number_of_databases) is called out. Then apply asks to go ahead (on a
terminal it asks for a restarting setting separately, and leaves it out if
declined); with no terminal it needs --yes. --dry-run prints the plan only.

The current values are saved first to
$XDG_STATE_HOME/oxyctl/backups/<cluster>/<UTC time>-settings.json (default
~/.local/state; directory 0700, file 0600; the path is printed on stderr and
returned as "backup"); 'oxyctl database settings restore FILE' brings them
back. Then one PATCH /config holds only the changed keys, and the eviction
policy goes in its own PUT /eviction_policy. Everything is read back: a value
that did not take is exit 1. A 429 is retried within --timeout.

JSON: {"cluster":{"id","name"},"dry_run","changed","changes":[{"name","from",
"to","restarts"}],"skipped":[...],"settings":{...},"backup"}.
`

// NewCmdSettingsApply builds `database settings apply`.
func NewCmdSettingsApply(f *cmdutil.Factory, runF func(context.Context, *applyOptions) error) *cobra.Command {
	opts := &applyOptions{clusterOptions: newClusterOptions(f)}
	cmd := &cobra.Command{
		Use:     "apply [--policy FILE] [--dry-run] [--yes]",
		Short:   "Make the Valkey settings equal to the declared ones (PATCH of the changed keys)",
		Long:    applyLong + exitStatus,
		Example: "$ oxyctl database settings apply --dry-run\n$ oxyctl database settings apply --yes -o json\n",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return settingsApplyRun(cmd.Context(), opts)
		},
	}
	cmdutil.FileFlag(cmd, &opts.PolicyFile, "policy", "file with a top-level database: settings: block (default: the context's)")
	cmdutil.WriteFlags(cmd, &opts.DryRun, &opts.Yes)
	return cmd
}

func settingsApplyRun(ctx context.Context, opts *applyOptions) error {
	decl, _, err := opts.declared(opts.PolicyFile)
	if err != nil {
		return err
	}
	if len(decl) == 0 {
		return &apperr.ConfigError{Err: errors.New("no settings are declared: the context has no database.settings"),
			Hint: "add database.settings to the context, or pass --policy FILE"}
	}
	return opts.writeSettings(ctx, decl, writeFlags{dryRun: opts.DryRun, yes: opts.Yes, format: opts.Format}, "database settings apply", nil)
}

type writeFlags struct {
	dryRun, yes bool
	format      output.Format
}

// writeSettings plans decl against the cluster, confirms, saves a backup,
// writes (PATCH, PUT) and reads back. from, when set, is the backup being
// restored: it must be of this cluster.
func (c *clusterOptions) writeSettings(ctx context.Context, decl []dbsettings.Declared, wf writeFlags, command string, from *restoreFrom) error {
	api, cl, err := c.cluster(ctx)
	if err != nil {
		return err
	}
	fromFile := ""
	if from != nil {
		fromFile = from.file
		if !strings.EqualFold(cl.ID, from.cluster.ID) {
			return &apperr.ConfigError{
				Err: fmt.Errorf("%s is a backup of cluster %s (%s), not of %s (%s); nothing was changed",
					from.file, from.cluster.Name, from.cluster.ID, cl.Name, cl.ID),
				Hint: "pass --cluster " + from.cluster.ID + " to restore it where it came from",
			}
		}
	}
	if err := valkeyOnly(cl); err != nil {
		return err
	}
	cur, err := current(ctx, api, cl)
	if err != nil {
		return err
	}
	plan := dbsettings.MakePlan(decl, cur)
	res := applyResult{Cluster: clusterRef{ID: cl.ID, Name: cl.Name}, DryRun: wf.dryRun, Changes: []changeJSON{}, Skipped: []changeJSON{}, Settings: cur}
	ios := c.IO
	th := output.NewTheme(ios)
	planOut := ios.Out
	if wf.format == output.JSON {
		planOut, th.TTY = ios.ErrOut, ios.IsStderrTTY()
	}
	title := "Plan for the settings of " + cl.Name
	if fromFile != "" {
		title = fmt.Sprintf("Plan to restore the settings of %s from %s", cl.Name, fromFile)
	}
	fmt.Fprintf(planOut, "%s: %s\n", title, plural(len(plan.Changes), "change"))
	for _, ch := range plan.Changes {
		note := ""
		if ch.Restarts {
			note = "  RESTARTS THE CLUSTER (connections drop)"
		}
		via := "PATCH /config"
		if ch.Name == dbsettings.MaxmemoryPolicy {
			via = "PUT /eviction_policy"
		}
		fmt.Fprintf(planOut, "  ~ %s: %s -> %s  (%s)%s\n", ch.Name, dbsettings.Show(ch.Name, ch.From), dbsettings.Show(ch.Name, ch.To), via, note)
	}
	toJSON := func(ch dbsettings.Change) changeJSON {
		return changeJSON{Name: ch.Name, From: ch.From, To: ch.To, Restarts: ch.Restarts}
	}
	if plan.Empty() || wf.dryRun {
		for _, ch := range plan.Changes {
			res.Changes = append(res.Changes, toJSON(ch))
		}
		return output.Print(ios, wf.format, res, func(w io.Writer, th *output.Theme) error {
			if plan.Empty() {
				fmt.Fprintf(w, "%s nothing to do: the settings already match\n", th.Status("ok"))
			} else {
				fmt.Fprintln(w, "dry run: nothing was changed")
			}
			return nil
		})
	}
	if !wf.yes {
		if !ios.CanPrompt() {
			return &apperr.UsageError{Err: errors.New("refusing to change the settings without confirmation: there is no terminal to ask on; nothing was changed (pass --yes to go ahead, or --dry-run to only look)")}
		}
		skip := map[string]bool{}
		for _, ch := range plan.Restarting() {
			ok, err := ios.Confirm(ctx, fmt.Sprintf("%s %s -> %s RESTARTS %s (every connection drops). Include it?", ch.Name,
				dbsettings.Show(ch.Name, ch.From), dbsettings.Show(ch.Name, ch.To), cl.Name))
			if err != nil {
				return err
			}
			if !ok {
				skip[ch.Name] = true
				res.Skipped = append(res.Skipped, toJSON(ch))
			}
		}
		plan = plan.Without(skip)
		if plan.Empty() {
			return apperr.Usagef("nothing left to change; nothing was changed")
		}
		ok, err := ios.Confirm(ctx, fmt.Sprintf("Change %s of %s?", plural(len(plan.Changes), "setting"), cl.Name))
		if err != nil {
			return err
		}
		if !ok {
			return apperr.Usagef("%s cancelled; nothing was changed", command)
		}
	}
	for _, ch := range plan.Changes {
		res.Changes = append(res.Changes, toJSON(ch))
	}
	path, err := backup.SaveBefore(c.BackupDir, &backup.File{Kind: backup.Settings, Command: command,
		Cluster: backup.Cluster{ID: cl.ID, Name: cl.Name}, Time: c.Now(), Settings: cur})
	if err != nil {
		return err
	}
	res.Backup = path
	fmt.Fprintf(ios.ErrOut, "backup: the settings of %s as they were are saved in %s\n", cl.Name, path)
	const restoreCmd = "oxyctl database settings restore"
	if patch := plan.Patch(); len(patch) > 0 {
		if err := api.PatchConfig(ctx, cl.ID, patch); err != nil {
			return backup.FailedAfter(err, path, restoreCmd)
		}
		res.Changed = true
	}
	if p := plan.EvictionPolicy(); p != "" {
		if err := api.PutEvictionPolicy(ctx, cl.ID, p); err != nil {
			return backup.FailedAfter(err, path, restoreCmd)
		}
		res.Changed = true
	}
	after, err := current(ctx, api, cl)
	if err != nil {
		return backup.FailedAfter(fmt.Errorf("the settings were written but could not be read back: %w", err), path, restoreCmd)
	}
	res.Settings = after
	diffs := dbsettings.Verify(plan, after)
	err = output.Print(ios, wf.format, res, func(w io.Writer, th *output.Theme) error {
		if len(diffs) > 0 {
			fmt.Fprintf(w, "%s written, but %d of %s read back otherwise: %s\n", th.Status("fail"), len(diffs), plural(len(plan.Changes), "setting"), strings.Join(diffs, "; "))
			return nil
		}
		fmt.Fprintf(w, "%s %s: %s changed; read back as planned\n", th.Status("ok"), strings.TrimPrefix(command, "database settings "), plural(len(plan.Changes), "setting"))
		return nil
	})
	if err != nil {
		return err
	}
	if len(diffs) > 0 {
		return backup.FailedAfter(&apperr.FindingsError{Msg: "the settings were written but read back otherwise: " + strings.Join(diffs, "; ")}, path, restoreCmd)
	}
	return nil
}

type restoreOptions struct {
	clusterOptions
	Format output.Format
	File   string
	DryRun bool
	Yes    bool
}

const restoreLong = `Put back the settings a backup holds: the file that settings apply or
restore saved before writing (its path was printed on stderr and returned as
"backup"; they live in $XDG_STATE_HOME/oxyctl/backups/<cluster>/, default
~/.local/state). The plan comes first, then restore asks (or needs --yes),
saves the current values as a new backup, PATCHes the keys that differ, PUTs
the eviction policy if it differs, and reads back (a value that did not take
is exit 1). A file that is not an oxyctl settings backup of this cluster is
refused (exit 2).
`

// NewCmdSettingsRestore builds `database settings restore`.
func NewCmdSettingsRestore(f *cmdutil.Factory, runF func(context.Context, *restoreOptions) error) *cobra.Command {
	opts := &restoreOptions{clusterOptions: newClusterOptions(f)}
	cmd := &cobra.Command{
		Use:     "restore FILE [--dry-run] [--yes]",
		Short:   "Put back the Valkey settings saved in a backup",
		Long:    restoreLong + exitStatus,
		Example: "$ oxyctl database settings restore ~/.local/state/oxyctl/backups/db-valkey-ams3-04785/20261130T144500Z-settings.json --dry-run\n",
		Args:    cmdutil.ExactArgs(1, "restore takes the backup file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			opts.File = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return settingsRestoreRun(cmd.Context(), opts)
		},
	}
	cmdutil.WriteFlags(cmd, &opts.DryRun, &opts.Yes)
	return cmd
}

func settingsRestoreRun(ctx context.Context, opts *restoreOptions) error {
	b, err := backup.Load(opts.File, backup.Settings)
	if err != nil {
		return err
	}
	decl, err := dbsettings.FromBackup(b.Settings, opts.File)
	if err != nil {
		return err
	}
	return opts.writeSettings(ctx, decl, writeFlags{dryRun: opts.DryRun, yes: opts.Yes, format: opts.Format}, "database settings restore",
		&restoreFrom{file: opts.File, cluster: b.Cluster})
}

type restoreFrom struct {
	file    string
	cluster backup.Cluster
}
