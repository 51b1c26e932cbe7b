package apperr

import (
	"strings"
	"testing"
)

func TestOneLine(t *testing.T) {
	if got := OneLine("  ERR  bad\r\n\tthing\n"); got != "ERR bad thing" {
		t.Fatalf("got %q", got)
	}
	long := strings.Repeat("é", MaxMessage) // 2 bytes each: the cut lands mid-character
	got := OneLine(long)
	if !strings.HasSuffix(got, "... (1000 bytes more)") || !strings.HasPrefix(got, strings.Repeat("é", MaxMessage/2)+"...") {
		t.Fatalf("long: %q", got[len(got)-40:])
	}
	if got := OneLine(strings.Repeat("a", MaxMessage)); len(got) != MaxMessage {
		t.Fatalf("exactly MaxMessage bytes was cut: %d", len(got))
	}
}
