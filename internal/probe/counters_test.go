package probe

import (
	"context"
	"testing"
)

func TestCountersRounds(t *testing.T) {
	ctx := context.Background()
	if n, since := New(ctx, "k", 7); n != 7 || since != "since the server started" {
		t.Fatalf("single run: %d %q", n, since)
	}
	c := NewCounters()
	wctx := WithCounters(ctx, c)
	steps := []struct {
		key   string
		total int64
		want  int64
		since string
	}{
		{"evicted", 5, 5, "since the server started"}, // round 1: the total
		{"rejected", 0, 0, "since the server started"},
		{"next", 0, 0, ""},
		{"evicted", 9, 4, "since the last round"}, // round 2: growth
		{"next", 0, 0, ""},
		{"evicted", 9, 0, "since the last round"}, // nothing new
		{"rejected", 2, 2, "since the last round"},
		{"next", 0, 0, ""},
		{"evicted", 3, 3, "since the last round"}, // restarted: counts from 0
		{"next", 0, 0, ""},
		{"next", 0, 0, ""},                        // a round that could not read it
		{"evicted", 4, 1, "since the last round"}, // keeps the older baseline
		{"fresh", 6, 6, "since the server started"},
	}
	for i, s := range steps {
		if s.key == "next" {
			c.Next()
			continue
		}
		n, since := New(wctx, s.key, s.total)
		if n != s.want || since != s.since {
			t.Fatalf("step %d (%s=%d): got %d %q, want %d %q", i, s.key, s.total, n, since, s.want, s.since)
		}
	}
}

func TestFindingsCounter(t *testing.T) {
	f := newFindings()
	f.counter(context.Background(), "k", "node: ", 0, "keys evicted")
	if f.status != OK || len(f.notes) != 0 {
		t.Fatalf("zero warned: %v %q", f.status, f.notes)
	}
	f.counter(context.Background(), "k", "node: ", 3, "keys evicted")
	if f.status != Warn || f.detail("") != "node: 3 keys evicted since the server started" {
		t.Fatalf("got %v %q", f.status, f.detail(""))
	}
}
