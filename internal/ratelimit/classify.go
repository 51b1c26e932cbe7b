package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

// value is what MGET said of a key.
type value struct {
	state uint8 // valNil, valInt, valOther
	hits  int64
}

const (
	valNil   = iota // no such string key: gone, or another type
	valInt          // a decimal integer
	valOther        // a string that is not an integer
)

// parseValue reads a counter's value as ParseInt(val, 10, 64) would.
func parseValue(b []byte) value {
	if len(b) > 0 && len(b) < 19 {
		var n int64
		digits := true
		for _, c := range b {
			if c < '0' || c > '9' {
				digits = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if digits {
			return value{state: valInt, hits: n}
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return value{state: valOther}
	}
	return value{state: valInt, hits: n}
}

// classify turns the GET and PTTL replies for key into a record, an anomaly
// (problem != ""), or nothing (ok false: the key vanished meanwhile).
func classify(l Limiter, key string, get, pttlRes valkey.ValkeyResult, windowMS int64, now time.Time) (rec counter, problem string, ok bool, err error) {
	pttl, err := pttlRes.AsInt64()
	if err != nil {
		return rec, "", false, movedErr(key, err)
	}
	if pttl == -2 {
		return rec, "", false, nil // expired or deleted between SCAN and GET
	}
	val, err := get.ToString()
	switch {
	case valkey.IsValkeyNil(err):
		return rec, "", false, nil
	case isWrongType(err):
		return rec, ProblemWrongType, false, nil
	case err != nil:
		return rec, "", false, movedErr(key, err)
	}
	rec, problem, ok = classifyValue(l, key, val, pttl, windowMS, now)
	return rec, problem, ok, nil
}

// classifyValue classifies an existing string key from its value and PTTL.
func classifyValue(l Limiter, key, val string, pttl, windowMS int64, now time.Time) (rec counter, problem string, ok bool) {
	return classifyParsed(l, key, parseValue([]byte(val)), pttl, windowMS, now)
}

// classifyParsed classifies an existing string key from its parsed value and PTTL.
func classifyParsed(l Limiter, key string, v value, pttl, windowMS int64, now time.Time) (rec counter, problem string, ok bool) {
	switch {
	case pttl == -1:
		return rec, ProblemNoExpiry, false
	case v.state != valInt:
		return rec, ProblemNotInteger, false
	case v.hits < 0:
		return rec, ProblemNegative, false
	case pttl > windowMS && v.hits <= l.Limit:
		// Over the limit it is a block longer than a window (limits block
		// --for), which the library enforces like any other counter.
		return rec, ProblemExpiryTooLong, false
	}
	return newCounter(key, v.hits, pttl, now), "", true
}

func isWrongType(err error) bool {
	ve, ok := valkey.IsValkeyErr(err)
	return ok && strings.HasPrefix(ve.Error(), "WRONGTYPE")
}

// movedErr says why a redirect is not an answer: the key's slot is moving,
// and its counter may exist on another node. Other errors pass unchanged.
func movedErr(key string, err error) error {
	if !isRedirect(err) {
		return err
	}
	return apperr.Runtime(apperr.KindConnect,
		fmt.Errorf("reading %q: the server answered %v: its slot is moving (resharding or failover), so oxyctl cannot tell whether it holds a counter", key, err),
		"run the command again once the cluster is stable")
}

func isRedirect(err error) bool {
	ve, ok := valkey.IsValkeyErr(err)
	if !ok {
		return false
	}
	_, moved := ve.IsRedirect()
	return moved || ve.IsTryAgain()
}
