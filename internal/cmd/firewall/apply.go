package firewall

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/policy"
)

type applyOptions struct {
	clusterOptions
	Format     output.Format
	PolicyFile string
	DryRun     bool
	Yes        bool
}

// change is one rule of the plan, as JSON shows it.
type change struct {
	Type        string `json:"type"`
	Value       string `json:"value"`
	Name        string `json:"name"`
	UUID        string `json:"uuid,omitempty"`
	Description string `json:"description,omitempty"`
	Where       string `json:"where,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// applyResult is the JSON document of `firewall apply`.
type applyResult struct {
	Cluster clusterRef `json:"cluster"`
	DryRun  bool       `json:"dry_run"`
	// Changed is true when a PUT was made.
	Changed bool     `json:"changed"`
	Add     []change `json:"add"`
	Remove  []change `json:"remove"`
	Kept    int      `json:"kept"`
	// Rules are the rules read back after the PUT (the current rules when
	// nothing was written).
	Rules []policy.RuleInfo `json:"rules"`
	// Backup is the file holding the rules as they were before the PUT.
	Backup string `json:"backup,omitempty"`
}

const applyLong = `Make the cluster's firewall rules equal to the policy. The plan comes first:
+ a rule to add, - a rule to remove (with the names they point at). Rules are
matched on type and value, never uuid; a rule that stays keeps its
description. On a terminal apply then asks to go ahead; with no terminal it
refuses (exit 2, nothing changed) unless --yes is given. --dry-run prints the
plan and changes nothing.

The API has no append: the whole list is written in one PUT, then read back
and checked against the plan.

apply refuses, changing nothing: an empty allow list (on DigitalOcean an empty
list admits every address), an IPv6 entry, more than 100 rules, an IP range
wider than /8, and any entry whose name matches nothing or several things.

JSON: {"cluster":{"id","name"},"dry_run","changed","add":[...],"remove":[...],
"kept","rules":[...]}; the plan is also printed on stderr before asking.
`

const applyExample = `$ oxyctl firewall apply --dry-run
$ oxyctl firewall apply
$ oxyctl firewall apply --policy deploy/firewall.yaml --yes -o json
`

// NewCmdApply builds `firewall apply`. runF replaces the run in tests.
func NewCmdApply(f *cmdutil.Factory, runF func(context.Context, *applyOptions) error) *cobra.Command {
	opts := &applyOptions{clusterOptions: newClusterOptions(f)}
	cmd := &cobra.Command{
		Use:     "apply [--policy FILE] [--dry-run] [--yes]",
		Short:   "Make the trusted sources equal to the policy, in one PUT",
		Long:    applyLong + exitStatus,
		Example: applyExample,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return applyRun(cmd.Context(), opts)
		},
	}
	cmdutil.FileFlag(cmd, &opts.PolicyFile, "policy", "policy file with a top-level firewall: block (default: the context's)")
	cmdutil.WriteFlags(cmd, &opts.DryRun, &opts.Yes)
	return cmd
}

func applyRun(ctx context.Context, opts *applyOptions) error {
	fw, st, inv, resolved, err := opts.loadResolved(ctx, opts.PolicyFile)
	if err != nil {
		return err
	}
	if err := st.writable(); err != nil {
		return err
	}
	plan, err := policy.MakePlanAt(fw, resolved, st.rules, inv, opts.Now())
	if err != nil {
		return err
	}
	res := applyResult{
		Cluster: clusterRef{ID: st.cluster.ID, Name: st.cluster.Name},
		DryRun:  opts.DryRun,
		Add:     []change{},
		Remove:  []change{},
		Kept:    len(plan.Keep),
	}
	for _, c := range plan.Add {
		res.Add = append(res.Add, change{Type: c.Rule.Type, Value: c.Rule.Value, Name: c.Name, Where: c.Where})
	}
	for _, c := range plan.Remove {
		res.Remove = append(res.Remove, change{Type: c.Rule.Type, Value: c.Rule.Value, Name: c.Name, UUID: c.Rule.UUID,
			Description: c.Rule.Description, Reason: c.Reason})
	}

	ios := opts.IO
	th := output.NewTheme(ios)
	planOut := ios.Out // text: the plan is part of the result
	if opts.Format == output.JSON {
		planOut = ios.ErrOut
		th.TTY = ios.IsStderrTTY()
	}
	writePlan(planOut, th, st, plan)

	if plan.Empty() || opts.DryRun {
		res.Rules = policy.Describe(st.rules, inv)
		return output.Print(ios, opts.Format, res, func(w io.Writer, th *output.Theme) error {
			switch {
			case plan.Empty():
				fmt.Fprintf(w, "%s nothing to do: the firewall already matches the policy\n", th.Status("ok"))
			default:
				fmt.Fprintln(w, "dry run: nothing was changed")
			}
			return nil
		})
	}

	return finishWrite(ctx, &opts.clusterOptions, st, inv, plan.Final, &res, writeFlags{yes: opts.Yes, format: opts.Format},
		"firewall apply", fmt.Sprintf("Replace the firewall of %s with these %s?", st.cluster.Name, plural(len(plan.Final), "rule")),
		func(w io.Writer, th *output.Theme, after []doapi.Rule) {
			fmt.Fprintf(w, "%s applied: %d added, %d removed, %d kept; read back %s matching the policy\n",
				th.Status("ok"), len(res.Add), len(res.Remove), res.Kept, plural(len(after), "rule"))
		})
}

// writePlan prints + and - lines, with the names rules point at.
func writePlan(w io.Writer, th *output.Theme, st *state, plan *policy.Plan) {
	fmt.Fprintf(w, "Plan for the firewall of %s (%s): %d rules now, %d after\n", st.cluster.Name, engineName(st.cluster.Engine), len(st.rules), len(plan.Final))
	for _, c := range plan.Add {
		fmt.Fprintf(w, "  %s %s\n", th.OK.Render("+"), planLine(c.Rule, c.Name, "declared at "+c.Where))
	}
	for _, c := range plan.Remove {
		why := c.Reason
		if c.Rule.Description != "" {
			why += fmt.Sprintf(", description %q", c.Rule.Description)
		}
		fmt.Fprintf(w, "  %s %s\n", th.Fail.Render("-"), planLine(c.Rule, c.Name, why))
	}
	if len(plan.Keep) > 0 {
		fmt.Fprintf(w, "  = %s kept as they are\n", plural(len(plan.Keep), "rule"))
	}
}

func planLine(r doapi.Rule, name, why string) string {
	s := r.Type + " " + r.Value
	if name != "" && name != r.Value {
		s += " (" + name + ")"
	}
	if why == "" {
		return s
	}
	return s + "  " + why
}
