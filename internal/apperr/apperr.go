// Package apperr holds the typed errors every layer returns and the one
// mapping from an error to an exit code and a JSON error kind.
//
// It is a leaf package: domain packages (valkeyclient, doapi, policy, ...)
// return these types, and only app.Main turns them into exit codes.
package apperr

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes, as the README's "Exit codes" table documents them.
const (
	ExitOK          = 0
	ExitFindings    = 1
	ExitUsage       = 2
	ExitRuntime     = 3
	ExitInterrupted = 130
)

// Runtime error kinds (the JSON "kind" of exit code 3).
const (
	KindConnect  = "connect"
	KindDNS      = "dns"
	KindTLS      = "tls"
	KindAuth     = "auth"
	KindTimeout  = "timeout"
	KindAPI      = "api"
	KindInternal = "internal"
)

// UsageError is a bad flag, argument or flag combination (exit 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef builds a UsageError.
func Usagef(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// ConfigError is a setting, config file or policy file that cannot be used (exit 2).
type ConfigError struct {
	Err  error
	Hint string
}

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Configf builds a ConfigError.
func Configf(format string, a ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, a...)}
}

// FindingsError means the command ran and its report (already printed) shows a
// problem (exit 1). Its message is shown on stderr only when non-empty.
type FindingsError struct{ Msg string }

func (e *FindingsError) Error() string { return e.Msg }

// RuntimeError is a failure to reach or use a server or API (exit 3).
type RuntimeError struct {
	Kind string // one of the Kind* constants
	Err  error
	Hint string // what to do, shown on a second line
}

func (e *RuntimeError) Error() string { return e.Err.Error() }
func (e *RuntimeError) Unwrap() error { return e.Err }

// Runtime builds a RuntimeError.
func Runtime(kind string, err error, hint string) error {
	return &RuntimeError{Kind: kind, Err: err, Hint: hint}
}

// ErrInterrupted is returned when Ctrl-C stops a one-shot command (exit 130).
var ErrInterrupted = errors.New("interrupted")

// Classify returns the exit code and JSON kind for err. A nil error is (0, "").
// An unknown error is a runtime error of kind internal.
func Classify(err error) (code int, kind string) {
	if err == nil {
		return ExitOK, ""
	}
	var ue *UsageError
	var ce *ConfigError
	var fe *FindingsError
	var re *RuntimeError
	switch {
	case errors.Is(err, ErrInterrupted), errors.Is(err, context.Canceled):
		return ExitInterrupted, "interrupted"
	case errors.As(err, &fe):
		return ExitFindings, "findings"
	case errors.As(err, &ue):
		return ExitUsage, "usage"
	case errors.As(err, &ce):
		return ExitUsage, "config"
	case errors.As(err, &re):
		return ExitRuntime, re.Kind
	case errors.Is(err, context.DeadlineExceeded):
		return ExitRuntime, KindTimeout
	}
	return ExitRuntime, KindInternal
}

// HintOf returns the hint attached to err, if any.
func HintOf(err error) string {
	var ce *ConfigError
	var re *RuntimeError
	switch {
	case errors.As(err, &re):
		return re.Hint
	case errors.As(err, &ce):
		return ce.Hint
	}
	return ""
}

// withFields carries facts about a failure for the JSON error object, such
// as how much of a bulk change was done before it stopped.
type withFields struct {
	err    error
	fields map[string]any
}

func (e *withFields) Error() string { return e.err.Error() }
func (e *withFields) Unwrap() error { return e.err }

// WithFields adds fields to err's JSON error object ({"error":{"kind",
// "message", ...fields}}); its text, code and kind stay err's.
func WithFields(err error, fields map[string]any) error {
	if err == nil {
		return nil
	}
	return &withFields{err: err, fields: fields}
}

// FieldsOf returns the fields added by WithFields (nil when none).
func FieldsOf(err error) map[string]any {
	var w *withFields
	if errors.As(err, &w) {
		return w.fields
	}
	return nil
}
