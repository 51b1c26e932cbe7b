// Package version is `oxyctl version`.
package version

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/build"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
)

type versionOptions struct {
	IO     *iostreams.IOStreams
	Format func() output.Format
	Info   func() build.Info
}

// NewCmdVersion builds `oxyctl version`. runF replaces the run in tests.
func NewCmdVersion(f *cmdutil.Factory, runF func(context.Context, *versionOptions) error) *cobra.Command {
	opts := &versionOptions{IO: f.IO, Format: f.Format, Info: build.Get}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Long: "Print oxyctl's version, the commit it was built from, the build date and the Go version.\n" +
			"\nEXIT STATUS\n  0  always",
		Example: "  $ oxyctl version\n  $ oxyctl version -o json",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return versionRun(cmd.Context(), opts)
		},
	}
}

func versionRun(_ context.Context, opts *versionOptions) error {
	info := opts.Info()
	return output.Print(opts.IO, opts.Format(), info, func(w io.Writer, th *output.Theme) error {
		_, err := io.WriteString(w, Line(info))
		return err
	})
}

// Line is what `oxyctl version` prints in text.
func Line(info build.Info) string {
	return fmt.Sprintf("oxyctl %s (commit %s, built %s, %s, %s)\n", info.Version, info.Commit, info.Date, info.GoVersion, info.Platform)
}

// AddFlag gives root a --version flag that does what `oxyctl version` does
// (-o json included). Not cobra's own --version: that one prints through a
// text/template, and a reachable text/template makes the linker keep every
// exported method of every type (the binary doubles and starts slower).
func AddFlag(root *cobra.Command, f *cmdutil.Factory) {
	root.Flags().Bool("version", false, "print the version, as 'oxyctl version' does")
	if root.Args == nil {
		root.Args = cmdutil.UnknownCommand
	}
	next := root.RunE
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if Requested(cmd) {
			return versionRun(cmd.Context(), &versionOptions{IO: f.IO, Format: f.Format, Info: build.Get})
		}
		if next != nil {
			return next(cmd, args)
		}
		return cmd.Help()
	}
}

// Requested reports whether cmd is the root given --version.
func Requested(cmd *cobra.Command) bool {
	fl := cmd.Flags().Lookup("version")
	return !cmd.HasParent() && fl != nil && fl.Changed
}
