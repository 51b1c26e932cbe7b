package ratelimit

import (
	"context"
	"time"
)

// pacer spaces SCANs so that a primary serves at most `rate` keys a second.
type pacer struct {
	rate int
	next time.Time
}

func (p *pacer) init(rate int) { p.rate = rate; p.next = time.Now() }

func (p *pacer) wait(ctx context.Context) error {
	if p.rate <= 0 {
		return nil
	}
	d := time.Until(p.next)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pacer) spent(keys int) {
	if p.rate <= 0 {
		return
	}
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	p.next = p.next.Add(time.Duration(float64(keys) / float64(p.rate) * float64(time.Second)))
}
