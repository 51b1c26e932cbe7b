// Package root builds the oxyctl command tree.
package root

import (
	"strings"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmd/configcmd"
	"github.com/oxyhq/oxyctl/internal/cmd/version"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
)

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

// NewCmdRoot builds the root command with its global flags.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "oxyctl <command>",
		Short: "Operate the Oxy API's Valkey deployment",
		Long: heredoc.Doc(`
			oxyctl answers, in seconds: is the deployment healthy, who is being rate
			limited and can I lift it, what is flowing between the API instances right
			now, and is the database firewall exactly what we declared?

			Settings come from flags, then the environment, then the active context of
			the config file ($XDG_CONFIG_HOME/oxyctl/config.yaml), then defaults.
		`) + ExitStatus,
		Example: heredoc.Doc(`
			$ oxyctl health
			$ oxyctl limits list --blocked
			$ oxyctl limits reset 203.0.113.7 --dry-run
			$ oxyctl pubsub tail --namespace /chat --count 20
			$ oxyctl firewall audit -o json
		`),
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	cmd.SetFlagErrorFunc(cmdutil.FlagErrorFunc)

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
	dynamicCompletions(cmd, f)
	ensureExitStatus(cmd)
	cmd.AddCommand(newCmdEnvironment()) // a help topic: no EXIT STATUS
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
