// Package version is `oxyctl version`.
package version

import (
	"context"
	"fmt"
	"io"
	"sync"

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

var templateOnce sync.Once

// AddFlag gives root cobra's --version, printing what `oxyctl version`
// prints. The build information is read only when --version is given.
func AddFlag(root *cobra.Command) {
	templateOnce.Do(func() {
		cobra.AddTemplateFunc("oxyctlVersion", func() string { return Line(build.Get()) })
	})
	root.Flags().Bool("version", false, "print the version, as 'oxyctl version' does")
	root.Version = "oxyctl" // cobra handles --version when Version is set; the template prints the build's
	root.SetVersionTemplate("{{oxyctlVersion}}")
}
