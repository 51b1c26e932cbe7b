package clientlist

import (
	"fmt"
	"sort"
	"strconv"
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
	// Known says Instances can be trusted: some uid was seen, or the
	// server holds no pattern subscription, which every classic adapter
	// instance has, so none is running. An adapter older than 7.2 has no
	// per-instance response channel: its instances are not known.
	Known bool
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
	// Possible is set on a candidate that is not named as the stray: the
	// clients that could be strays do not match the extra subscribers one
	// for one, so some of them are not (an app's own SUBSCRIBE to another
	// channel looks the same in CLIENT LIST).
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
	// Named is set when the candidates matched the extra subscribers one
	// for one: each is in StrayReport.Strays.
	Named bool
	// Candidates are the clients that could be the extra subscribers when
	// they are not Named (more of them than extra subscribers, or fewer).
	Candidates []Stray
}

// Extra is how many subscribers are not adapter instances.
func (s *Surplus) Extra() int64 { return s.Subscribers - int64(s.Instances) }

// StrayReport is what Strays finds.
type StrayReport struct {
	// Strays are the clients named as strays: on a channel with as many
	// candidates as extra subscribers.
	Strays  []Stray
	Surplus []Surplus
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
// known from their response channels. The candidates for a channel with
// more subscribers than instances are the clients holding plain
// subscriptions that are not shaped like an instance (CLIENT LIST has
// counts, not channel names). When there are exactly as many candidates as
// extra subscribers, each is named as a stray; otherwise nobody is accused
// and the channel is reported once with its candidates. A channel with no
// known instance (an adapter that has no per-instance response channel) is
// not judged.
func Strays(snap *Snapshot, chans []RequestChannel) StrayReport {
	var rep StrayReport
	for _, ch := range chans {
		if !ch.Known || ch.Subscribers <= int64(ch.Instances) {
			continue
		}
		rep.Surplus = append(rep.Surplus, Surplus{Channel: ch.Channel, Subscribers: ch.Subscribers, Instances: ch.Instances})
	}
	if len(rep.Surplus) == 0 {
		return rep
	}
	var cands []Stray
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		for j := range n.Clients {
			c := &n.Clients[j]
			if c.Sub == 0 || InstanceShaped(c) || c.ID == n.SelfID && n.SelfID != 0 {
				continue
			}
			cands = append(cands, Stray{Node: n.Addr, ID: c.ID, Addr: c.Addr, Name: c.Name, Sub: c.Sub, PSub: c.PSub})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.Addr != b.Addr {
			return a.Addr < b.Addr
		}
		return a.Node < b.Node
	})
	named := map[int]bool{} // index in cands
	for i := range rep.Surplus {
		s := &rep.Surplus[i]
		if int64(len(cands)) == s.Extra() {
			s.Named = true
			for k := range cands {
				named[k] = true
				cands[k].Channels = append(cands[k].Channels, s.Channel)
			}
			continue
		}
		for _, c := range cands {
			c.Channels, c.Possible = []string{s.Channel}, true
			s.Candidates = append(s.Candidates, c)
		}
	}
	for k := range cands {
		if named[k] {
			rep.Strays = append(rep.Strays, cands[k])
		}
	}
	return rep
}

// Clients are the named strays and then, once each, the candidates of the
// channels where nobody was named (Possible): the health check's "stray" data.
func (r *StrayReport) Clients() []Stray {
	out := append([]Stray{}, r.Strays...)
	seen := map[string]int{} // node and id -> index in out
	for i, s := range out {
		seen[s.Node+"\x00"+strconv.FormatInt(s.ID, 10)] = i
	}
	for _, sp := range r.Surplus {
		for _, c := range sp.Candidates {
			k := c.Node + "\x00" + strconv.FormatInt(c.ID, 10)
			if i, ok := seen[k]; ok {
				if out[i].Possible {
					out[i].Channels = append(out[i].Channels, c.Channels...)
				}
				continue
			}
			seen[k] = len(out)
			c.Channels = append([]string(nil), c.Channels...)
			out = append(out, c)
		}
	}
	return out
}

// ChannelMessage says what is wrong with a request channel whose extra
// subscribers could not be named one for one ("" when they were).
func (s *Surplus) ChannelMessage() string {
	if s.Named {
		return ""
	}
	head := fmt.Sprintf("%s has %d subscribers but %d adapter instances: %d stray subscriber(s)", s.Channel, s.Subscribers, s.Instances, s.Extra())
	const shown = 10
	var names []string
	for i, c := range s.Candidates {
		if i == shown {
			names = append(names, fmt.Sprintf("and %d more", len(s.Candidates)-shown))
			break
		}
		names = append(names, c.Who())
	}
	switch {
	case len(s.Candidates) == 0:
		head += ", and no subscriber could be named (CLIENT LIST unreadable, or the extra one looks like an instance)"
	case int64(len(s.Candidates)) > s.Extra():
		head += ", among: " + strings.Join(names, ", ")
	default:
		head += ", some shaped like an instance; the plain subscribers that are not: " + strings.Join(names, ", ")
	}
	return head + ": fetchSockets() waits for an answer that never comes"
}

// Problems are the report's findings as sentences: the named strays first,
// then the channels whose extra subscribers could not be named.
func (r *StrayReport) Problems() []string {
	var out []string
	for _, s := range r.Strays {
		out = append(out, s.Message())
	}
	for i := range r.Surplus {
		if m := r.Surplus[i].ChannelMessage(); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// Message says what the stray is and what it breaks.
func (s *Stray) Message() string {
	return fmt.Sprintf("stray subscriber %s: a plain subscription that is not an adapter instance (sub=%d psub=%d) while %s has more subscribers than instances: fetchSockets() waits for its answer until it times out",
		s.Who(), s.Sub, s.PSub, strings.Join(s.Channels, ", "))
}
