package firewall

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/policy"
)

type revokeOptions struct {
	clusterOptions
	Format output.Format
	Target target
	DryRun bool
	Yes    bool
}

const revokeLong = `Remove one trusted source without touching the others: by value (--ip,
--droplet, --app, --tag, --k8s, as allow takes them) or by its uuid (--uuid).
oxyctl reads the whole list, drops the rule, writes the whole list back in one
PUT (every other rule and its description as it was) and reads it back. The
rules as they were are saved first ($XDG_STATE_HOME/oxyctl/backups, see
'oxyctl firewall allow --help'), and 'oxyctl firewall restore FILE' brings
them back.

revoke refuses to remove the last rule: on DigitalOcean an empty list admits
every address. A value that no rule has is nothing to do (exit 0); a --uuid
that no rule has is an error (exit 2).

The plan is printed first; on a terminal revoke asks to go ahead, and with no
terminal it needs --yes. --dry-run prints the plan and changes nothing.

JSON: {"cluster":{"id","name"},"dry_run","changed","add":[],"remove":[...],
"kept","rules":[...],"backup"}.
`

const revokeExample = `$ oxyctl firewall revoke --ip 203.0.113.9
$ oxyctl firewall revoke --droplet oxy-worker-2 --yes
$ oxyctl firewall revoke --uuid 3d2c5a1e-8f0b-4c7a-9d6e-1b2a3c4d5e6f --dry-run
`

// NewCmdRevoke builds `firewall revoke`. runF replaces the run in tests.
func NewCmdRevoke(f *cmdutil.Factory, runF func(context.Context, *revokeOptions) error) *cobra.Command {
	opts := &revokeOptions{clusterOptions: newClusterOptions(f)}
	cmd := &cobra.Command{
		Use:     "revoke (--ip CIDR | --droplet X | --app X | --tag X | --k8s ID | --uuid ID) [--dry-run] [--yes]",
		Short:   "Remove one trusted source, keeping every other rule",
		Long:    revokeLong + exitStatus,
		Example: revokeExample,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if _, err := opts.Target.entry(true); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return revokeRun(cmd.Context(), opts)
		},
	}
	opts.Target.bind(cmd, true)
	cmdutil.WriteFlags(cmd, &opts.DryRun, &opts.Yes)
	registerTargetCompletions(cmd, &opts.clusterOptions, true)
	return cmd
}

func revokeRun(ctx context.Context, opts *revokeOptions) error {
	e, err := opts.Target.entry(true)
	if err != nil {
		return err
	}
	st, err := opts.load(ctx)
	if err != nil {
		return err
	}
	if err := st.writable(); err != nil {
		return err
	}
	var match func(doapi.Rule) bool
	what := ""
	var inv *doapi.Inventory
	switch {
	case e.Kind == "":
		id := strings.ToLower(strings.TrimSpace(opts.Target.UUID))
		match = func(r doapi.Rule) bool { return strings.EqualFold(r.UUID, id) }
		what = "the rule with uuid " + id
	default:
		// A rule that names the value as the API stores it (a Droplet id, an
		// app id, even of a resource that is gone) matches without a lookup.
		direct := doapi.Rule{Type: e.Kind.APIType(), Value: e.Value}
		if e.Kind == policy.KindIP {
			v, err := policy.NormalizeIP(e.Value)
			if err != nil {
				return apperr.Usagef("--ip: %s", strings.TrimPrefix(err.Error(), "ip "))
			}
			direct.Value = v
		}
		found := false
		for _, r := range st.rules {
			found = found || policy.SameRule(r, direct)
		}
		rule := direct
		if !found && e.Kind != policy.KindIP {
			var err error
			if rule, _, inv, err = resolveTarget(ctx, st, e); err != nil {
				return err
			}
		}
		match = func(r doapi.Rule) bool { return policy.SameRule(r, rule) }
		what = rule.Type + " " + rule.Value
	}
	if inv == nil {
		if inv, err = st.api.LoadInventory(ctx, policy.Needs(nil, st.rules)); err != nil {
			return err
		}
	}
	infos := policy.Describe(st.rules, inv)
	res := applyResult{Cluster: clusterRef{ID: st.cluster.ID, Name: st.cluster.Name}, DryRun: opts.DryRun,
		Add: []change{}, Remove: []change{}}
	final := make([]doapi.Rule, 0, len(st.rules))
	for i, r := range st.rules {
		if match(r) {
			res.Remove = append(res.Remove, change{Type: r.Type, Value: r.Value, Name: infos[i].Name, UUID: r.UUID,
				Description: r.Description, Reason: "revoked"})
			continue
		}
		final = append(final, doapi.Rule{Type: r.Type, Value: r.Value, Description: r.Description})
	}
	res.Kept = len(final)
	ios := opts.IO
	if len(res.Remove) == 0 {
		if e.Kind == "" {
			return apperr.Configf("no rule of %s has uuid %s (`oxyctl firewall list -o json` shows the uuids)", st.cluster.Name, opts.Target.UUID)
		}
		res.Rules = infos
		return output.Print(ios, opts.Format, res, func(w io.Writer, th *output.Theme) error {
			fmt.Fprintf(w, "%s nothing to do: %s is not a trusted source of %s\n", th.Status("ok"), what, st.cluster.Name)
			return nil
		})
	}
	if len(final) == 0 {
		return &apperr.ConfigError{
			Err:  fmt.Errorf("refusing to remove the last rule of %s: on DigitalOcean an empty firewall admits every address; nothing was changed", st.cluster.Name),
			Hint: "allow the new source first (`oxyctl firewall allow`), then revoke this one",
		}
	}
	th := output.NewTheme(ios)
	planOut := ios.Out
	if opts.Format == output.JSON {
		planOut, th.TTY = ios.ErrOut, ios.IsStderrTTY()
	}
	fmt.Fprintf(planOut, "Plan for the firewall of %s (%s): %d rules now, %d after\n", st.cluster.Name, engineName(st.cluster.Engine), len(st.rules), len(final))
	for _, c := range res.Remove {
		why := "revoked"
		if c.Description != "" {
			why += fmt.Sprintf(", description %q", c.Description)
		}
		fmt.Fprintf(planOut, "  %s %s\n", th.Fail.Render("-"), planLine(doapi.Rule{Type: c.Type, Value: c.Value}, c.Name, why))
	}
	fmt.Fprintf(planOut, "  = %s kept as they are\n", plural(len(final), "rule"))
	return finishWrite(ctx, &opts.clusterOptions, st, inv, final, &res, writeFlags{dryRun: opts.DryRun, yes: opts.Yes, format: opts.Format},
		"firewall revoke", fmt.Sprintf("Remove %s from the firewall of %s?", what, st.cluster.Name), nil)
}
