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
		_, err := fmt.Fprintf(w, "oxyctl %s (commit %s, built %s, %s, %s)\n", info.Version, info.Commit, info.Date, info.GoVersion, info.Platform)
		return err
	})
}
