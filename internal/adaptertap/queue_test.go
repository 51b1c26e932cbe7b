package adaptertap

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/socketio"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

func msg(n int) Event {
	return Event{Kind: EventMessage, Channel: "c", Payload: strings.Repeat("x", n)}
}

// What does not fit is dropped and counted, in its place in the order; what
// was taken is kept; a gap is never dropped.
func TestQueueDropsInPlace(t *testing.T) {
	q := newQueue(100, time.Now)
	q.push(msg(59))                // 60 bytes
	q.push(msg(59))                // 120 > 100: dropped
	q.push(msg(59))                // dropped, same gap
	q.push(Event{Kind: EventLost}) // never dropped
	q.push(msg(9))                 // 70: fits
	q.push(msg(59))                // dropped: a new gap after the message
	var kinds []string
	for {
		ev, ok := q.pop()
		if !ok {
			break
		}
		switch ev.Kind {
		case EventMessage:
			kinds = append(kinds, "m")
		case EventGap:
			kinds = append(kinds, "gap"+string(rune('0'+ev.Dropped)))
		case EventLost:
			kinds = append(kinds, "lost")
		}
	}
	if got := strings.Join(kinds, " "); got != "m gap2 lost m gap1" {
		t.Fatalf("order %q", got)
	}
	if q.dropped != 3 || q.bytes != 0 {
		t.Fatalf("dropped %d, bytes %d", q.dropped, q.bytes)
	}
	// A single message larger than the bound passes when nothing is held.
	q.push(msg(500))
	if ev, ok := q.pop(); !ok || len(ev.Payload) != 500 {
		t.Fatal("a large message was dropped from an empty queue")
	}
}

// slowSink takes a message every delay.
type slowSink struct {
	mu       sync.Mutex
	messages int
	dropped  int64
	delay    time.Duration
}

func (s *slowSink) Event(ev Event) error {
	s.mu.Lock()
	s.dropped += ev.Dropped
	s.mu.Unlock()
	return nil
}

func (s *slowSink) Message(*socketio.Message) error {
	time.Sleep(s.delay)
	s.mu.Lock()
	s.messages++
	s.mu.Unlock()
	return nil
}

func (s *slowSink) Flush() error { return nil }

// A reader far slower than the traffic: the tail holds at most its buffer,
// drops the rest, and says how many it dropped. (Before: 8,192 whole
// messages were held, 1.7 GB of 1 MB broadcasts.)
func TestTailBoundsWhatASlowReaderHolds(t *testing.T) {
	// No output-buffer limit on the server: on a loaded machine the tail's
	// reader can fall 32 MiB behind the publisher, and the server would cut
	// it off (a loss the tail cannot count); what is tested here is the
	// tail's own bound.
	srv := valkeytest.Start(t, valkeytest.Options{Args: []string{"--client-output-buffer-limit", "pubsub 0 0 0"}})
	pub := srv.Client(t)
	conn := connect(t, srv.URL, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sink := &slowSink{delay: 20 * time.Millisecond}
	const n, size = 200, 256 << 10 // 50 MiB of broadcasts against a 2 MiB buffer
	ready := make(chan struct{})
	var peak uint64
	done := make(chan *TailEnd, 1)
	go func() {
		end, err := Tail(ctx, TailOptions{
			Config:      Config{Mode: ModePSubscribe, Timeout: 5 * time.Second},
			Connect:     func(context.Context) (*valkeyclient.Conn, error) { close(ready); return conn, nil },
			BufferBytes: 2 << 20,
		}, sink)
		if err != nil {
			t.Error(err)
		}
		done <- end
	}()
	<-ready
	time.Sleep(300 * time.Millisecond) // subscribed
	payload := "\x93\xa6emitter" + strings.Repeat("y", size)
	for i := 0; i < n; i++ {
		if err := pub.Do(ctx, pub.B().Publish().Channel("socket.io#/#").Message(payload).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	// The tail ends (Ctrl-C) once every message is shown or counted as
	// dropped, however slowly a loaded machine delivered them.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		sink.mu.Lock()
		all := int64(sink.messages)+sink.dropped >= n
		sink.mu.Unlock()
		if all {
			break
		}
	}
	cancel()
	end := <-done
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.dropped == 0 || end.Summary.Dropped != sink.dropped {
		t.Fatalf("dropped %d (summary %d), want > 0 and equal", sink.dropped, end.Summary.Dropped)
	}
	if got := int64(sink.messages) + sink.dropped; got != n {
		t.Errorf("%d shown + %d dropped = %d, want %d: a message was lost without being counted", sink.messages, sink.dropped, got, n)
	}
	if peak > 64<<20 {
		t.Errorf("heap reached %d MiB", peak>>20)
	}
}
