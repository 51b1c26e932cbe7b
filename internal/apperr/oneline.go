package apperr

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/oxyhq/oxyctl/internal/redact"
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

// Text is err's message for a person: one line (OneLine), secrets masked
// (redact.String), and Go's bare "context deadline exceeded" or "context
// canceled", which a wrapped network call can end with, said in words.
func Text(err error) string {
	s := OneLine(err.Error())
	s = strings.ReplaceAll(s, context.DeadlineExceeded.Error(), "no answer within the timeout")
	s = strings.ReplaceAll(s, context.Canceled.Error(), "interrupted")
	return redact.String(s)
}
