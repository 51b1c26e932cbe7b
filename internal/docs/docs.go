// Package docs generates the committed shell completions and man pages from
// the command tree, byte-identical on every run (no dates, no versions).
package docs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/oxyhq/oxyctl/internal/cmd/root"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/iostreams"
)

// fixedDate keeps man pages reproducible.
var fixedDate = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func tree() *cobra.Command {
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.New(ios, func(string) string { return "" })
	cmd := root.NewCmdRoot(f)
	cmd.DisableAutoGenTag = true
	return cmd
}

// Generate writes completions/oxyctl.{bash,zsh,fish,ps1} and man/*.1 under dir.
func Generate(dir string) error {
	cmd := tree()
	compDir := filepath.Join(dir, "completions")
	manDir := filepath.Join(dir, "man")
	for _, d := range []string{compDir, manDir} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	gens := map[string]func(*bytes.Buffer) error{
		"oxyctl.bash": func(b *bytes.Buffer) error { return cmd.GenBashCompletionV2(b, true) },
		"oxyctl.zsh":  func(b *bytes.Buffer) error { return cmd.GenZshCompletion(b) },
		"oxyctl.fish": func(b *bytes.Buffer) error { return cmd.GenFishCompletion(b, true) },
		"oxyctl.ps1":  func(b *bytes.Buffer) error { return cmd.GenPowerShellCompletionWithDesc(b) },
	}
	for name, gen := range gens {
		var b bytes.Buffer
		if err := gen(&b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(compDir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	header := &doc.GenManHeader{Title: "OXYCTL", Section: "1", Date: &fixedDate, Source: "oxyctl", Manual: "oxyctl manual"}
	return doc.GenManTree(cmd, header, manDir)
}
