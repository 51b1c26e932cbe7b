package adaptertap

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valkey-io/valkey-go"
)

// psubSource reads classic traffic with PSUBSCRIBE on one dedicated
// connection. In a cluster any node will do (PUBLISH reaches every node);
// after a failure the next node is tried.
type psubSource struct {
	cfg  *Config
	next int

	mu   sync.Mutex
	addr string
}

func (s *psubSource) node() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

func (s *psubSource) session(ctx context.Context, ready func(string), deliver func(Event) bool) error {
	nodes := s.cfg.Conn.Nodes()
	if len(nodes) == 0 {
		return errors.New("the cluster client knows no node")
	}
	n := nodes[s.next%len(nodes)]
	s.mu.Lock()
	s.addr = n.Addr
	s.mu.Unlock()

	patterns := s.cfg.Patterns()
	want := int64(len(patterns))
	subscribed := make(chan struct{})
	var confirmed atomic.Int64
	var once sync.Once
	now := s.cfg.Now

	dc, release := n.Client.Dedicate()
	defer release()
	defer dc.Close()
	errs := dc.SetPubSubHooks(valkey.PubSubHooks{
		OnMessage: func(m valkey.PubSubMessage) {
			deliver(Event{Kind: EventMessage, Time: now(), Channel: m.Channel, Payload: m.Message, Node: n.Addr})
		},
		OnSubscription: func(sub valkey.PubSubSubscription) {
			if sub.Kind == "psubscribe" && confirmed.Add(1) >= want {
				once.Do(func() { close(subscribed) })
			}
		},
	})
	if err := dc.Do(ctx, dc.B().Psubscribe().Pattern(patterns...).Build()).Error(); err != nil {
		s.next++
		return err
	}
	t := time.NewTimer(s.cfg.Timeout)
	defer t.Stop()
	select {
	case <-subscribed:
		ready("PSUBSCRIBE " + strings.Join(patterns, " "))
	case err := <-errs:
		s.next++
		return closedErr(err)
	case <-t.C:
		s.next++
		return errTimeout{"PSUBSCRIBE", n.Addr}
	case <-ctx.Done():
		return nil
	}
	select {
	case err := <-errs:
		s.next++
		return closedErr(err)
	case <-ctx.Done():
		return nil
	}
}

// closedErr turns the nil a closed hook channel yields into an error.
func closedErr(err error) error {
	if err == nil {
		return errors.New("the connection closed")
	}
	return err
}
