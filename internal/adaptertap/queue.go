package adaptertap

import (
	"errors"
	"sync"
	"time"
)

// DefaultBufferBytes bounds the payload bytes a tail holds for a reader
// that is behind (a terminal scrolling, `| less`).
const DefaultBufferBytes = 32 << 20

// maxQueued bounds the events held whatever their size.
const maxQueued = 8192

// errDropped is the Err of a gap made of messages the reader could not take.
var errDropped = errors.New("the reader could not keep up: messages were dropped")

// queue holds events between the sources and the reader, bounded in bytes
// and in count. The sources never wait for the reader: a message that does
// not fit is dropped and counted, and the count reaches the reader as a gap
// event in the place of the messages it stands for. (Waiting instead would
// leave the messages in the server's output buffer, which cuts the
// subscriber off at its limit; holding them all would grow without bound.)
type queue struct {
	mu      sync.Mutex
	items   []Event
	bytes   int64
	max     int64
	now     func() time.Time
	ready   chan struct{} // has a value while items is not empty
	dropped int64         // total, for the summary
}

func newQueue(maxBytes int64, now func() time.Time) *queue {
	if maxBytes <= 0 {
		maxBytes = DefaultBufferBytes
	}
	return &queue{max: maxBytes, now: now, ready: make(chan struct{}, 1)}
}

// push adds ev, or counts it as dropped. It never blocks.
func (q *queue) push(ev Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	size := int64(len(ev.Payload) + len(ev.Channel))
	if ev.Kind == EventMessage && (q.bytes > 0 && q.bytes+size > q.max || len(q.items) >= maxQueued) {
		q.dropped++
		if last := &q.items[len(q.items)-1]; last.Kind == EventGap && last.Dropped > 0 {
			last.Dropped++
			last.To = q.now()
			return
		}
		now := q.now()
		q.items = append(q.items, Event{Kind: EventGap, Time: now, From: now, To: now, Node: ev.Node, Err: errDropped, Dropped: 1})
		return
	}
	q.items = append(q.items, ev)
	q.bytes += size
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop takes the oldest event, if any.
func (q *queue) pop() (Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return Event{}, false
	}
	ev := q.items[0]
	q.items[0] = Event{}
	q.items = q.items[1:]
	if len(q.items) == 0 {
		q.items = nil // let the backing array go
	}
	q.bytes -= int64(len(ev.Payload) + len(ev.Channel))
	if len(q.items) > 0 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	}
	return ev, true
}
