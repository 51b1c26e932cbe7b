package root

import (
	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmd/clients"
	"github.com/oxyhq/oxyctl/internal/cmd/database"
	"github.com/oxyhq/oxyctl/internal/cmd/firewall"
	"github.com/oxyhq/oxyctl/internal/cmd/health"
	"github.com/oxyhq/oxyctl/internal/cmd/limits"
	"github.com/oxyhq/oxyctl/internal/cmd/pubsub"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
)

// opsCommands are the operation nouns, one line each.
func opsCommands(f *cmdutil.Factory) []*cobra.Command {
	return []*cobra.Command{
		health.NewCmdHealth(f, nil),
		limits.NewCmdLimits(f),
		pubsub.NewCmdPubsub(f),
		clients.NewCmdClients(f, nil),
		firewall.NewCmdFirewall(f),
		database.NewCmdDatabase(f),
	}
}
