package adaptertap

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/clientlist"
	"github.com/oxyhq/oxyctl/internal/socketio"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// Statuses of a namespace and of a report.
const (
	StatusOK   = "ok"
	StatusWarn = "warn"
	StatusFail = "fail"
)

// ChannelCount is a channel and its plain (non-pattern) subscribers.
type ChannelCount struct {
	Channel     string `json:"channel"`
	Subscribers int64  `json:"subscribers"`
}

// Namespace is what the live channels say about one namespace.
type Namespace struct {
	Namespace string `json:"namespace"`
	// Instances is the number of adapter instances listening: NUMSUB of
	// the request channel (classic), SHARDNUMSUB of the main channel
	// (sharded), summed over every node.
	Instances int64 `json:"instances"`
	// UIDs are the instances' adapter uids, from their response channels.
	UIDs     []string       `json:"uids"`
	Channels []ChannelCount `json:"channels"`
	// Expected is the configured instance count (0: at least one).
	Expected int      `json:"expected"`
	Status   string   `json:"status"`
	Problems []string `json:"problems"`
}

// Report is the result of Channels.
type Report struct {
	Key        string      `json:"key"`
	Adapter    string      `json:"adapter"` // classic or sharded
	Nodes      int         `json:"nodes"`   // servers asked
	Expected   int         `json:"expected"`
	Status     string      `json:"status"`
	Namespaces []Namespace `json:"namespaces"`
	Problems   []string    `json:"problems"`
	// PatternSubscriptions is PUBSUB NUMPAT summed over the nodes (classic):
	// every classic adapter instance pattern-subscribes to its broadcasts,
	// so with none a request channel's subscribers are no instances at all.
	PatternSubscriptions int64 `json:"pattern_subscriptions"`
}

// ChannelsOptions configure Channels.
type ChannelsOptions struct {
	Key      string
	Sharded  bool
	Expected int // 0: at least one instance per namespace
	Conn     *valkeyclient.Conn
}

// Channels lists the adapter's live channels per namespace and counts the
// instances listening. Classic: PUBSUB CHANNELS and NUMSUB on every node
// (a cluster keeps classic subscriptions per node), merged and summed.
// Sharded: PUBSUB SHARDCHANNELS on every primary and SHARDNUMSUB, routed to
// each channel's shard. Broadcast channels are only pattern-subscribed, so
// their NUMSUB never counts instances.
func Channels(ctx context.Context, o ChannelsOptions) (*Report, error) {
	if o.Key == "" {
		o.Key = socketio.DefaultKey
	}
	r := &Report{Key: o.Key, Adapter: socketio.AdapterClassic, Expected: o.Expected, Namespaces: []Namespace{}, Problems: []string{}}
	var (
		counts map[string]int64
		err    error
	)
	if o.Sharded {
		r.Adapter = socketio.AdapterSharded
		counts, r.Nodes, err = shardedCounts(ctx, o)
	} else {
		counts, r.PatternSubscriptions, r.Nodes, err = classicCounts(ctx, o)
	}
	if err != nil {
		return nil, err
	}
	r.Namespaces = group(o, counts)
	judge(r)
	return r, nil
}

// classicCounts lists the key's channels on every node and sums NUMSUB and
// NUMPAT. The nodes are asked at once.
func classicCounts(ctx context.Context, o ChannelsOptions) (map[string]int64, int64, int, error) {
	nodes := o.Conn.Nodes()
	k := socketio.GlobEscape(o.Key)
	patterns := []string{k + "-request#*", k + "-response#*", k + "#*"}
	type nodeCounts struct {
		counts map[string]int64
		numpat int64
		err    error
	}
	res := valkeyclient.EachNode(nodes, func(n valkeyclient.Node) nodeCounts {
		cmds := make(valkey.Commands, 0, len(patterns)+1)
		for _, p := range patterns {
			cmds = append(cmds, n.Client.B().PubsubChannels().Pattern(p).Build())
		}
		cmds = append(cmds, n.Client.B().PubsubNumpat().Build())
		replies := n.Client.DoMulti(ctx, cmds...)
		numpat, err := replies[len(patterns)].AsInt64()
		if err != nil {
			return nodeCounts{err: fmt.Errorf("PUBSUB NUMPAT on %s: %w", n.Addr, err)}
		}
		var names []string
		for _, res := range replies[:len(patterns)] {
			list, err := res.AsStrSlice()
			if err != nil {
				return nodeCounts{err: fmt.Errorf("PUBSUB CHANNELS on %s: %w", n.Addr, err)}
			}
			names = append(names, list...)
		}
		counts := map[string]int64{}
		if len(names) == 0 {
			return nodeCounts{counts: counts, numpat: numpat}
		}
		sort.Strings(names)
		res, err := n.Client.Do(ctx, n.Client.B().PubsubNumsub().Channel(names...).Build()).ToArray()
		if err != nil {
			return nodeCounts{err: fmt.Errorf("PUBSUB NUMSUB on %s: %w", n.Addr, err)}
		}
		for i := 0; i+1 < len(res); i += 2 {
			name, err1 := res[i].ToString()
			num, err2 := res[i+1].AsInt64()
			if err1 != nil || err2 != nil {
				return nodeCounts{err: fmt.Errorf("PUBSUB NUMSUB on %s: unexpected reply", n.Addr)}
			}
			counts[name] += num
		}
		return nodeCounts{counts: counts, numpat: numpat}
	}, func(n valkeyclient.Node, p any) nodeCounts {
		return nodeCounts{err: fmt.Errorf("internal error (a bug) on %s: %v", n.Addr, p)}
	})
	counts := map[string]int64{}
	var numpat int64
	for _, r := range res {
		if r.err != nil {
			return nil, 0, 0, r.err
		}
		for name, num := range r.counts {
			counts[name] += num
		}
		numpat += r.numpat
	}
	return counts, numpat, len(nodes), nil
}

// shardedCounts lists the prefix's shard channels on every primary and asks
// SHARDNUMSUB of each, routed to its shard.
func shardedCounts(ctx context.Context, o ChannelsOptions) (map[string]int64, int, error) {
	nodes, err := o.Conn.Primaries(ctx)
	if err != nil {
		return nil, 0, err
	}
	set := map[string]bool{}
	for _, n := range nodes {
		list, err := n.Client.Do(ctx, n.Client.B().PubsubShardchannels().Pattern(socketio.ShardChannelsPattern(o.Key)).Build()).AsStrSlice()
		if err != nil {
			return nil, 0, fmt.Errorf("PUBSUB SHARDCHANNELS on %s: %w", n.Addr, err)
		}
		for _, c := range list {
			set[c] = true
		}
	}
	names := make([]string, 0, len(set))
	for c := range set {
		names = append(names, c)
	}
	sort.Strings(names)
	counts := map[string]int64{}
	if len(names) == 0 {
		return counts, len(nodes), nil
	}
	// One channel per command: in a cluster each may live on another shard.
	cmds := make(valkey.Commands, 0, len(names))
	for _, c := range names {
		cmds = append(cmds, o.Conn.Client.B().PubsubShardnumsub().Channel(c).Build())
	}
	for i, res := range o.Conn.Client.DoMulti(ctx, cmds...) {
		arr, err := res.ToArray()
		if err != nil {
			return nil, 0, fmt.Errorf("PUBSUB SHARDNUMSUB %s: %w", names[i], err)
		}
		if len(arr) != 2 {
			return nil, 0, fmt.Errorf("PUBSUB SHARDNUMSUB %s: unexpected reply", names[i])
		}
		num, err := arr[1].AsInt64()
		if err != nil {
			return nil, 0, fmt.Errorf("PUBSUB SHARDNUMSUB %s: unexpected reply", names[i])
		}
		counts[names[i]] = num
	}
	return counts, len(nodes), nil
}

// group sorts channels into namespaces and counts instances.
func group(o ChannelsOptions, counts map[string]int64) []Namespace {
	byNsp := map[string]*Namespace{}
	get := func(nsp string) *Namespace {
		n, ok := byNsp[nsp]
		if !ok {
			n = &Namespace{Namespace: nsp, UIDs: []string{}, Channels: []ChannelCount{}, Expected: o.Expected, Problems: []string{}}
			byNsp[nsp] = n
		}
		return n
	}
	names := make([]string, 0, len(counts))
	for c := range counts {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		info, ok := socketio.ParseChannel(o.Key, c)
		if !ok {
			continue
		}
		num := counts[c]
		if !o.Sharded && info.Kind == socketio.KindBroadcast && num == 0 {
			continue // a broadcast channel is only listed when someone SUBSCRIBEd it
		}
		n := get(info.Namespace)
		n.Channels = append(n.Channels, ChannelCount{Channel: c, Subscribers: num})
		switch {
		case !o.Sharded && info.Kind == socketio.KindRequest:
			n.Instances += num
		case !o.Sharded && info.Kind == socketio.KindResponse && info.UID != "":
			n.UIDs = append(n.UIDs, info.UID)
		case o.Sharded && info.Room == "":
			n.Instances += num
		case o.Sharded && socketio.IsShardedUID(info.Room):
			n.UIDs = append(n.UIDs, info.Room)
		}
	}
	out := make([]Namespace, 0, len(byNsp))
	for _, n := range byNsp {
		sort.Strings(n.UIDs)
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out
}

// judge sets each namespace's status and the report's.
func judge(r *Report) {
	r.Status = StatusOK
	worse := func(cur, s string) string {
		rank := map[string]int{StatusOK: 0, StatusWarn: 1, StatusFail: 2}
		if rank[s] > rank[cur] {
			return s
		}
		return cur
	}
	if len(r.Namespaces) == 0 {
		r.Status = StatusFail
		want := "at least one instance"
		if r.Expected > 0 {
			want = fmt.Sprintf("%d instances", r.Expected)
		}
		r.Problems = append(r.Problems, fmt.Sprintf("no Socket.IO %s adapter channels found for key %q on %d server(s), want %s (is the app running, with this key? settings: socketio.key, socketio.sharded)", r.Adapter, r.Key, r.Nodes, want))
		return
	}
	countChan := "request channel (NUMSUB)"
	if r.Adapter == socketio.AdapterSharded {
		countChan = "main channel (SHARDNUMSUB)"
	}
	for i := range r.Namespaces {
		n := &r.Namespaces[i]
		n.Status = StatusOK
		switch {
		case n.Expected > 0 && n.Instances < int64(n.Expected):
			n.Status = StatusFail
			n.Problems = append(n.Problems, fmt.Sprintf("%d instance(s) listening, %d expected", n.Instances, n.Expected))
		case n.Expected == 0 && n.Instances < 1:
			n.Status = StatusFail
			n.Problems = append(n.Problems, "no instance listening on the "+countChan)
		case n.Expected > 0 && n.Instances > int64(n.Expected):
			n.Status = StatusWarn
			n.Problems = append(n.Problems, fmt.Sprintf("%d instance(s) listening, more than the %d expected", n.Instances, n.Expected))
		}
		if u := int64(len(n.UIDs)); n.Instances > u {
			n.Status = worse(n.Status, StatusWarn)
			n.Problems = append(n.Problems, fmt.Sprintf("%d subscriber(s) on the %s but %d adapter uid(s): a subscriber that is not an adapter (a plain SUBSCRIBE by some tool?) makes fetchSockets() and allRooms() wait for replies that never come", n.Instances, countChan, u))
		} else if n.Instances < u {
			n.Status = worse(n.Status, StatusWarn)
			n.Problems = append(n.Problems, fmt.Sprintf("%d adapter uid(s) but %d subscriber(s) on the %s", u, n.Instances, countChan))
		}
		r.Status = worse(r.Status, n.Status)
	}
}

// RequestChannels are the classic adapter's live request channels
// (<key>-request#<nsp>#, listed by PUBSUB CHANNELS), one per namespace:
// their subscribers (NUMSUB, summed over the nodes: the server count the
// adapter's fetchSockets() waits for) and the instances known from their
// response channels (one uid each). This is the one counting that the
// stray check (clientlist.Strays) and health's pubsub check judge. A
// sharded report has none.
func (r *Report) RequestChannels() []clientlist.RequestChannel {
	out := []clientlist.RequestChannel{}
	if r.Adapter != socketio.AdapterClassic {
		return out
	}
	for i := range r.Namespaces {
		n := &r.Namespaces[i]
		ch := socketio.RequestChannel(r.Key, n.Namespace)
		if !slices.ContainsFunc(n.Channels, func(c ChannelCount) bool { return c.Channel == ch }) {
			continue // only a response or broadcast channel is live
		}
		out = append(out, clientlist.RequestChannel{Namespace: n.Namespace, Channel: ch, Subscribers: n.Instances, Instances: len(n.UIDs),
			Known: len(n.UIDs) > 0 || r.PatternSubscriptions == 0})
	}
	return out
}
