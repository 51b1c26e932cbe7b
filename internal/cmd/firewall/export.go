package firewall

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/policy"
)

type exportOptions struct {
	clusterOptions
	Format output.Format
}

// exportResult is the JSON document of `firewall export`.
type exportResult struct {
	Cluster clusterRef `json:"cluster"`
	// Policy is the policy file's text.
	Policy string            `json:"policy"`
	Rules  []policy.RuleInfo `json:"rules"`
}

const exportLong = `Write the cluster's current firewall rules as a policy file, to start a policy
from what exists: a top-level firewall: block that --policy and the context's
firewall block both take.

A Droplet or app is written by name when exactly one resource has that name,
by id otherwise; a Kubernetes cluster by id; a rule's description becomes a
comment. A rule whose Droplet, app, cluster or tag no longer exists is written
as a comment saying so, and so is a temporary grant (allow --for): neither
belongs in the policy. 'oxyctl firewall audit --policy' of the export then
reports nothing missing or unexpected, and 'apply --dry-run' plans no change
but the removal of rules that admit nothing.

JSON: {"cluster":{"id","name"},"policy":"<the file's text>","rules":[...]}.
`

const exportExample = `$ oxyctl firewall export > firewall.yaml
$ oxyctl firewall audit --policy firewall.yaml
$ oxyctl firewall export -o json | jq -r .policy
`

// NewCmdExport builds `firewall export`. runF replaces the run in tests.
func NewCmdExport(f *cmdutil.Factory, runF func(context.Context, *exportOptions) error) *cobra.Command {
	opts := &exportOptions{clusterOptions: newClusterOptions(f)}
	return &cobra.Command{
		Use:     "export",
		Short:   "Write the current trusted sources as a policy file",
		Long:    exportLong + exitStatus,
		Example: exportExample,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return exportRun(cmd.Context(), opts)
		},
	}
}

func exportRun(ctx context.Context, opts *exportOptions) error {
	st, err := opts.load(ctx)
	if err != nil {
		return err
	}
	inv, err := st.api.LoadInventory(ctx, policy.Needs(nil, st.rules))
	if err != nil {
		return err
	}
	now := opts.Now()
	header := []string{
		fmt.Sprintf("The firewall of %s (%s), exported by oxyctl at %s.", st.cluster.Name, st.cluster.ID, now.UTC().Format(time.RFC3339)),
		"Check it with: oxyctl firewall audit --policy FILE",
	}
	text := string(policy.Export(st.rules, inv, header, now))
	res := exportResult{Cluster: clusterRef{ID: st.cluster.ID, Name: st.cluster.Name}, Policy: text, Rules: policy.Describe(st.rules, inv)}
	return output.Print(opts.IO, opts.Format, res, func(w io.Writer, _ *output.Theme) error {
		_, err := fmt.Fprint(w, text)
		return err
	})
}
