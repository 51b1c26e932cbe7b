// Package root builds the oxyctl command tree.
package root

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmd/configcmd"
	"github.com/oxyhq/oxyctl/internal/cmd/version"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/output"
)

// cobra's run hooks of every command on the path run, not only the
// nearest. It is a package variable of cobra: set it once, before any Run,
// so that concurrent Runs (tests) do not race on it.
func init() { cobra.EnableTraverseRunHooks = true }

// ExitStatus is the EXIT STATUS paragraph every command's help ends with.
const ExitStatus = `
EXIT STATUS
  0    success
  1    the command ran and found a problem (a failing check, a firewall finding
       of severity error, or with --strict a warning)
  2    usage or configuration error (bad flag, malformed URL, invalid policy or
       config file, missing Valkey URL or DigitalOcean token)
  3    runtime error (cannot connect, TLS, authentication, timeout, API error)
  130  interrupted by Ctrl-C (tail and --watch end with 0 instead)`

const rootLong = `oxyctl answers, in seconds: is the deployment healthy, who is being rate
limited and can I lift it, what is flowing between the API instances right
now, and is the database firewall exactly what we declared?

Settings come from flags, then the environment, then the active context of
the config file ($XDG_CONFIG_HOME/oxyctl/config.yaml), then defaults.
`

const rootExample = `$ oxyctl health
$ oxyctl limits list --blocked
$ oxyctl limits reset 203.0.113.7 --dry-run
$ oxyctl pubsub tail --namespace /chat --count 20
$ oxyctl firewall audit -o json
`

// NewCmdRoot builds the whole command tree with its global flags, groups
// and persistent hooks: the tree that app runs and the docs generator
// documents.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:               "oxyctl <command>",
		Short:             "Operate the Oxy API's Valkey deployment",
		Long:              rootLong + ExitStatus,
		Example:           rootExample,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	cmd.SetFlagErrorFunc(cmdutil.FlagErrorFunc)
	// Runs once cobra has parsed the flags and arguments, before any command.
	cmd.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		f.Started = true
		f.IO.Verbose = f.Flags.Verbose
		f.IO.NoHeaders = f.Flags.NoHeaders
		if _, err := output.ParseFormat(f.Flags.Output); err != nil {
			return err
		}
		if err := config.CheckFlags(f.Flags); err != nil {
			return err
		}
		if f.Flags.Changed("jq") {
			if f.Flags.Changed("output") && f.Format() != output.JSON {
				return apperr.Usagef("--jq filters JSON output: drop -o %s", f.Flags.Output)
			}
			f.Flags.Output = string(output.JSON) // --jq implies -o json, errors included
			q, err := output.CompileJQ(f.Flags.JQ)
			if err != nil {
				return err
			}
			f.JQ = output.NewJQWriter(q, f.IO.Out, f.IO.IsStdoutTTY())
			f.IO.Out = f.JQ
		}
		// Server- and API-controlled text never drives the terminal.
		f.IO.GuardText(f.Format() == output.Text)
		if f.OnStart != nil {
			f.OnStart(c)
		}
		return nil
	}

	fl := f.Flags
	pf := cmd.PersistentFlags()
	pf.StringVarP(&fl.Output, "output", "o", "text", "output format: {text|json}")
	pf.StringVar(&fl.ConfigPath, "config", "", "config file (env: OXYCTL_CONFIG; default $XDG_CONFIG_HOME/oxyctl/config.yaml)")
	pf.StringVar(&fl.Context, "context", "", "config context to use (env: OXYCTL_CONTEXT)")
	pf.StringVar(&fl.RedisURL, "redis-url", "", "Valkey URL, redis:// or rediss:// (env: OXYCTL_REDIS_URL, REDIS_URL)")
	pf.StringVar(&fl.RedisCA, "redis-ca", "", "CA bundle for rediss:// (env: OXYCTL_REDIS_CA; default: system roots)")
	pf.BoolVar(&fl.RedisInsecure, "redis-insecure", false, "do not verify the Valkey TLS certificate (dangerous)")
	pf.BoolVar(&fl.AllowPlaintext, "allow-plaintext", false, "allow sending a password over redis:// to a host that is not loopback")
	pf.StringVar(&fl.APIURL, "api-url", "", "Oxy API base URL (env: OXY_API_URL; default "+config.DefaultAPIURL+")")
	pf.StringVar(&fl.DOAPIURL, "do-api-url", "", "DigitalOcean API URL (env: DIGITALOCEAN_API_URL; default "+config.DefaultDOAPIURL+")")
	pf.StringVar(&fl.Cluster, "cluster", "", "database cluster name or UUID (env: OXYCTL_CLUSTER; default "+config.DefaultCluster+")")
	pf.DurationVar(&fl.Timeout, "timeout", config.DefaultTimeout, "bound for every network step (env: OXYCTL_TIMEOUT)")
	pf.BoolVarP(&fl.Verbose, "verbose", "v", false, "log what oxyctl does to stderr (secrets masked)")
	pf.StringVar(&fl.JQ, "jq", "", "filter the JSON output with a jq expression, as gh does (implies -o json; strings print raw; a bad expression, or one that fails on the output, exits 2)")
	pf.BoolVar(&fl.NoHeaders, "no-headers", false, "leave the header row out of text tables")
	fl.Changed = func(name string) bool {
		fg := pf.Lookup(name)
		return fg != nil && fg.Changed
	}
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return config.ContextNames(config.Path(fl, f.Getenv)), cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("cluster", func(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return completeClusters(c.Context(), f, prefix), cobra.ShellCompDirectiveNoFileComp
	})

	cmd.AddGroup(&cobra.Group{ID: "ops", Title: "Operations:"}, &cobra.Group{ID: "setup", Title: "Settings and tool:"})
	cmd.SetHelpCommandGroupID("setup")
	cmd.SetCompletionCommandGroupID("setup")

	add := func(group string, c *cobra.Command) {
		c.GroupID = group
		cmd.AddCommand(c)
	}
	add("setup", version.NewCmdVersion(f, nil))
	version.AddFlag(cmd, f)
	add("setup", configcmd.NewCmdConfig(f))
	for _, c := range opsCommands(f) {
		add("ops", c)
	}
	cmd.InitDefaultCompletionCmd()
	ensureExitStatus(cmd)
	cmd.AddCommand(newCmdEnvironment()) // a help topic: no EXIT STATUS
	cmdutil.Groups(cmd)
	return cmd
}

// ensureExitStatus gives every command's help (and so its man page) an
// EXIT STATUS paragraph: the general one where a command has none of its own.
func ensureExitStatus(cmd *cobra.Command) {
	if !strings.Contains(cmd.Long, "EXIT STATUS") {
		long := cmd.Long
		if long == "" {
			long = cmd.Short + "."
		}
		cmd.Long = strings.TrimRight(long, "\n") + "\n" + ExitStatus
	}
	for _, c := range cmd.Commands() {
		ensureExitStatus(c)
	}
}
