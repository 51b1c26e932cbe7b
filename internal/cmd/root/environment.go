package root

import "github.com/spf13/cobra"

// environmentHelp is `oxyctl help environment`: every environment variable
// oxyctl reads. A test checks the list against the code.
const environmentHelp = `Every environment variable oxyctl reads. A flag wins over its variable, and a
variable over the config file's context (see 'oxyctl config view' for where
each setting came from).

SETTINGS
  OXYCTL_CONFIG              the config file (--config; default
                             $XDG_CONFIG_HOME/oxyctl/config.yaml)
  OXYCTL_CONTEXT             the context of the config file to use (--context)
  OXYCTL_REDIS_URL, REDIS_URL
                             Valkey URL, redis:// or rediss:// (--redis-url)
  OXYCTL_REDIS_CA            CA bundle for rediss:// (--redis-ca)
  OXY_API_URL                Oxy API base URL (--api-url)
  DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN
                             DigitalOcean API token (no flag: env or config)
  DIGITALOCEAN_API_URL       DigitalOcean API URL (--do-api-url)
  OXYCTL_CLUSTER             database cluster name or UUID (--cluster)
  OXYCTL_TIMEOUT             bound for every network step, e.g. 10s (--timeout)

FILES
  XDG_CONFIG_HOME            where the default config file is
                             ($XDG_CONFIG_HOME/oxyctl/config.yaml)
  XDG_STATE_HOME             where backups of DigitalOcean writes go
                             ($XDG_STATE_HOME/oxyctl/backups)
  HOME                       ~ in the config file, and ~/.config and
                             ~/.local/state when the XDG variables are unset

TERMINAL
  NO_COLOR                   set and not empty: no color
  CLICOLOR                   0: no color
  CLICOLOR_FORCE             set and not 0: color even through a pipe
  TERM                       dumb: no color
  COLUMNS                    the width to fit text into when stdout is not a
                             terminal`

// newCmdEnvironment is a help topic: no Run, listed under "Additional help
// topics" and shown by 'oxyctl help environment'.
func newCmdEnvironment() *cobra.Command {
	return &cobra.Command{
		Use:   "environment",
		Short: "Environment variables that oxyctl reads",
		Long:  environmentHelp,
	}
}
