package firewall

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/backup"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/policy"
)

type restoreOptions struct {
	clusterOptions
	Format output.Format
	File   string
	DryRun bool
	Yes    bool
}

const restoreLong = `Put back the firewall rules a backup holds: the file that allow, revoke,
apply or restore saved before writing (its path was printed on stderr and
returned as "backup" in JSON; they live in
$XDG_STATE_HOME/oxyctl/backups/<cluster>/, default ~/.local/state).

The backup names its cluster: restore writes to that cluster, and refuses
(exit 2) when --cluster names another one. The plan comes first (+ a rule to
add back, - a rule to remove, ~ a description to put back); then restore asks
(or needs --yes without a terminal), saves the current rules as a new backup,
writes the backup's rules exactly, descriptions included, in one PUT and reads
them back. A file that is not an oxyctl firewall backup is refused (exit 2).

JSON: {"cluster":{"id","name"},"dry_run","changed","add":[...],"remove":[...],
"kept","rules":[...],"backup"}.
`

const restoreExample = `$ ls ~/.local/state/oxyctl/backups/db-valkey-ams3-04785/
$ oxyctl firewall restore ~/.local/state/oxyctl/backups/db-valkey-ams3-04785/20261130T144500Z-firewall.json --dry-run
$ oxyctl firewall restore 20261130T144500Z-firewall.json --yes
`

// NewCmdRestore builds `firewall restore`. runF replaces the run in tests.
func NewCmdRestore(f *cmdutil.Factory, runF func(context.Context, *restoreOptions) error) *cobra.Command {
	opts := &restoreOptions{clusterOptions: newClusterOptions(f)}
	cmd := &cobra.Command{
		Use:     "restore FILE [--dry-run] [--yes]",
		Short:   "Put back the firewall rules saved in a backup",
		Long:    restoreLong + exitStatus,
		Example: restoreExample,
		Args:    cmdutil.ExactArgs(1, "restore takes the backup file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			opts.File = args[0]
			if strings.TrimSpace(opts.File) == "" {
				return apperr.Usagef("restore takes the backup file")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return restoreRun(cmd.Context(), opts)
		},
	}
	cmdutil.WriteFlags(cmd, &opts.DryRun, &opts.Yes)
	return cmd
}

func restoreRun(ctx context.Context, opts *restoreOptions) error {
	b, err := backup.Load(opts.File, backup.Firewall)
	if err != nil {
		return err
	}
	st, err := opts.load(ctx)
	if err != nil {
		return err
	}
	if !strings.EqualFold(st.cluster.ID, b.Cluster.ID) {
		return &apperr.ConfigError{
			Err: fmt.Errorf("%s is a backup of cluster %s (%s), not of %s (%s); nothing was changed",
				opts.File, b.Cluster.Name, b.Cluster.ID, st.cluster.Name, st.cluster.ID),
			Hint: "pass --cluster " + b.Cluster.ID + " to restore it where it came from",
		}
	}
	if err := st.writable(); err != nil {
		return err
	}
	final := make([]doapi.Rule, len(b.Rules))
	for i, r := range b.Rules {
		final[i] = doapi.Rule{Type: r.Type, Value: r.Value, Description: r.Description}
	}
	if len(final) > doapi.MaxRules {
		return apperr.Configf("%s holds %d rules; DigitalOcean allows at most %d", opts.File, len(final), doapi.MaxRules)
	}
	inv, err := st.api.LoadInventory(ctx, policy.Needs(nil, append(append([]doapi.Rule{}, st.rules...), final...)))
	if err != nil {
		return err
	}
	res := applyResult{Cluster: clusterRef{ID: st.cluster.ID, Name: st.cluster.Name}, DryRun: opts.DryRun,
		Add: []change{}, Remove: []change{}}
	nowInfos := policy.Describe(st.rules, inv)
	wantInfos := policy.Describe(final, inv)
	var lines []string
	for i, r := range final {
		var cur *doapi.Rule
		for j := range st.rules {
			if policy.SameRule(st.rules[j], r) {
				cur = &st.rules[j]
				break
			}
		}
		switch {
		case cur == nil:
			res.Add = append(res.Add, change{Type: r.Type, Value: r.Value, Name: wantInfos[i].Name, Description: r.Description})
			lines = append(lines, fmt.Sprintf("  + %s", planLine(r, wantInfos[i].Name, "from the backup")))
		case cur.Description != r.Description:
			res.Kept++
			lines = append(lines, fmt.Sprintf("  ~ %s  description %q -> %q", planLine(r, wantInfos[i].Name, ""), cur.Description, r.Description))
		default:
			res.Kept++
		}
	}
	for i, r := range st.rules {
		in := false
		for _, w := range final {
			in = in || policy.SameRule(r, w)
		}
		if !in {
			res.Remove = append(res.Remove, change{Type: r.Type, Value: r.Value, Name: nowInfos[i].Name, UUID: r.UUID,
				Description: r.Description, Reason: "not in the backup"})
			lines = append(lines, fmt.Sprintf("  - %s", planLine(r, nowInfos[i].Name, "not in the backup")))
		}
	}
	ios := opts.IO
	planOut := ios.Out
	if opts.Format == output.JSON {
		planOut = ios.ErrOut
	}
	fmt.Fprintf(planOut, "Plan to restore the firewall of %s from the backup of %s (%s, %s): %d rules now, %d after\n",
		st.cluster.Name, b.Time.Format("2006-01-02T15:04:05Z07:00"), b.Command, opts.File, len(st.rules), len(final))
	for _, l := range lines {
		fmt.Fprintln(planOut, l)
	}
	if len(lines) == 0 {
		res.Rules = nowInfos
		return output.Print(ios, opts.Format, res, func(w io.Writer, th *output.Theme) error {
			fmt.Fprintf(w, "%s nothing to do: the firewall already holds the backup's rules\n", th.Status("ok"))
			return nil
		})
	}
	return finishWrite(ctx, &opts.clusterOptions, st, inv, final, &res, writeFlags{dryRun: opts.DryRun, yes: opts.Yes, format: opts.Format},
		"firewall restore", fmt.Sprintf("Replace the firewall of %s with the %s of the backup?", st.cluster.Name, plural(len(final), "rule")), nil)
}
