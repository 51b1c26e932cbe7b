// Package backoff is the one wait between retries of a lost connection:
// a capped exponential delay with jitter, and a sleep that ends with ctx.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay is lo·2^(attempt-1), capped at hi, with up to 25% jitter down.
func Delay(lo, hi time.Duration, attempt int) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	if d > hi {
		d = hi
	}
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// Sleep waits d, or less when ctx ends; it reports whether it waited d.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
