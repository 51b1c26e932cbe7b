package ratelimit

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is one client's counter. Its JSON fields are the ones the README's
// `limits list -o json` example shows; scripts rely on their names.
type Record struct {
	Client string `json:"client"`
	Key    string `json:"key"`
	// KeyBase64 holds the exact key bytes when Key is not valid UTF-8 (JSON
	// then shows Key with U+FFFD in place of the invalid bytes).
	KeyBase64 string    `json:"key_base64,omitempty"`
	Hits      int64     `json:"hits"`
	Remaining int64     `json:"remaining"`
	Blocked   bool      `json:"blocked"`
	ResetInMS int64     `json:"reset_in_ms"`
	ResetsAt  time.Time `json:"resets_at"`
	// Query is the argument of `limits get` that named this client.
	Query string `json:"query,omitempty"`
	// RatePerS is hits per second since the previous round of a watch
	// (absent outside a watch and in its first round).
	RatePerS *float64 `json:"rate_per_s,omitempty"`
}

// Problems an Anomaly can report (JSON "problem").
const (
	ProblemWrongType     = "wrong_type"           // not a string (a hash, set, stream, ...)
	ProblemNoExpiry      = "no_expiry"            // PTTL -1: the library treats it as a new window
	ProblemNotInteger    = "not_integer"          // the value is not a decimal integer
	ProblemNegative      = "negative_value"       // e.g. a DECR on a missing key
	ProblemExpiryTooLong = "expiry_beyond_window" // PTTL longer than the limiter's window
)

// Anomaly is a key under the limiter's prefix that is not a valid counter.
// Anomalies are listed separately and never counted as clients.
type Anomaly struct {
	Key       string `json:"key"`
	KeyBase64 string `json:"key_base64,omitempty"`
	Problem   string `json:"problem"`
}

// KeyBase64 returns the base64 of key when key is not valid UTF-8, else "".
func KeyBase64(key string) string {
	if utf8.ValidString(key) {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(key))
}

// Printable renders a key or client for a terminal: as is when it is
// printable UTF-8 without quotes or backslashes, else Go-quoted ("\xff").
func Printable(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || r == '"' || r == '\\' || (r >= 0x80 && r < 0xa0) {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}

// counter is a valid counter as a scan carries it: small, so that a scan
// of millions of keys moves and compares little; a Record is built only for
// the counters that are shown.
type counter struct {
	key      string
	hits     int64
	pttl     int64   // reset_in_ms
	resetsAt int64   // Unix ms: the reading's time + pttl
	rate     float64 // a watch's hits per second (-1: not known yet)
}

func newCounter(key string, hits, pttl int64, now time.Time) counter {
	return counter{key: key, hits: hits, pttl: pttl, resetsAt: now.UnixMilli() + pttl}
}

// blocked reports hits > limit.
func (c *counter) blocked(l Limiter) bool { return c.hits > l.Limit }

// record builds the JSON record of c.
func (c *counter) record(l Limiter) Record {
	return Record{
		Client:    ClientOf(l, c.key),
		Key:       c.key,
		KeyBase64: KeyBase64(c.key),
		Hits:      c.hits,
		Remaining: max(0, l.Limit-c.hits),
		Blocked:   c.blocked(l),
		ResetInMS: c.pttl,
		ResetsAt:  time.UnixMilli(c.resetsAt).UTC(),
	}
}

// records builds the records of cs.
func records(l Limiter, cs []counter) []Record {
	out := make([]Record, len(cs))
	for i := range cs {
		out[i] = cs[i].record(l)
	}
	return out
}

func newAnomaly(key, problem string) Anomaly {
	return Anomaly{Key: key, KeyBase64: KeyBase64(key), Problem: problem}
}

// Sort orders of a listing.
const (
	SortHits   = "hits"   // most hits first
	SortTTL    = "ttl"    // soonest reset first
	SortClient = "client" // client bytes ascending
)

// SortOrders lists the valid --sort values.
var SortOrders = []string{SortHits, SortTTL, SortClient}

// lessFunc returns "a comes before b" for a sort order. Ties are broken by
// the key bytes so that output is deterministic.
func lessFunc(order string) (func(a, b *counter) bool, error) {
	switch order {
	case "", SortHits:
		return func(a, b *counter) bool {
			if a.hits != b.hits {
				return a.hits > b.hits
			}
			return a.key < b.key
		}, nil
	case SortTTL:
		return func(a, b *counter) bool {
			if a.pttl != b.pttl {
				return a.pttl < b.pttl
			}
			return a.key < b.key
		}, nil
	case SortClient:
		return func(a, b *counter) bool {
			return a.key < b.key
		}, nil
	}
	return nil, fmt.Errorf("unknown sort order %q (valid: %s)", order, strings.Join(SortOrders, ", "))
}
