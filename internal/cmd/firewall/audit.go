package firewall

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/policy"
)

type auditOptions struct {
	clusterOptions
	Format     output.Format
	PolicyFile string
}

// auditResult is the JSON document of `firewall audit -o json`.
type auditResult struct {
	Cluster  clusterRef        `json:"cluster"`
	OK       bool              `json:"ok"`
	Rules    []policy.RuleInfo `json:"rules"`
	Findings []policy.Finding  `json:"findings"`
}

const auditLong = `Compare the cluster's firewall rules with the policy (the context's firewall
block, or --policy FILE with the same top-level firewall: block). Rules are
matched on type and value, never on their uuid. Findings:

  missing     error    a policy entry has no rule
  unexpected  error    a rule is not in the policy
  public      error    an IP rule admits internet addresses (0.0.0.0/0 above
                       all); a warning when the policy declares that address;
                       a range no policy may declare is reported only so,
                       not also as unexpected
  stale       error    a rule's Droplet, app or Kubernetes cluster no longer
                       exists (a warning for a tag that does not exist)
  unresolved  error    a policy name matches nothing, or several things
  duplicate   warning  a rule or policy entry appears twice

JSON: {"cluster":{"id","name"},"ok","rules":[...],"findings":[{"severity",
"kind","rule","message"}]}. ok is false when any finding is an error, and
the exit status is then 1.
`

const auditExample = `$ oxyctl firewall audit
$ oxyctl firewall audit --policy deploy/firewall.yaml -o json
`

// NewCmdAudit builds `firewall audit`. runF replaces the run in tests.
func NewCmdAudit(f *cmdutil.Factory, runF func(context.Context, *auditOptions) error) *cobra.Command {
	opts := &auditOptions{clusterOptions: newClusterOptions(f)}
	cmd := &cobra.Command{
		Use:     "audit [--policy FILE]",
		Short:   "Compare the trusted sources with the declared policy",
		Long:    auditLong + exitStatus,
		Example: auditExample,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return auditRun(cmd.Context(), opts)
		},
	}
	cmdutil.FileFlag(cmd, &opts.PolicyFile, "policy", "policy file with a top-level firewall: block (default: the context's)")
	return cmd
}

func auditRun(ctx context.Context, opts *auditOptions) error {
	fw, st, inv, resolved, err := opts.loadResolved(ctx, opts.PolicyFile)
	if err != nil {
		return err
	}
	rep := policy.AuditAt(st.rules, resolved, inv, opts.Now())
	res := auditResult{Cluster: clusterRef{ID: st.cluster.ID, Name: st.cluster.Name}, OK: rep.OK, Rules: rep.Rules, Findings: rep.Findings}
	err = output.Print(opts.IO, opts.Format, res, func(w io.Writer, th *output.Theme) error {
		fmt.Fprintf(w, "Firewall of %s (%s): %s, policy %s (%s)\n", st.cluster.Name, short(st.cluster.ID, th.TTY),
			plural(len(res.Rules), "rule"), fw.File, countText(len(fw.Allow), "entry", "entries"))
		if len(res.Rules) > 0 {
			fmt.Fprint(w, rulesTable(th, res.Rules, true))
		}
		fmt.Fprintln(w)
		if len(res.Findings) == 0 {
			fmt.Fprintf(w, "%s the firewall matches the policy\n", th.Status("ok"))
			return nil
		}
		rows := make([][]string, 0, len(res.Findings))
		for _, f := range res.Findings {
			rows = append(rows, []string{th.Status(f.Severity), f.Kind, short(f.Rule, false), f.Message})
		}
		out := th.Table([]string{"SEVERITY", "KIND", "RULE", "MESSAGE"}, rows)
		if !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		fmt.Fprint(w, out)
		errs := rep.Errors()
		summary := fmt.Sprintf("%s, %s", plural(errs, "error"), plural(len(res.Findings)-errs, "warning"))
		if errs > 0 {
			fmt.Fprintf(w, "%s %s: the firewall does not match the policy (`oxyctl firewall apply` shows the fix)\n", th.Status("fail"), summary)
		} else {
			fmt.Fprintf(w, "%s %s\n", th.Status("warn"), summary)
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
