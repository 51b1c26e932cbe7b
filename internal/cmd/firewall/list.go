package firewall

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/policy"
)

type listOptions struct {
	clusterOptions
	Format output.Format
}

// listResult is the JSON document of `firewall list`.
type listResult struct {
	Cluster clusterRef        `json:"cluster"`
	Rules   []policy.RuleInfo `json:"rules"`
}

const listLong = `List the cluster's firewall rules (trusted sources) with what each points at:
a Droplet id with the Droplet's name and addresses, an app id with the app's
name, a Kubernetes cluster id with its name, a tag with how many Droplets
carry it, an IPv4 address or range and whether it is public. A rule whose
Droplet, app, cluster or tag no longer exists says "not found".

JSON: {"cluster":{"id","name"},"rules":[{"uuid","type","value","name","exists",
"public","detail","description","created_at"}]}.
`

const listExample = `$ oxyctl firewall list
$ oxyctl firewall list -o json | jq -r '.rules[] | select(.public) | .value'
`

// NewCmdList builds `firewall list`. runF replaces the run in tests.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *listOptions) error) *cobra.Command {
	opts := &listOptions{clusterOptions: newClusterOptions(f)}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "Show the trusted sources and what each resolves to",
		Long:    listLong + exitStatus,
		Example: listExample,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
}

func listRun(ctx context.Context, opts *listOptions) error {
	st, err := opts.load(ctx)
	if err != nil {
		return err
	}
	inv, _, err := resolveAll(ctx, st, nil)
	if err != nil {
		return err
	}
	res := listResult{Cluster: clusterRef{ID: st.cluster.ID, Name: st.cluster.Name}, Rules: policy.Describe(st.rules, inv)}
	return output.Print(opts.IO, opts.Format, res, func(w io.Writer, th *output.Theme) error {
		public := 0
		for _, r := range res.Rules {
			if r.Public {
				public++
			}
		}
		fmt.Fprintf(w, "Firewall of %s (%s): %s", st.cluster.Name, short(st.cluster.ID, th.TTY), plural(len(res.Rules), "trusted source"))
		if public > 0 {
			fmt.Fprintf(w, ", %s", th.Fail.Render(fmt.Sprintf("%d public", public)))
		}
		fmt.Fprintln(w)
		if len(res.Rules) == 0 {
			fmt.Fprintln(w, th.Fail.Render("no rules: on DigitalOcean an empty list admits every address"))
			return nil
		}
		fmt.Fprint(w, rulesTable(th, res.Rules, false))
		return nil
	})
}

// rulesTable renders rules; withPolicy adds the IN POLICY column.
func rulesTable(th *output.Theme, rules []policy.RuleInfo, withPolicy bool) string {
	headers := []string{"TYPE", "VALUE", "RESOLVES TO", "DESCRIPTION"}
	if withPolicy {
		headers = append(headers, "IN POLICY")
	}
	rows := make([][]string, 0, len(rules))
	for _, r := range rules {
		detail := r.Detail
		switch {
		case r.Public:
			detail = th.Fail.Render(detail)
		case !r.Exists:
			detail = th.Warn.Render(detail)
		}
		row := []string{r.Type, short(r.Value, th.TTY), detail, orDash(r.Description)}
		if withPolicy {
			in := "no"
			if r.Declared != nil && *r.Declared {
				in = "yes"
			}
			row = append(row, in)
		}
		rows = append(rows, row)
	}
	out := th.Table(headers, rows)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out += "\n"
	}
	return out
}
