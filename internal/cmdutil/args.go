package cmdutil

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

// NoArgs rejects positional arguments with a UsageError.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return apperr.Usagef("%q takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// MinimumArgs requires at least n arguments, naming what is missing.
func MinimumArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return apperr.Usagef("%s: %s", cmd.CommandPath(), what)
		}
		return nil
	}
}

// MutuallyExclusive returns a UsageError when more than one of the
// conditions is true.
func MutuallyExclusive(message string, conditions ...bool) error {
	n := 0
	for _, c := range conditions {
		if c {
			n++
		}
	}
	if n > 1 {
		return apperr.Usagef("%s", message)
	}
	return nil
}

// enumValue is a string flag limited to a set of values.
type enumValue struct {
	p       *string
	options []string
}

func (e *enumValue) String() string { return *e.p }
func (e *enumValue) Type() string   { return "string" }
func (e *enumValue) Set(v string) error {
	for _, o := range e.options {
		if strings.EqualFold(v, o) {
			*e.p = o
			return nil
		}
	}
	return fmt.Errorf("valid values are %s", formatValues(e.options))
}

// StringEnumFlag defines a flag that accepts only the given values, listed
// in its help and in its error.
func StringEnumFlag(cmd *cobra.Command, p *string, name, short, def string, options []string, usage string) *pflag.Flag {
	*p = def
	val := &enumValue{p: p, options: options}
	f := cmd.Flags().VarPF(val, name, short, fmt.Sprintf("%s: %s", usage, formatValues(options)))
	_ = cmd.RegisterFlagCompletionFunc(name, func(_ *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return options, cobra.ShellCompDirectiveNoFileComp
	})
	return f
}

func formatValues(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "{" + v + "}"
	}
	return strings.Join(q, "|")
}

// fileValue is a string flag that must name a file: an empty value is
// refused when the flag is parsed, so no command checks it again.
type fileValue struct{ p *string }

func (f *fileValue) String() string { return *f.p }
func (f *fileValue) Type() string   { return "string" }
func (f *fileValue) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("needs a file name")
	}
	*f.p = v
	return nil
}

// FileFlag defines a flag whose value is a file name; `--name ""` is a
// usage error (exit 2), not "use the default".
func FileFlag(cmd *cobra.Command, p *string, name, usage string) *pflag.Flag {
	return cmd.Flags().VarPF(&fileValue{p: p}, name, "", usage)
}

// WriteFlags defines --dry-run and --yes with the wording of the commands
// that write to the DigitalOcean API: print the plan, confirm, write.
func WriteFlags(cmd *cobra.Command, dryRun, yes *bool) {
	fl := cmd.Flags()
	fl.BoolVar(dryRun, "dry-run", false, "print the plan and change nothing")
	fl.BoolVarP(yes, "yes", "y", false, "do not ask before writing (needed without a terminal)")
}

// FlagErrorFunc wraps flag parse errors in a UsageError.
func FlagErrorFunc(cmd *cobra.Command, err error) error {
	return &apperr.UsageError{Err: err}
}

// Groups makes every command that only groups others (a noun such as
// `limits`) reject an unknown subcommand with a UsageError and print its
// help when called bare, instead of cobra's silent help with exit 0.
func Groups(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		Groups(c)
	}
	if cmd.Runnable() || !cmd.HasSubCommands() {
		return
	}
	cmd.Args = UnknownCommand
	cmd.RunE = func(c *cobra.Command, args []string) error { return c.Help() }
}

// UnknownCommand is the Args of a command that groups others: an argument
// is a subcommand that does not exist, a UsageError found after the flags
// are parsed (so -o json shapes it).
func UnknownCommand(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return apperr.Usagef("unknown command %q for %q", args[0], c.CommandPath())
	}
	return nil
}

// ExactArgs requires exactly n arguments, naming what they are.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return apperr.Usagef("%s: %s", cmd.CommandPath(), what)
		}
		return nil
	}
}
