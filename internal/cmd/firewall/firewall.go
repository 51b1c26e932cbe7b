// Package firewall is `oxyctl firewall list|audit|apply`: the managed
// database's trusted sources on DigitalOcean, compared with and made equal
// to the declared policy.
package firewall

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/backup"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/policy"
)

// exitStatus ends the help of the firewall verbs.
const exitStatus = `
EXIT STATUS
  0    success (audit: no finding of severity error)
  1    audit found a problem of severity error (missing, unexpected, public,
       stale or unresolved)
  2    usage or configuration error (no token, a cluster name that matches
       nothing, an invalid or empty policy, an entry that does not resolve,
       apply refused for lack of a terminal to confirm on, or declined)
  3    runtime error (cannot connect, authentication, timeout, API error,
       a firewall that does not read back as written)
  130  interrupted by Ctrl-C`

// API is what the verbs use from DigitalOcean (*doapi.Client).
type API interface {
	FindCluster(ctx context.Context, nameOrUUID string) (*doapi.Cluster, error)
	Firewall(ctx context.Context, clusterID string) ([]doapi.Rule, error)
	PutFirewall(ctx context.Context, clusterID string, rules []doapi.Rule) error
	LoadInventory(ctx context.Context, needs doapi.Needs) (*doapi.Inventory, error)
}

// clusterOptions is what every firewall verb takes from the Factory. Each
// verb's options hold their own copy, filled by newClusterOptions.
type clusterOptions struct {
	IO *iostreams.IOStreams
	// Client builds the API client (no request until a method is called).
	Client func(ctx context.Context) (API, error)
	// Cluster is the --cluster setting (name or UUID).
	Cluster func() (string, error)
	// ContextPolicy is the firewall block of the active context (nil when absent).
	ContextPolicy func() (*policy.Firewall, error)
	Now           func() time.Time
	// BackupDir is where backups go ($XDG_STATE_HOME/oxyctl/backups).
	BackupDir func() (string, error)
}

const firewallLong = `The managed Valkey cluster accepts connections only from its trusted sources:
Droplets, App Platform apps, Kubernetes clusters, tags and IPv4 addresses.
The policy declares which, in the context's firewall block or a --policy file:

  firewall:
    allow:
      - droplet: oxy-api-backend   # a name or an id
      - app: oxy-api
      - ip: 203.0.113.7            # also: tag, k8s (by id)

list shows the rules and what each resolves to, audit compares them with
the policy, apply makes them equal in one PUT and reads them back. allow and
revoke add or remove one rule (allow --for: a temporary grant), keeping every
other rule and description; restore puts back the rules a backup holds.
Every write first saves the rules it replaces under
$XDG_STATE_HOME/oxyctl/backups (default ~/.local/state).

The token comes from DIGITALOCEAN_ACCESS_TOKEN (or DIGITALOCEAN_TOKEN) or the
context's digitalocean.token, never from a flag. Reading needs the scopes
database:read, droplet:read, app:read, kubernetes:read and tag:read; apply
also needs database:update.
`

const firewallExample = `$ oxyctl firewall list
$ oxyctl firewall audit -o json
$ oxyctl firewall apply --dry-run
$ oxyctl firewall allow --ip 203.0.113.9 --public --for 30m --reason "CI runner"
`

// NewCmdFirewall builds the `firewall` noun.
func NewCmdFirewall(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "firewall <command>",
		Aliases: []string{"fw"},
		Short:   "Audit, apply and change the database firewall (DigitalOcean trusted sources)",
		Long:    firewallLong + exitStatus,
		Example: firewallExample,
		Args:    cmdutil.NoArgs,
	}
	cmd.AddCommand(
		NewCmdList(f, nil),
		NewCmdAudit(f, nil),
		NewCmdApply(f, nil),
		NewCmdAllow(f, nil),
		NewCmdRevoke(f, nil),
		NewCmdRestore(f, nil),
		NewCmdExport(f, nil),
	)
	return cmd
}

// newClusterOptions fills the options every verb shares from the Factory.
func newClusterOptions(f *cmdutil.Factory) clusterOptions {
	return clusterOptions{
		IO:        f.IO,
		Now:       f.Now,
		BackupDir: func() (string, error) { return backup.Dir(f.Getenv) },
		Client: func(ctx context.Context) (API, error) {
			c, err := f.DO(ctx)
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		Cluster: f.ClusterSetting,
		ContextPolicy: func() (*policy.Firewall, error) {
			s, err := f.Settings()
			if err != nil {
				return nil, err
			}
			if s.Firewall == nil {
				return nil, nil
			}
			return policy.FromNode(s.Firewall, s.ConfigPath)
		},
	}
}

// clusterRef is how JSON names the cluster.
type clusterRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// state is what every verb reads first: the cluster and its rules.
type state struct {
	api     API
	cluster *doapi.Cluster
	rules   []doapi.Rule
}

// writable refuses to write the firewall of a cluster that is not the
// Valkey (or Redis) database oxyctl operates: a --cluster that names the
// account's PostgreSQL cluster by mistake must not have its firewall replaced.
func (st *state) writable() error {
	switch st.cluster.Engine {
	case "valkey", "redis":
		return nil
	}
	return &apperr.ConfigError{
		Err:  fmt.Errorf("refusing to change the firewall of %s: it is a %s cluster, and oxyctl writes only the firewall of a Valkey (or Redis) cluster; nothing was changed", st.cluster.Name, engineName(st.cluster.Engine)),
		Hint: "check --cluster (env OXYCTL_CLUSTER) or the context's digitalocean.cluster",
	}
}

// engineName is the engine as people call it.
func engineName(slug string) string {
	switch slug {
	case "valkey":
		return "Valkey"
	case "redis":
		return "Redis"
	case "pg":
		return "PostgreSQL"
	case "mysql":
		return "MySQL"
	case "mongodb":
		return "MongoDB"
	case "kafka":
		return "Kafka"
	case "opensearch":
		return "OpenSearch"
	case "":
		return "unknown engine"
	}
	return slug
}

func (c *clusterOptions) load(ctx context.Context) (*state, error) {
	name, err := c.Cluster()
	if err != nil {
		return nil, err
	}
	api, err := c.Client(ctx)
	if err != nil {
		return nil, err
	}
	cl, err := api.FindCluster(ctx, name)
	if err != nil {
		return nil, err
	}
	rules, err := api.Firewall(ctx, cl.ID)
	if err != nil {
		return nil, err
	}
	return &state{api: api, cluster: cl, rules: rules}, nil
}

// policy reads --policy FILE, or else the context's firewall block. A
// missing or empty policy is a ConfigError.
func (c *clusterOptions) policy(file string) (*policy.Firewall, error) {
	var fw *policy.Firewall
	var err error
	if file != "" {
		fw, err = policy.ParseFile(file)
	} else {
		fw, err = c.ContextPolicy()
	}
	if err != nil {
		return nil, err
	}
	if fw == nil {
		return nil, &apperr.ConfigError{
			Err:  errors.New("no firewall policy: the context has no firewall block"),
			Hint: "add firewall.allow to the context in the config file, or pass --policy FILE",
		}
	}
	if err := fw.Validate(); err != nil {
		return nil, err
	}
	return fw, nil
}

// loadResolved reads the policy (policyFile, or the context's), the cluster's
// rules, and the inventory both need, and resolves the policy against it:
// what audit and apply start from.
func (c *clusterOptions) loadResolved(ctx context.Context, policyFile string) (*policy.Firewall, *state, *doapi.Inventory, []policy.Resolved, error) {
	fw, err := c.policy(policyFile)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	st, err := c.load(ctx)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	inv, resolved, err := resolveAll(ctx, st, fw)
	return fw, st, inv, resolved, err
}

// resolveAll loads the inventory that the policy and rules need and resolves
// the policy against it.
func resolveAll(ctx context.Context, st *state, fw *policy.Firewall) (*doapi.Inventory, []policy.Resolved, error) {
	var entries []policy.Entry
	if fw != nil {
		entries = fw.Allow
	}
	inv, err := st.api.LoadInventory(ctx, policy.Needs(entries, st.rules))
	if err != nil {
		return nil, nil, err
	}
	return inv, policy.Resolve(entries, inv), nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func countText(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// short abbreviates a UUID on a terminal, where width is scarce.
func short(v string, tty bool) string {
	if tty && doapi.IsUUID(v) {
		return v[:8] + "…"
	}
	return v
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
