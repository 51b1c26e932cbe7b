package root

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/iostreams"
)

// TestTreeIsWhole pins what NewCmdRoot itself sets up, so that app and the
// docs generator, which both only call it, run and document the same tree.
func TestTreeIsWhole(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	cmd := NewCmdRoot(cmdutil.New(ios, func(string) string { return "" }))
	if cmd.PersistentPreRunE == nil {
		t.Error("the root has no persistent hook")
	}
	if !cobra.EnableTraverseRunHooks {
		t.Error("cobra runs only the nearest hook")
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.IsAdditionalHelpTopicCommand() {
			return // a help topic (oxyctl help environment) runs nothing, exits with nothing
		}
		if !strings.Contains(c.Long, "EXIT STATUS") {
			t.Errorf("%s: help without EXIT STATUS", c.CommandPath())
		}
		if c.HasSubCommands() && (!c.Runnable() || c.Args == nil) {
			t.Errorf("%s: a noun without the group run (bare: help; unknown verb: usage error)", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(cmd)
	for _, path := range [][]string{{"limits", "get"}, {"limits", "reset"}} {
		c, _, err := cmd.Find(path)
		if err != nil || c.ValidArgsFunction == nil {
			t.Errorf("%v: no completion of its arguments (%v)", path, err)
		}
	}
	for _, name := range []string{"output", "context", "cluster"} {
		if _, ok := cmd.GetFlagCompletionFunc(name); !ok {
			t.Errorf("--%s: no completion", name)
		}
	}
}
