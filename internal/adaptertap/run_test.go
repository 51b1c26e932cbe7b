package adaptertap

import "context"

// Run is run with the events on a channel: a slow reader of out slows the
// sources down (Tail, by contrast, never waits: see queue).
func Run(ctx context.Context, cfg Config, out chan<- Event) error {
	return run(ctx, cfg, func(ev Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	})
}
