package iostreams

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestConfirmAnswers(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "": false, "yep\n": false} {
		ios, _, _, errOut := Test()
		ios.In = strings.NewReader(in)
		got, err := ios.Confirm(context.Background(), "Delete?")
		if err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
		if !strings.Contains(errOut.String(), "Delete? [y/N]: ") {
			t.Errorf("prompt %q", errOut.String())
		}
	}
}

// Ctrl-C or SIGTERM at the prompt ends the wait at once. (Before: the read
// of stdin ignored the context, and the signal was swallowed.)
func TestConfirmEndsWithTheContext(t *testing.T) {
	ios, _, _, _ := Test()
	r, w := io.Pipe() // a terminal nobody types into
	defer w.Close()
	ios.In = r
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	ok, err := ios.Confirm(ctx, "Delete?")
	if ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("%v, %v; want false, context.Canceled", ok, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %s", d)
	}
}
