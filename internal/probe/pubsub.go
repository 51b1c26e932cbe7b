package probe

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/socketio"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// PubSubData are the facts of the pubsub check.
type PubSubData struct {
	Key               string            `json:"key"`
	Mode              string            `json:"mode"` // "classic" or "sharded"
	ExpectedInstances int               `json:"expected_instances"`
	Namespaces        []PubSubNamespace `json:"namespaces"`
}

// PubSubNamespace is one Socket.IO namespace and the API instances
// subscribed to it.
type PubSubNamespace struct {
	Namespace string `json:"namespace"`
	Instances int64  `json:"instances"`
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
}

// Run counts the instances.
func (p *PubSubProbe) Run(ctx context.Context) Outcome {
	key := p.Key
	if key == "" {
		key = socketio.DefaultKey
	}
	data := &PubSubData{Key: key, Mode: "classic", ExpectedInstances: p.Expected, Namespaces: []PubSubNamespace{}}
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
	nodes := conn.Nodes()
	var nss []PubSubNamespace
	if p.Sharded {
		nss, err = p.sharded(ctx, conn, nodes, key)
	} else {
		nss, err = p.classic(ctx, nodes, key)
	}
	if err != nil {
		return Outcome{Status: Fail, Detail: errText(valkeyclient.Classify(err, conn.Target)), Data: data}
	}
	data.Namespaces = nss

	f := newFindings()
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
		return Outcome{Status: f.status, Detail: f.detail(""), Data: data}
	}
	summary := fmt.Sprintf("%s adapter %q: instances per namespace: %s", data.Mode, key, strings.Join(parts, ", "))
	if p.Expected > 0 {
		summary += fmt.Sprintf(" (expected %d)", p.Expected)
	}
	return Outcome{Status: f.status, Detail: f.detail(summary), Data: data}
}

// classic: namespaces from PUBSUB CHANNELS <key>-request#*, counts from
// PUBSUB NUMSUB <key>-request#<nsp>#, uids from PUBSUB CHANNELS <key>-response#*.
func (p *PubSubProbe) classic(ctx context.Context, nodes []valkeyclient.Node, key string) ([]PubSubNamespace, error) {
	reqPattern := socketio.GlobEscape(key) + "-request#*"
	type nodeResult struct {
		req, resp []string
		err       error
	}
	res := eachNode(nodes, func(c valkey.Client) nodeResult {
		var r nodeResult
		if r.req, r.err = c.Do(ctx, c.B().PubsubChannels().Pattern(reqPattern).Build()).AsStrSlice(); r.err != nil {
			return r
		}
		r.resp, r.err = c.Do(ctx, c.B().PubsubChannels().Pattern(socketio.ResponseChannelsPattern(key)).Build()).AsStrSlice()
		return r
	}, func(p any) nodeResult { return nodeResult{err: fmt.Errorf("internal error (a bug): %v", p)} })
	byNsp := map[string]*PubSubNamespace{}
	for _, r := range res {
		if r.err != nil {
			return nil, r.err
		}
		for _, ch := range r.req {
			if info, ok := socketio.ParseChannel(key, ch); ok && info.Kind == socketio.KindRequest {
				if byNsp[info.Namespace] == nil {
					byNsp[info.Namespace] = &PubSubNamespace{Namespace: info.Namespace, Channel: ch, UIDs: []string{}}
				}
			}
		}
	}
	for _, r := range res {
		for _, ch := range r.resp {
			if info, ok := socketio.ParseChannel(key, ch); ok && info.Kind == socketio.KindResponse && info.UID != "" {
				if ns := byNsp[info.Namespace]; ns != nil && !contains(ns.UIDs, info.UID) {
					ns.UIDs = append(ns.UIDs, info.UID)
				}
			}
		}
	}
	out := sortedNamespaces(byNsp)
	if len(out) == 0 {
		return out, nil
	}
	chans := make([]string, len(out))
	for i, ns := range out {
		chans[i] = ns.Channel
		sort.Strings(out[i].UIDs)
	}
	counts := eachNode(nodes, func(c valkey.Client) countResult {
		m, err := c.Do(ctx, c.B().PubsubNumsub().Channel(chans...).Build()).AsIntMap()
		return countResult{m, err}
	}, func(p any) countResult { return countResult{err: fmt.Errorf("internal error (a bug): %v", p)} })
	for _, c := range counts {
		if c.err != nil {
			return nil, c.err
		}
		for i := range out {
			out[i].Instances += c.m[out[i].Channel]
		}
	}
	return out, nil
}

type countResult struct {
	m   map[string]int64
	err error
}

// sharded: namespaces from PUBSUB SHARDCHANNELS <key>#* on every node,
// counts from PUBSUB SHARDNUMSUB <key>#<nsp># (routed to the slot's shard).
func (p *PubSubProbe) sharded(ctx context.Context, conn *valkeyclient.Conn, nodes []valkeyclient.Node, key string) ([]PubSubNamespace, error) {
	pattern := socketio.ShardChannelsPattern(key)
	type nodeResult struct {
		chans []string
		err   error
	}
	res := eachNode(nodes, func(c valkey.Client) nodeResult {
		ch, err := c.Do(ctx, c.B().PubsubShardchannels().Pattern(pattern).Build()).AsStrSlice()
		return nodeResult{ch, err}
	}, func(p any) nodeResult { return nodeResult{err: fmt.Errorf("internal error (a bug): %v", p)} })
	byNsp := map[string]*PubSubNamespace{}
	for _, r := range res {
		if r.err != nil {
			return nil, r.err
		}
		for _, ch := range r.chans {
			if info, ok := socketio.ParseChannel(key, ch); ok && info.Kind == socketio.KindBroadcast {
				if byNsp[info.Namespace] == nil {
					byNsp[info.Namespace] = &PubSubNamespace{Namespace: info.Namespace,
						Channel: socketio.BroadcastChannel(key, info.Namespace, ""), UIDs: []string{}}
				}
			}
		}
	}
	out := sortedNamespaces(byNsp)
	for i := range out {
		c := conn.Client
		m, err := c.Do(ctx, c.B().PubsubShardnumsub().Channel(out[i].Channel).Build()).AsIntMap()
		if err != nil {
			return nil, err
		}
		out[i].Instances = m[out[i].Channel]
	}
	return out, nil
}

// eachNode runs fn on every node at once and returns the results; a panic
// in fn becomes onPanic's result.
func eachNode[T any](nodes []valkeyclient.Node, fn func(valkey.Client) T, onPanic func(any) T) []T {
	out := make([]T, 0, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range nodes {
		c := n.Client
		wg.Add(1)
		go func(c valkey.Client) {
			defer wg.Done()
			var r T
			func() {
				defer func() {
					if p := recover(); p != nil {
						r = onPanic(p)
					}
				}()
				r = fn(c)
			}()
			mu.Lock()
			out = append(out, r)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	return out
}

func sortedNamespaces(m map[string]*PubSubNamespace) []PubSubNamespace {
	out := make([]PubSubNamespace, 0, len(m))
	for _, ns := range m {
		out = append(out, *ns)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
