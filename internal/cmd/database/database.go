// Package database is `oxyctl database settings|events|ca`: the managed
// Valkey cluster's settings as code, its event log and its CA certificate,
// through the DigitalOcean API.
package database

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/backup"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/iostreams"
)

// exitStatus ends the help of the database verbs.
const exitStatus = `
EXIT STATUS
  0    success (settings audit: no drift)
  1    settings audit found drift; settings apply or restore read back
       values other than those written
  2    usage or configuration error (no token, a cluster name that matches
       nothing, an unknown or invalid setting, a restore file that is not an
       oxyctl settings backup, a write refused for lack of a terminal to
       confirm on, or declined, ca --file over an existing file)
  3    runtime error (cannot connect, authentication, timeout, API error)
  130  interrupted by Ctrl-C`

// API is what the verbs use from DigitalOcean (*doapi.Client).
type API interface {
	FindCluster(ctx context.Context, nameOrUUID string) (*doapi.Cluster, error)
	GetConfig(ctx context.Context, clusterID string) (doapi.Config, error)
	PatchConfig(ctx context.Context, clusterID string, changes doapi.Config) error
	EvictionPolicy(ctx context.Context, clusterID string) (string, error)
	PutEvictionPolicy(ctx context.Context, clusterID, policy string) error
	Events(ctx context.Context, clusterID string) ([]doapi.Event, error)
	CA(ctx context.Context, clusterID string) ([]byte, error)
}

// clusterOptions is what every database verb takes from the Factory.
type clusterOptions struct {
	IO     *iostreams.IOStreams
	Client func(ctx context.Context) (API, error)
	// Cluster is the --cluster setting (name or UUID).
	Cluster func() (string, error)
	// ContextSettings is the context's database.settings block and the
	// config file's path (nil when absent).
	ContextSettings func() (*yaml.Node, string, error)
	Now             func() time.Time
	BackupDir       func() (string, error)
}

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
		ContextSettings: func() (*yaml.Node, string, error) {
			s, err := f.Settings()
			if err != nil {
				return nil, "", err
			}
			return s.DatabaseSettings, s.ConfigPath, nil
		},
	}
}

// clusterRef is how JSON names the cluster.
type clusterRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (c *clusterOptions) cluster(ctx context.Context) (API, *doapi.Cluster, error) {
	name, err := c.Cluster()
	if err != nil {
		return nil, nil, err
	}
	api, err := c.Client(ctx)
	if err != nil {
		return nil, nil, err
	}
	cl, err := api.FindCluster(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	return api, cl, nil
}

// valkeyOnly refuses settings of a cluster that is not Valkey (or Redis):
// the names and the eviction policy are theirs.
func valkeyOnly(cl *doapi.Cluster) error {
	switch cl.Engine {
	case "valkey", "redis":
		return nil
	}
	return &apperr.ConfigError{
		Err:  fmt.Errorf("%s is a %s cluster; database settings are those of a Valkey (or Redis) cluster; nothing was read or changed", cl.Name, cl.Engine),
		Hint: "check --cluster (env OXYCTL_CLUSTER) or the context's digitalocean.cluster",
	}
}

const databaseLong = `The managed Valkey cluster itself, through the DigitalOcean API: its settings
as code (settings), its event log (events) and its CA certificate (ca).

The token comes from DIGITALOCEAN_ACCESS_TOKEN (or DIGITALOCEAN_TOKEN) or the
context's digitalocean.token, never from a flag. Reading needs database:read;
settings apply and restore also need database:update.
`

// NewCmdDatabase builds the `database` noun.
func NewCmdDatabase(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "database <command>",
		Aliases: []string{"db"},
		Short:   "The managed Valkey cluster: settings as code, events, CA certificate",
		Long:    databaseLong + exitStatus,
		Example: "$ oxyctl database settings\n$ oxyctl database events --since 24h\n$ oxyctl database ca --file ~/.config/oxyctl/do-valkey-ca.crt\n",
		Args:    cmdutil.NoArgs,
	}
	cmd.AddCommand(NewCmdSettings(f), NewCmdEvents(f, nil), NewCmdCA(f, nil))
	return cmd
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
