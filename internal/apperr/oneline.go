package apperr

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxMessage is the most of a message OneLine keeps, in bytes: a server or
// an API can put megabytes in an error reply.
const MaxMessage = 1000

// OneLine makes a message one line: every run of white space (line breaks
// included) becomes one space, and a message longer than MaxMessage bytes
// is cut at a character boundary and says how much was left out.
func OneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > MaxMessage {
		cut := MaxMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = fmt.Sprintf("%s... (%d bytes more)", s[:cut], len(s)-cut)
	}
	return s
}
