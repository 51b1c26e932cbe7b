package probe

import (
	"context"
	"fmt"
	"strings"

	"github.com/oxyhq/oxyctl/internal/adaptertap"
	"github.com/oxyhq/oxyctl/internal/clientlist"
	"github.com/oxyhq/oxyctl/internal/socketio"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// PubSubData are the facts of the pubsub check.
type PubSubData struct {
	Key               string            `json:"key"`
	Mode              string            `json:"mode"` // "classic" or "sharded"
	ExpectedInstances int               `json:"expected_instances"`
	Namespaces        []PubSubNamespace `json:"namespaces"`
	// OutputBufferDisconnections is INFO stats'
	// client_output_buffer_limit_disconnections, summed over the nodes that
	// told (a node that did not is a note, and its count is not judged).
	OutputBufferDisconnections int64 `json:"output_buffer_disconnections"`
	// Subscribers are the clients in pub/sub mode (CLIENT LIST).
	Subscribers []PubSubSubscriber `json:"subscribers"`
	// Stray are the clients on a request channel that are not adapter
	// instances (classic adapter only).
	Stray []clientlist.Stray `json:"stray"`
	// Notes say what could not be looked at.
	Notes []string `json:"notes"`
}

// PubSubSubscriber is one client in pub/sub mode.
type PubSubSubscriber struct {
	Node      string `json:"node"`
	Addr      string `json:"addr"`
	Name      string `json:"name"`
	Sub       int64  `json:"sub"`
	PSub      int64  `json:"psub"`
	OMemBytes int64  `json:"omem_bytes"`
	IdleS     int64  `json:"idle_s"`
	// Instance is set when its subscriptions are shaped like an adapter
	// instance's subscriber (see clientlist.InstanceShaped).
	Instance bool `json:"instance"`
}

// PubSubNamespace is one Socket.IO namespace and the API instances
// subscribed to it.
type PubSubNamespace struct {
	Namespace string `json:"namespace"`
	// Instances are the API instances: classic, the uids of the response
	// channels (at most the request channel's subscribers; those when no
	// uid is known); sharded, SHARDNUMSUB of the main channel.
	Instances int64 `json:"instances"`
	// RequestSubscribers is the request channel's NUMSUB (classic): more
	// than Instances means a stray subscriber.
	RequestSubscribers int64 `json:"request_subscribers"`
	// Channel is the channel whose subscribers were counted.
	Channel string `json:"channel"`
	// UIDs are the instances' adapter uids (classic adapter only: one
	// response channel per instance); [] for the sharded adapter.
	UIDs []string `json:"uids"`
}

// PubSubProbe counts the API instances subscribed to the Socket.IO redis
// adapter's channels, per namespace. It only asks (PUBSUB CHANNELS, NUMSUB,
// SHARDCHANNELS, SHARDNUMSUB) and never subscribes: a SUBSCRIBE on a request
// channel would raise the adapter's server count and make fetchSockets()
// time out.
type PubSubProbe struct {
	Connect func(ctx context.Context) (*valkeyclient.Conn, error)
	Key     string // the adapter key (default socket.io)
	Sharded bool
	// Expected is the number of instances each namespace should have (0:
	// at least one is enough).
	Expected int
	// Soft gives the pub/sub soft output-buffer limit (nil:
	// clientlist.DefaultSoft); an error is a note and the default applies.
	Soft func(ctx context.Context) (clientlist.Limit, error)
}

// Run counts the instances.
func (p *PubSubProbe) Run(ctx context.Context) Outcome {
	key := p.Key
	if key == "" {
		key = socketio.DefaultKey
	}
	data := &PubSubData{Key: key, Mode: "classic", ExpectedInstances: p.Expected, Namespaces: []PubSubNamespace{},
		Subscribers: []PubSubSubscriber{}, Stray: []clientlist.Stray{}, Notes: []string{}}
	if p.Sharded {
		data.Mode = "sharded"
	}
	conn, err := p.Connect(ctx)
	if err != nil {
		return Outcome{Status: Fail, Detail: errText(err), Data: data}
	}
	defer conn.Close()

	// Classic pub/sub is cluster-wide but each node only knows its own
	// subscribers, so every node is asked and the counts are added. Shard
	// channels live on the shard that owns their slot.
	var (
		nss   []PubSubNamespace
		chans []clientlist.RequestChannel
	)
	if p.Sharded {
		nss, err = p.sharded(ctx, conn, key)
	} else {
		nss, chans, err = p.classic(ctx, conn, key)
	}
	if err != nil {
		return Outcome{Status: Fail, Detail: errText(valkeyclient.Classify(err, conn.Target)), Data: data}
	}
	data.Namespaces = nss

	f := newFindings()
	p.clients(ctx, conn, f, data, chans)
	var total int64
	var parts []string
	for _, ns := range nss {
		total += ns.Instances
		parts = append(parts, fmt.Sprintf("%s %d", ns.Namespace, ns.Instances))
		switch {
		case ns.Instances == 0:
			f.fail("namespace %s has no API instance subscribed", ns.Namespace)
		case p.Expected > 0 && ns.Instances < int64(p.Expected):
			f.warn("namespace %s has %d of %d expected API instances", ns.Namespace, ns.Instances, p.Expected)
		}
	}
	if len(nss) == 0 {
		what := socketio.RequestChannel(key, "<nsp>")
		if p.Sharded {
			what = socketio.BroadcastChannel(key, "<nsp>", "")
		}
		f.fail("no API instance is subscribed (%s adapter, no %s channel): is the API running with the redis adapter and key %q?", data.Mode, what, key)
		return Outcome{Status: f.status, Detail: f.detail(strings.Join(data.Notes, "; ")), Data: data}
	}
	summary := fmt.Sprintf("%s adapter %q: instances per namespace: %s", data.Mode, key, strings.Join(parts, ", "))
	if p.Expected > 0 {
		summary += fmt.Sprintf(" (expected %d)", p.Expected)
	}
	if len(data.Notes) > 0 {
		summary += "; " + strings.Join(data.Notes, "; ")
	}
	return Outcome{Status: f.status, Detail: f.detail(summary), Data: data}
}

// classic counts through adaptertap.Channels (PUBSUB CHANNELS and NUMSUB
// on every node, summed): a namespace per live request channel, its NUMSUB
// as RequestSubscribers, the uids of its response channels as UIDs. The
// request channels are returned for the stray check.
func (p *PubSubProbe) classic(ctx context.Context, conn *valkeyclient.Conn, key string) ([]PubSubNamespace, []clientlist.RequestChannel, error) {
	rep, err := adaptertap.Channels(ctx, adaptertap.ChannelsOptions{Key: key, Conn: conn})
	if err != nil {
		return nil, nil, err
	}
	chans := rep.RequestChannels()
	byNsp := map[string]*adaptertap.Namespace{}
	for i := range rep.Namespaces {
		byNsp[rep.Namespaces[i].Namespace] = &rep.Namespaces[i]
	}
	out := make([]PubSubNamespace, 0, len(chans))
	for _, ch := range chans {
		ns := PubSubNamespace{Namespace: ch.Namespace, Channel: ch.Channel, RequestSubscribers: ch.Subscribers,
			UIDs: append([]string{}, byNsp[ch.Namespace].UIDs...)}
		ns.Instances = ns.RequestSubscribers
		switch u := int64(len(ns.UIDs)); {
		case u > 0 && u < ns.Instances:
			ns.Instances = u
		case u == 0 && ch.Known:
			// No pattern subscription on the server: whatever holds the
			// request channel, no adapter instance is running.
			ns.Instances = 0
		}
		out = append(out, ns)
	}
	return out, chans, nil
}

// sharded counts through adaptertap.Channels (PUBSUB SHARDCHANNELS on
// every primary, SHARDNUMSUB of each namespace's main channel).
func (p *PubSubProbe) sharded(ctx context.Context, conn *valkeyclient.Conn, key string) ([]PubSubNamespace, error) {
	rep, err := adaptertap.Channels(ctx, adaptertap.ChannelsOptions{Key: key, Sharded: true, Conn: conn})
	if err != nil {
		return nil, err
	}
	out := make([]PubSubNamespace, 0, len(rep.Namespaces))
	for _, n := range rep.Namespaces {
		out = append(out, PubSubNamespace{Namespace: n.Namespace, Channel: socketio.BroadcastChannel(key, n.Namespace, ""),
			Instances: n.Instances, UIDs: []string{}})
	}
	return out, nil
}

// clients reads CLIENT LIST and INFO on every node and judges the
// subscribers: a stray on a request channel fails, a subscriber's
// output buffer over half the soft limit warns, and so do new output-buffer
// disconnections. A refused read is a note.
func (p *PubSubProbe) clients(ctx context.Context, conn *valkeyclient.Conn, f *findings, data *PubSubData, chans []clientlist.RequestChannel) {
	snap, err := clientlist.Read(ctx, conn)
	if err != nil {
		f.fail("could not read the clients: %s", errText(valkeyclient.Classify(err, conn.Target)))
		return
	}
	data.Notes = append(data.Notes, snap.Notes()...)
	cluster := len(snap.Nodes) > 1
	// Subscribers whose buffer could be over half a soft limit: only then
	// is the limit looked up (DigitalOcean's takes API calls).
	var full []*clientlist.Client
	for _, n := range snap.Nodes {
		label := ""
		if cluster {
			label = n.Addr + ": "
		}
		if n.OutputBufferDisconnections < 0 {
			data.Notes = append(data.Notes, label+"could not read the output-buffer disconnections (INFO stats client_output_buffer_limit_disconnections): not judged")
		} else {
			data.OutputBufferDisconnections += n.OutputBufferDisconnections
			f.counter(ctx, "pubsub:"+n.Addr+":client_output_buffer_limit_disconnections", label, n.OutputBufferDisconnections,
				"clients cut off at the output-buffer limit (client_output_buffer_limit_disconnections: a cut subscriber missed what was published meanwhile)")
		}
		for i := range n.Clients {
			c := &n.Clients[i]
			if !c.PubSub() {
				continue
			}
			data.Subscribers = append(data.Subscribers, PubSubSubscriber{Node: n.Addr, Addr: c.Addr, Name: c.Name,
				Sub: c.Sub, PSub: c.PSub, OMemBytes: c.OMem, IdleS: c.Idle, Instance: clientlist.InstanceShaped(c)})
			if clientlist.CouldBeOverBuffer(c) {
				full = append(full, c)
			}
		}
	}
	if len(full) > 0 {
		soft := p.soft(ctx, data)
		for _, c := range full {
			if clientlist.OverBuffer(c, soft) {
				f.warn("%s", clientlist.BufferMessage(c, soft))
			}
		}
	}
	if p.Sharded {
		return
	}
	sr := clientlist.Strays(snap, chans)
	data.Stray = append(data.Stray, sr.Clients()...)
	for _, msg := range sr.Problems() {
		f.fail("%s", msg)
	}
}

// soft is the pub/sub soft output-buffer limit: DigitalOcean's when p.Soft
// is set and answers, else Valkey's default (with a note saying why).
func (p *PubSubProbe) soft(ctx context.Context, data *PubSubData) clientlist.Limit {
	if p.Soft == nil {
		return clientlist.DefaultSoft
	}
	l, err := p.Soft(ctx)
	if err != nil {
		data.Notes = append(data.Notes, "soft limit: "+errText(err)+" (judged against "+clientlist.DefaultSoft.From+")")
		return clientlist.DefaultSoft
	}
	return l
}
