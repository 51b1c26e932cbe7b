// Package pubsub is `oxyctl pubsub channels|tail`: the Socket.IO Redis
// adapter's live channels and instances, and its traffic decoded live.
package pubsub

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
)

const pubsubLong = `The Oxy API instances talk to each other through @socket.io/redis-adapter on
Valkey pub/sub channels named <key>#<namespace>#... (key: socketio.key in the
config, default socket.io). 'channels' shows which instances are listening;
'tail' decodes the traffic live without changing what the application sees.
`

// NewCmdPubsub builds `oxyctl pubsub`.
func NewCmdPubsub(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pubsub <command>",
		Short: "Inspect and tail the Socket.IO adapter's pub/sub traffic",
		Long:  pubsubLong,
		Example: "  $ oxyctl pubsub channels\n" +
			"  $ oxyctl pubsub tail --namespace /chat --count 20",
	}
	cmd.AddCommand(newCmdChannels(f, nil), newCmdTail(f, nil))
	return cmd
}

// adapterKey is --key, else the setting socketio.key, else socket.io.
func adapterKey(flag string, s *config.Settings) string {
	if flag != "" {
		return flag
	}
	if s != nil && s.SocketIO.Key != "" {
		return s.SocketIO.Key
	}
	return config.DefaultSIOKey
}

// normNamespace adds the leading slash Socket.IO namespaces always have.
func normNamespace(n string) string {
	if !strings.HasPrefix(n, "/") {
		return "/" + n
	}
	return n
}
