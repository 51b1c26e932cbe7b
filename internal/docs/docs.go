// Package docs generates the committed shell completions and man pages from
// the command tree, byte-identical on every run (no dates, no versions).
package docs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	escapeForMan(cmd) // after the completions, which show Short as it is
	return doc.GenManTree(cmd, header, manDir)
}

// GzipMan writes a gzip copy of every man/*.1 under dir into outDir as
// NAME.1.gz, byte-identical on every run (no name, no time in the header): the
// .deb and .rpm install these, as both distributions' policies want.
func GzipMan(dir, outDir string) error {
	pages, err := filepath.Glob(filepath.Join(dir, "man", "*.1"))
	if err != nil {
		return err
	}
	if len(pages) == 0 {
		return fmt.Errorf("no man pages under %s", filepath.Join(dir, "man"))
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for _, page := range pages {
		src, err := os.ReadFile(page)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := zw.Write(src); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(outDir, filepath.Base(page)+".gz"), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// escapeForMan escapes, in the Short and Long text of cmd and every command
// below it, the asterisks that Markdown would read as emphasis: the help text is
// plain text, but cobra's man generator renders it through md2man, which turned
// `characters like *, ? and [` and `reset "*"` into italics and lost both
// asterisks. Code (indented lines and `spans`) is left as it is: Markdown shows
// it literally already.
func escapeForMan(cmd *cobra.Command) {
	cmd.Short = escapeAsterisks(cmd.Short)
	cmd.Long = escapeAsterisks(cmd.Long)
	for _, c := range cmd.Commands() {
		escapeForMan(c)
	}
}

func escapeAsterisks(text string) string {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "    ") {
			continue
		}
		var b strings.Builder
		code := false
		for _, r := range line {
			switch {
			case r == '`':
				code = !code
			case r == '*' && !code:
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		lines[i] = b.String()
	}
	return strings.Join(lines, "\n")
}
