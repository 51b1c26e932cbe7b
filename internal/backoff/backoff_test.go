package backoff

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	min, max := 100*time.Millisecond, 3*time.Second
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 6: 3 * time.Second, 50: 3 * time.Second} {
		for range 20 {
			if d := Delay(min, max, attempt); d > want || d < want*3/4 {
				t.Fatalf("attempt %d: %s, want in [%s, %s]", attempt, d, want*3/4, want)
			}
		}
	}
}
