package clientlist

import (
	"fmt"

	"github.com/oxyhq/oxyctl/internal/human"
)

// Limit is the pub/sub soft output-buffer limit and where it comes from.
type Limit struct {
	Bytes int64
	From  string
}

// defaultSoftBytes is Valkey's own soft limit for pub/sub clients
// (client-output-buffer-limit pubsub 32mb 8mb 60).
const defaultSoftBytes = 8 << 20

// DefaultSoft is Valkey's default soft limit, judged against when no other
// is known.
var DefaultSoft = Limit{Bytes: defaultSoftBytes, From: "Valkey's default"}

// DigitalOcean's pubsub_client_output_buffer_limit (the hard limit, in MiB)
// is between these (the API's minimum and maximum); the soft limit is a
// quarter of it.
const (
	DOHardMinMiB = 32
	DOHardMaxMiB = 512
)

// MinSoft is the least soft limit there is to judge against: Valkey's
// default, or a quarter of DigitalOcean's least hard limit. A subscriber
// whose omem is at most half of it is over no limit (CouldBeOverBuffer).
const MinSoft = min(defaultSoftBytes, DOHardMinMiB<<20/4)

// OverBuffer is the one buffer rule: a pub/sub client (pattern, plain or
// shard subscriptions: the pubsub class limit cuts them all) whose unsent
// output (omem) passes half the soft limit. It reads slower than messages
// arrive and is cut off at the limit.
func OverBuffer(c *Client, soft Limit) bool {
	return c.PubSub() && soft.Bytes > 0 && c.OMem > soft.Bytes/2
}

// CouldBeOverBuffer reports whether c is over half of some soft limit there
// can be (MinSoft): only then is the actual limit worth looking up.
func CouldBeOverBuffer(c *Client) bool {
	return OverBuffer(c, Limit{Bytes: MinSoft})
}

// BufferMessage says that a subscriber's output buffer passed half the soft limit.
func BufferMessage(c *Client, soft Limit) string {
	return fmt.Sprintf("subscriber %s holds %s of unsent output, over half the pub/sub soft limit of %s (%s): it reads slower than messages arrive and is cut off at the limit, losing what was published meanwhile",
		who(c.Addr, c.Name), human.Bytes(c.OMem), human.Bytes(soft.Bytes), soft.From)
}
