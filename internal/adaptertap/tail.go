package adaptertap

import (
	"context"
	"fmt"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/socketio"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// Why a tail ended without an error.
const (
	EndCount       = "count"       // TailOptions.Count messages were shown
	EndDuration    = "duration"    // TailOptions.Duration passed
	EndInterrupted = "interrupted" // ctx ended (Ctrl-C)
)

// Sink shows what a tail reads. Tail calls it from one goroutine, in the
// order the events came; an error it returns ends the tail with that error.
type Sink interface {
	// Event shows a ready, lost or gap event (a gap is counted first).
	Event(ev Event) error
	// Message shows one decoded message that passed the filter (counted
	// first). m and its slices are valid until the call returns.
	Message(m *socketio.Message) error
	// Flush shows what was written so far: Tail calls it whenever no event
	// is pending, and once at the end.
	Flush() error
}

// TailOptions say what a tail reads and when it stops.
type TailOptions struct {
	// Config is what to read and how; its Conn comes from Connect, and its
	// Classify defaults to valkeyclient.Classify with the Conn's target.
	Config
	// Connect connects to the deployment (the Factory's).
	Connect func(ctx context.Context) (*valkeyclient.Conn, error)
	// Filter selects the messages shown and counted.
	Filter Filter
	// Sharded decodes the sharded adapter's channels.
	Sharded bool
	// Raw keeps each message's payload in Message.Raw.
	Raw bool
	// Count ends the tail after this many messages (0: no limit).
	Count int64
	// Duration ends the tail after this long (0: no limit).
	Duration time.Duration
	// BufferBytes bounds what is held for a reader that is behind (0:
	// DefaultBufferBytes); what does not fit is dropped and reported as a
	// gap with its count.
	BufferBytes int64
}

// TailEnd is how a tail that started ended.
type TailEnd struct {
	Summary *Summary
	Elapsed time.Duration
	// Reason is EndCount, EndDuration or EndInterrupted, or "" when the
	// tail ended with an error.
	Reason string
}

// Tailer decodes, filters and counts a tail's events and hands them to a
// Sink.
type Tailer struct {
	o         *TailOptions
	sink      Sink
	decode    socketio.Options
	summary   *Summary
	payload   []byte // the payload bytes, reused
	everReady bool
}

// NewTailer returns a Tailer that shows what passes o.Filter on sink.
func NewTailer(o TailOptions, sink Sink) *Tailer {
	o.defaults()
	return &Tailer{o: &o, sink: sink, decode: socketio.Options{Key: o.Key, Sharded: o.Sharded}, summary: NewSummary()}
}

// Handle processes one event; done reports that Count is reached.
func (t *Tailer) Handle(ev Event) (done bool, err error) {
	switch ev.Kind {
	case EventReady:
		t.everReady = true
		return false, t.sink.Event(ev)
	case EventLost:
		return false, t.sink.Event(ev)
	case EventGap:
		t.summary.Gaps++
		t.summary.Dropped += ev.Dropped
		return false, t.sink.Event(ev)
	case EventMessage:
		t.payload = append(t.payload[:0], ev.Payload...)
		m := socketio.Decode(ev.Channel, t.payload, t.decode)
		m.Time = ev.Time
		if !t.o.Filter.Match(&m) {
			return false, nil
		}
		if t.o.Raw {
			m.Raw = t.payload
		}
		t.summary.Add(&m)
		err := t.sink.Message(&m)
		return t.o.Count > 0 && t.summary.Messages >= t.o.Count, err
	}
	return false, nil
}

// Tail connects, reads (Run, reconnecting after drops) and shows each
// event on sink until Count messages were shown, Duration passed or ctx
// ends (Ctrl-C): each a normal end, with a nil error. A source that fails
// for good, or the sink, ends it with an error. When the tail never
// started (it could not connect or subscribe), the TailEnd is nil: there
// is nothing to sum up. Ctrl-C is a normal end at any point.
func Tail(ctx context.Context, o TailOptions, sink Sink) (*TailEnd, error) {
	classify := o.Classify
	o.defaults()
	t := NewTailer(o, sink)
	started := o.Now()
	end := func(reason string) *TailEnd {
		return &TailEnd{Summary: t.summary, Elapsed: o.Now().Sub(started), Reason: reason}
	}
	conn, err := o.Connect(ctx)
	if err != nil {
		if ctx.Err() != nil { // Ctrl-C while connecting: still a normal end
			return end(EndInterrupted), nil
		}
		return nil, err
	}
	defer conn.Close()
	cfg := o.Config
	cfg.Conn = conn
	if classify == nil {
		cfg.Classify = func(err error) error { return valkeyclient.Classify(err, conn.Target) }
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Duration > 0 {
		var cancelD context.CancelFunc
		runCtx, cancelD = context.WithTimeout(runCtx, o.Duration)
		defer cancelD()
	}
	q := newQueue(o.BufferBytes, o.Now)
	errc := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				errc <- apperr.Runtime(apperr.KindInternal, fmt.Errorf("internal error (a bug): %v", r), "")
			}
		}()
		errc <- run(runCtx, cfg, func(ev Event) bool {
			q.push(ev)
			return runCtx.Err() == nil
		})
	}()

	var (
		runErr  error
		counted bool
		runDone bool
	)
loop:
	for {
		ev, ok := q.pop()
		if !ok {
			// Nothing more is pending: show what was written so far.
			if err := sink.Flush(); err != nil {
				runErr = err
				break loop
			}
			select {
			case <-q.ready:
				continue
			case runErr = <-errc:
				runDone = true
				// The sources stopped: show what they had already received.
				for {
					ev, ok := q.pop()
					if !ok {
						break loop
					}
					if done, _ := t.Handle(ev); done {
						counted = true
						break loop
					}
				}
			}
		}
		done, err := t.Handle(ev)
		if done {
			counted = true
			break loop
		}
		if err != nil {
			runErr = err
			break loop
		}
	}
	cancel()
	if !runDone {
		if err := <-errc; runErr == nil && !counted {
			runErr = err
		}
	}
	if err := sink.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil && !t.everReady && ctx.Err() == nil {
		return nil, runErr // never subscribed: a plain error, nothing to sum up
	}
	if ctx.Err() != nil {
		runErr = nil // Ctrl-C: a normal end, whatever was in progress
	}
	var reason string
	switch {
	case counted:
		reason = EndCount
	case ctx.Err() != nil:
		reason = EndInterrupted
	case o.Duration > 0 && runErr == nil:
		reason = EndDuration
	}
	return end(reason), runErr
}
