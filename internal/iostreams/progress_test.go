package iostreams

import (
	"strings"
	"testing"
	"time"
)

func TestProgressOnlyOnATerminal(t *testing.T) {
	for _, tty := range []bool{true, false} {
		ios, _, _, errOut := Test()
		ios.SetStderrTTY(tty)
		p := ios.StartProgress("scanning rl:*", "keys scanned", 0)
		p.Report(1200)
		time.Sleep(450 * time.Millisecond) // two redraws at most
		p.End()
		got := errOut.String()
		if !tty {
			if got != "" {
				t.Errorf("off a terminal: %q, want nothing", got)
			}
			continue
		}
		if !strings.HasPrefix(got, "\r\x1b[Kscanning rl:*: 1200 keys scanned") || !strings.HasSuffix(got, "\r\x1b[K") {
			t.Errorf("on a terminal: %q, want the count, then a cleared line", got)
		}
	}
}

func TestProgressWaitsForItsDelay(t *testing.T) {
	ios, _, _, errOut := Test()
	ios.SetStderrTTY(true)
	p := ios.StartProgress("scanning", "keys scanned", time.Hour)
	p.Report(5)
	time.Sleep(250 * time.Millisecond)
	p.End()
	if errOut.Len() != 0 {
		t.Errorf("drew before its delay: %q", errOut.String())
	}
}
