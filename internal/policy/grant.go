package policy

import (
	"strings"
	"time"
)

// A temporary grant is a rule whose description records its expiry:
// "oxyctl grant until <RFC3339>: <reason>". `firewall allow --for` writes
// it; audit and apply read it back.
const grantPrefix = "oxyctl grant until "

// GrantDescription is the description of a grant that ends at until.
func GrantDescription(until time.Time, reason string) string {
	d := grantPrefix + until.UTC().Format(time.RFC3339)
	if r := strings.TrimSpace(reason); r != "" {
		d += ": " + r
	}
	return d
}

// ParseGrant reads a grant's expiry and reason from a rule's description.
func ParseGrant(desc string) (until time.Time, reason string, ok bool) {
	rest, found := strings.CutPrefix(desc, grantPrefix)
	if !found {
		return time.Time{}, "", false
	}
	stamp, reason, _ := strings.Cut(rest, ": ")
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(stamp))
	if err != nil {
		return time.Time{}, "", false
	}
	return t.UTC(), reason, true
}

// grantState says what a rule's description makes of it at now.
type grantState int

const (
	notGrant grantState = iota
	grantActive
	grantExpired
)

func grantAt(desc string, now time.Time) (grantState, time.Time) {
	if now.IsZero() {
		return notGrant, time.Time{}
	}
	until, _, ok := ParseGrant(desc)
	switch {
	case !ok:
		return notGrant, time.Time{}
	case now.Before(until):
		return grantActive, until
	}
	return grantExpired, until
}
