package iostreams

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Progress shows a running count on stderr ("scanning rl:*: 1200 keys
// scanned"), only when stderr is a terminal and the work has run longer than
// the delay it was started with. It redraws at most 5 times a second.
type Progress struct {
	w       io.Writer
	n       atomic.Int64
	stop    chan struct{}
	done    sync.WaitGroup
	drawn   atomic.Bool
	enabled bool
}

// StartProgress starts showing "label: N what" once after has passed. Call
// End when the work is over.
func (s *IOStreams) StartProgress(label, what string, after time.Duration) *Progress {
	// Past the guard: its own \r and erase sequences; its label is oxyctl's.
	p := &Progress{w: raw(s.ErrOut), stop: make(chan struct{}), enabled: s.ShowProgress()}
	if !p.enabled {
		return p
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		start := time.Now()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				if time.Since(start) >= after {
					fmt.Fprintf(p.w, "\r\x1b[K%s: %d %s", label, p.n.Load(), what)
					p.drawn.Store(true)
				}
			}
		}
	}()
	return p
}

// Report sets the count shown; it may be called from any goroutine.
func (p *Progress) Report(n int64) { p.n.Store(n) }

// End stops the display and clears the line it drew.
func (p *Progress) End() {
	if !p.enabled {
		return
	}
	close(p.stop)
	p.done.Wait()
	if p.drawn.Load() {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
