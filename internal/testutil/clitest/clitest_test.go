package clitest

import "testing"

func TestStripANSI(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                          "plain",
		"\x1b[1;31mfail\x1b[0m ok":       "fail ok",
		"\x1b[H\x1b[2Jround 1":           "round 1",
		"\r\x1b[Kscanning: 3 keys":       "\rscanning: 3 keys",
		"│ \x1b[38;5;2m✓ ok\x1b[m │ 3ms": "│ ✓ ok │ 3ms",
	} {
		if got := StripANSI(in); got != want {
			t.Errorf("StripANSI(%q) = %q, want %q", in, got, want)
		}
	}
}
