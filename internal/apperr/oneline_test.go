package apperr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/oxyhq/oxyctl/internal/redact"
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

// Text: one line, secrets masked, Go's bare context errors said in words.
func TestText(t *testing.T) {
	const token = "dop_v1_0123456789abcdef-apperr-test"
	redact.Register(token)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("GET /v2/databases: 401\n  token " + token + " rejected"), "GET /v2/databases: 401 token *** rejected"},
		{fmt.Errorf("addresses not resolved: %w", context.DeadlineExceeded), "addresses not resolved: no answer within the timeout"},
		{fmt.Errorf("Get \"https://api\": %w", context.Canceled), "Get \"https://api\": interrupted"},
	} {
		if got := Text(tc.err); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
