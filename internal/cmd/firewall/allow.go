package firewall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/policy"
)

// target is the one rule `allow` and `revoke` name by value.
type target struct {
	IP, Droplet, App, Tag, K8s string
	// UUID (revoke only) names a rule by its uuid.
	UUID string
}

// entry is the target as a policy entry, or an error when not exactly one
// flag was given.
func (t target) entry(withUUID bool) (policy.Entry, error) {
	var set []policy.Entry
	for _, e := range []policy.Entry{{Kind: policy.KindIP, Value: t.IP}, {Kind: policy.KindDroplet, Value: t.Droplet},
		{Kind: policy.KindApp, Value: t.App}, {Kind: policy.KindTag, Value: t.Tag}, {Kind: policy.KindK8s, Value: t.K8s}} {
		if strings.TrimSpace(e.Value) != "" {
			e.Value = strings.TrimSpace(e.Value)
			set = append(set, e)
		}
	}
	flags := "--ip, --droplet, --app, --tag or --k8s"
	n := len(set)
	if withUUID {
		flags = "--ip, --droplet, --app, --tag, --k8s or --uuid"
		if strings.TrimSpace(t.UUID) != "" {
			n++
		}
	}
	if n != 1 {
		return policy.Entry{}, apperr.Usagef("name exactly one rule: one of %s", flags)
	}
	if len(set) == 0 {
		return policy.Entry{}, nil // --uuid
	}
	return set[0], nil
}

func (t *target) bind(cmd *cobra.Command, withUUID bool) {
	fl := cmd.Flags()
	fl.StringVar(&t.IP, "ip", "", "an IPv4 address or CIDR range")
	fl.StringVar(&t.Droplet, "droplet", "", "a Droplet, by name or id")
	fl.StringVar(&t.App, "app", "", "an App Platform app, by name or id")
	fl.StringVar(&t.Tag, "tag", "", "a tag: every Droplet or Kubernetes node carrying it")
	fl.StringVar(&t.K8s, "k8s", "", "a Kubernetes cluster, by id")
	if withUUID {
		fl.StringVar(&t.UUID, "uuid", "", "the rule's uuid (as `firewall list -o json` shows it)")
	}
}

type allowOptions struct {
	clusterOptions
	Format output.Format
	Target target
	For    time.Duration
	Reason string
	Public bool
	DryRun bool
	Yes    bool
}

const allowLong = `Add one trusted source without touching the others. The API has no append:
oxyctl reads the whole list, adds the rule, writes the whole list back in one
PUT (every other rule and its description as it was) and reads it back. The
rules as they were are saved first (see BACKUPS).

--for D makes a temporary grant: the rule's description records its expiry,
"oxyctl grant until <RFC3339>: <reason>". Until then audit reports it as
temporary (a warning) and apply keeps it; after, audit reports it as expired
(an error) and apply removes it. Without --for, --reason is the description.

allow refuses a public address or range (what audit calls public) unless
--public is given, and never admits a range wider than /8 (0.0.0.0/0 admits
every address). An IPv6 address is refused: DigitalOcean accepts IPv4 only.

The plan is printed first; on a terminal allow asks to go ahead, and with no
terminal it needs --yes. --dry-run prints the plan and changes nothing.

BACKUPS
  Before every write the rules as they were are saved to
  $XDG_STATE_HOME/oxyctl/backups/<cluster>/<UTC time>-firewall.json
  (default ~/.local/state; directory 0700, file 0600). The path is printed
  on stderr and returned as "backup" in JSON; 'oxyctl firewall restore FILE'
  brings those rules back.

JSON: {"cluster":{"id","name"},"dry_run","changed","add":[...],"remove":[],
"kept","rules":[...],"backup"}.
`

const allowExample = `$ oxyctl firewall allow --ip 203.0.113.9/32 --for 30m --reason "CI runner"
$ oxyctl firewall allow --droplet oxy-worker-2 --reason "second worker" --yes
$ oxyctl firewall allow --app mention --dry-run
`

// NewCmdAllow builds `firewall allow`. runF replaces the run in tests.
func NewCmdAllow(f *cmdutil.Factory, runF func(context.Context, *allowOptions) error) *cobra.Command {
	opts := &allowOptions{clusterOptions: newClusterOptions(f)}
	cmd := &cobra.Command{
		Use:     "allow (--ip CIDR | --droplet X | --app X | --tag X | --k8s ID) [--for D] [--reason TEXT] [--public] [--dry-run] [--yes]",
		Short:   "Add one trusted source, for good or for a while (--for), keeping every other rule",
		Long:    allowLong + exitStatus,
		Example: allowExample,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if _, err := opts.Target.entry(false); err != nil {
				return err
			}
			if cmd.Flags().Changed("for") && opts.For <= 0 {
				return apperr.Usagef("--for must be a positive duration, e.g. 30m or 2h")
			}
			if len(opts.Reason) > 200 {
				return apperr.Usagef("--reason is longer than 200 characters")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return allowRun(cmd.Context(), opts)
		},
	}
	opts.Target.bind(cmd, false)
	fl := cmd.Flags()
	fl.DurationVar(&opts.For, "for", 0, "a temporary grant that expires after this long, e.g. 30m")
	fl.StringVar(&opts.Reason, "reason", "", "why, recorded in the rule's description")
	fl.BoolVar(&opts.Public, "public", false, "allow a public address or range")
	cmdutil.WriteFlags(cmd, &opts.DryRun, &opts.Yes)
	registerTargetCompletions(cmd, &opts.clusterOptions, false)
	return cmd
}

// resolveTarget turns an entry into the rule it stands for, looking names
// up in the account.
func resolveTarget(ctx context.Context, st *state, e policy.Entry) (doapi.Rule, string, *doapi.Inventory, error) {
	inv, err := st.api.LoadInventory(ctx, policy.Needs([]policy.Entry{e}, st.rules))
	if err != nil {
		return doapi.Rule{}, "", nil, err
	}
	r := policy.Resolve([]policy.Entry{e}, inv)[0]
	if !r.OK() {
		return doapi.Rule{}, "", inv, apperr.Configf("%s: %s", e, r.Problem)
	}
	return r.Rule, r.Name, inv, nil
}

func allowRun(ctx context.Context, opts *allowOptions) error {
	e, err := opts.Target.entry(false)
	if err != nil {
		return err
	}
	if e.Kind == policy.KindIP {
		v, err := policy.NormalizeIP(e.Value)
		if err != nil {
			return apperr.Usagef("--ip: %s", strings.TrimPrefix(err.Error(), "ip "))
		}
		switch policy.Exposure(v) {
		case policy.IPEveryone:
			return apperr.Usagef("refusing to allow %s: it admits every address or nearly (wider than /%d); nothing was changed", v, policy.MinPrefixBits)
		case policy.IPPublic:
			if !opts.Public {
				return apperr.Usagef("refusing to allow %s: it is a public address, reachable from the internet; nothing was changed (pass --public if that is meant, and prefer --for)", v)
			}
		}
		e.Value = v
	}
	st, err := opts.load(ctx)
	if err != nil {
		return err
	}
	if err := st.writable(); err != nil {
		return err
	}
	rule, name, inv, err := resolveTarget(ctx, st, e)
	if err != nil {
		return err
	}
	desc := strings.TrimSpace(opts.Reason)
	if opts.For > 0 {
		desc = policy.GrantDescription(opts.Now().Add(opts.For), opts.Reason)
	}
	rule.Description = desc

	res := applyResult{Cluster: clusterRef{ID: st.cluster.ID, Name: st.cluster.Name}, DryRun: opts.DryRun,
		Add: []change{}, Remove: []change{}}
	final := make([]doapi.Rule, 0, len(st.rules)+1)
	var replaced *doapi.Rule
	for i, r := range st.rules {
		if policy.SameRule(r, rule) && replaced == nil {
			replaced = &st.rules[i]
			final = append(final, rule)
			continue
		}
		final = append(final, doapi.Rule{Type: r.Type, Value: r.Value, Description: r.Description})
	}
	ios := opts.IO
	th := output.NewTheme(ios)
	planOut := ios.Out
	if opts.Format == output.JSON {
		planOut, th.TTY = ios.ErrOut, ios.IsStderrTTY()
	}
	switch {
	case replaced != nil && (replaced.Description == desc || (desc == "" && opts.For == 0)):
		res.Kept = len(st.rules)
		res.Rules = policy.Describe(st.rules, inv)
		return output.Print(ios, opts.Format, res, func(w io.Writer, th *output.Theme) error {
			fmt.Fprintf(w, "%s nothing to do: %s is already a trusted source of %s\n", th.Status("ok"), planLine(rule, name, ""), st.cluster.Name)
			return nil
		})
	case replaced != nil:
		res.Kept = len(st.rules) - 1
		res.Add = append(res.Add, change{Type: rule.Type, Value: rule.Value, Name: name, Description: desc})
		res.Remove = append(res.Remove, change{Type: replaced.Type, Value: replaced.Value, Name: name, UUID: replaced.UUID,
			Description: replaced.Description, Reason: "description replaced"})
		fmt.Fprintf(planOut, "Plan for the firewall of %s (%s): %d rules now, %d after\n", st.cluster.Name, engineName(st.cluster.Engine), len(st.rules), len(final))
		fmt.Fprintf(planOut, "  ~ %s  description %q -> %q\n", planLine(rule, name, ""), replaced.Description, desc)
	default:
		final = append(final, rule)
		if len(final) > doapi.MaxRules {
			return apperr.Configf("the firewall would have %d rules; DigitalOcean allows at most %d; nothing was changed", len(final), doapi.MaxRules)
		}
		res.Kept = len(st.rules)
		res.Add = append(res.Add, change{Type: rule.Type, Value: rule.Value, Name: name, Description: desc})
		fmt.Fprintf(planOut, "Plan for the firewall of %s (%s): %d rules now, %d after\n", st.cluster.Name, engineName(st.cluster.Engine), len(st.rules), len(final))
		fmt.Fprintf(planOut, "  %s %s\n", th.OK.Render("+"), planLine(rule, name, orDash(desc)))
		if len(st.rules) > 0 {
			fmt.Fprintf(planOut, "  = %s kept as they are\n", plural(len(st.rules), "rule"))
		}
	}
	return finishWrite(ctx, &opts.clusterOptions, st, inv, final, &res, writeFlags{dryRun: opts.DryRun, yes: opts.Yes, format: opts.Format},
		"firewall allow", fmt.Sprintf("Add %s to the firewall of %s?", planLine(rule, name, ""), st.cluster.Name), nil)
}

type writeFlags struct {
	dryRun, yes bool
	format      output.Format
}

// finishWrite is the end every firewall write shares: stop at a dry run,
// confirm, write with a backup, read back, print the result (done, when
// set, says it in text).
func finishWrite(ctx context.Context, c *clusterOptions, st *state, inv *doapi.Inventory, final []doapi.Rule, res *applyResult,
	wf writeFlags, command, question string, done func(w io.Writer, th *output.Theme, after []doapi.Rule)) error {
	ios := c.IO
	if wf.dryRun {
		res.Rules = policy.Describe(st.rules, inv)
		return output.Print(ios, wf.format, res, func(w io.Writer, th *output.Theme) error {
			fmt.Fprintln(w, "dry run: nothing was changed")
			return nil
		})
	}
	if !wf.yes {
		if !ios.CanPrompt() {
			return &apperr.UsageError{Err: errors.New("refusing to change the firewall without confirmation: there is no terminal to ask on; nothing was changed (pass --yes to go ahead, or --dry-run to only look)")}
		}
		ok, err := ios.Confirm(ctx, question)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.Usagef("%s cancelled; nothing was changed", strings.TrimPrefix(command, "firewall "))
		}
	}
	path, after, err := c.writeRules(ctx, st, final, command)
	if err != nil {
		return err
	}
	res.Changed, res.Backup = true, path
	res.Rules = policy.Describe(after, inv)
	return output.Print(ios, wf.format, res, func(w io.Writer, th *output.Theme) error {
		if done != nil {
			done(w, th, after)
			return nil
		}
		fmt.Fprintf(w, "%s %s: %d added, %d removed, %d kept; read back %s as planned\n",
			th.Status("ok"), strings.TrimPrefix(command, "firewall "), len(res.Add), len(res.Remove), res.Kept, plural(len(after), "rule"))
		return nil
	})
}
