package clientlist

import (
	"fmt"
	"sort"
	"strings"
)

// RequestChannel is one namespace's request channel of the classic
// Socket.IO adapter (<key>-request#<nsp>#) and who listens on it.
type RequestChannel struct {
	Namespace string
	Channel   string
	// Subscribers is PUBSUB NUMSUB of the channel, summed over the nodes:
	// the number the adapter's serverCount() uses.
	Subscribers int64
	// Instances are the adapter instances known from their response
	// channels (<key>-response#<nsp>#<uid>#, one uid each).
	Instances int
}

// Stray is a client that holds plain subscriptions without being shaped
// like an adapter instance's subscriber, while a request channel has more
// subscribers than instances.
type Stray struct {
	Node string `json:"node"`
	ID   int64  `json:"id"`
	Addr string `json:"addr"`
	Name string `json:"name"`
	Sub  int64  `json:"sub"`
	PSub int64  `json:"psub"`
	// Channels are the request channels with more subscribers than
	// instances (CLIENT LIST does not say which channels a client holds).
	Channels []string `json:"channels"`
	// Possible is set when there are more such clients than extra
	// subscribers: some of them are not strays.
	Possible bool `json:"possible"`
}

// Who is the client as a person reads it: its address and name.
func (s *Stray) Who() string { return who(s.Addr, s.Name) }

func who(addr, name string) string {
	if name == "" {
		return addr + " (no client name)"
	}
	return addr + " (client name " + name + ")"
}

// Surplus is a request channel with more subscribers than instances.
type Surplus struct {
	Channel     string
	Subscribers int64
	Instances   int
}

// StrayReport is what Strays finds.
type StrayReport struct {
	Strays  []Stray
	Surplus []Surplus
	// Unnamed is set when there are extra subscribers but no client could
	// be named (CLIENT LIST unreadable, or every subscriber looks like an
	// instance); Problems says why.
	Unnamed bool
}

// InstanceShaped reports whether a client's subscriptions look like an
// adapter instance's subscriber connection: per namespace one pattern
// subscription (<key>#<nsp>#*) and two or three plain ones (the request
// channel, its own response channel and, since @socket.io/redis-adapter 7,
// the shared response channel).
func InstanceShaped(c *Client) bool {
	return c.PSub >= 1 && c.Sub >= 2*c.PSub && c.Sub <= 3*c.PSub
}

// Strays compares each request channel's subscribers with the instances
// known from their response channels; when there are more subscribers, the
// clients holding plain subscriptions that are not shaped like an instance
// are named, as Possible when they outnumber the extra subscribers. A
// channel with no known instance (an adapter that has no per-instance
// response channel) is not judged.
func Strays(snap *Snapshot, chans []RequestChannel) StrayReport {
	var rep StrayReport
	var extra int64
	var names []string
	for _, ch := range chans {
		if ch.Instances == 0 || ch.Subscribers <= int64(ch.Instances) {
			continue
		}
		rep.Surplus = append(rep.Surplus, Surplus{Channel: ch.Channel, Subscribers: ch.Subscribers, Instances: ch.Instances})
		extra = max(extra, ch.Subscribers-int64(ch.Instances))
		names = append(names, ch.Channel)
	}
	if len(rep.Surplus) == 0 {
		return rep
	}
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		for j := range n.Clients {
			c := &n.Clients[j]
			if c.Sub == 0 || InstanceShaped(c) || c.ID == n.SelfID && n.SelfID != 0 {
				continue
			}
			rep.Strays = append(rep.Strays, Stray{Node: n.Addr, ID: c.ID, Addr: c.Addr, Name: c.Name, Sub: c.Sub, PSub: c.PSub, Channels: names})
		}
	}
	if int64(len(rep.Strays)) > extra {
		for i := range rep.Strays {
			rep.Strays[i].Possible = true
		}
	}
	sort.Slice(rep.Strays, func(i, j int) bool {
		a, b := rep.Strays[i], rep.Strays[j]
		if a.Addr != b.Addr {
			return a.Addr < b.Addr
		}
		return a.Node < b.Node
	})
	rep.Unnamed = len(rep.Strays) == 0
	return rep
}

// Problems are the report's findings as sentences, the strays first.
func (r *StrayReport) Problems() []string {
	var out []string
	for _, s := range r.Strays {
		out = append(out, s.Message())
	}
	if r.Unnamed {
		for _, s := range r.Surplus {
			out = append(out, fmt.Sprintf("%s has %d subscribers but %d adapter instances, and no subscriber could be named (CLIENT LIST unreadable, or the extra one looks like an instance): fetchSockets() waits for an answer that never comes",
				s.Channel, s.Subscribers, s.Instances))
		}
	}
	return out
}

// Message says what the stray is and what it breaks.
func (s *Stray) Message() string {
	what := "stray subscriber"
	if s.Possible {
		what = "possible stray subscriber"
	}
	return fmt.Sprintf("%s %s: a plain subscription that is not an adapter instance (sub=%d psub=%d) while %s has more subscribers than instances: fetchSockets() waits for its answer until it times out",
		what, s.Who(), s.Sub, s.PSub, strings.Join(s.Channels, ", "))
}
