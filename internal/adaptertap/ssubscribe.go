package adaptertap

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/socketio"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// ssubSource reads sharded traffic of one primary with SSUBSCRIBE on the
// channels that PUBSUB SHARDCHANNELS lists there, looking again every
// Refresh for new rooms and servers. It raises SHARDNUMSUB of every channel
// it subscribes to: the application's serverCount() then counts oxyctl too.
type ssubSource struct {
	cfg *Config
	n   valkeyclient.Node
}

func (s *ssubSource) node() string { return s.n.Addr }

func (s *ssubSource) session(ctx context.Context, ready func(string), deliver func(Event) bool) error {
	dc, release := s.n.Client.Dedicate()
	defer release()
	defer dc.Close()
	now := s.cfg.Now
	addr := s.n.Addr

	var mu sync.Mutex
	confirmed := map[string]bool{}
	changed := make(chan struct{}, 1)
	errs := dc.SetPubSubHooks(valkey.PubSubHooks{
		OnMessage: func(m valkey.PubSubMessage) {
			deliver(Event{Kind: EventMessage, Time: now(), Channel: m.Channel, Payload: m.Message, Node: addr})
		},
		OnSubscription: func(sub valkey.PubSubSubscription) {
			if sub.Kind != "ssubscribe" {
				return
			}
			mu.Lock()
			confirmed[sub.Channel] = true
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	})

	subscribed := map[string]bool{}
	// subscribeNew lists the node's channels and subscribes to new ones,
	// then waits until the server confirmed them all.
	subscribeNew := func() error {
		c, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
		chans, err := s.n.Client.Do(c, s.n.Client.B().PubsubShardchannels().Pattern(socketio.ShardChannelsPattern(s.cfg.Key)).Build()).AsStrSlice()
		if err != nil {
			return err
		}
		sort.Strings(chans)
		var fresh []string
		for _, ch := range chans {
			if subscribed[ch] || !s.wanted(ch) {
				continue
			}
			fresh = append(fresh, ch)
		}
		for _, ch := range fresh {
			if err := dc.Do(c, dc.B().Ssubscribe().Channel(ch).Build()).Error(); err != nil {
				return err
			}
			subscribed[ch] = true
		}
		for {
			mu.Lock()
			all := true
			for _, ch := range fresh {
				if !confirmed[ch] {
					all = false
					break
				}
			}
			mu.Unlock()
			if all {
				return nil
			}
			select {
			case <-changed:
			case err := <-errs:
				return closedErr(err)
			case <-c.Done():
				if ctx.Err() != nil {
					return nil
				}
				return errTimeout{"SSUBSCRIBE", addr}
			}
		}
	}
	if err := subscribeNew(); err != nil || ctx.Err() != nil {
		return err
	}
	ready(fmt.Sprintf("SSUBSCRIBE %d channels", len(subscribed)))
	t := time.NewTicker(s.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case err := <-errs:
			return closedErr(err)
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := subscribeNew(); err != nil {
				return err
			}
		}
	}
}

// wanted reports whether a sharded channel belongs to the namespaces asked for.
func (s *ssubSource) wanted(ch string) bool {
	info, ok := socketio.ParseChannel(s.cfg.Key, ch)
	if !ok || info.Kind != socketio.KindBroadcast {
		return false
	}
	if len(s.cfg.Namespaces) == 0 {
		return true
	}
	for _, n := range s.cfg.Namespaces {
		if info.Namespace == n {
			return true
		}
	}
	return false
}
