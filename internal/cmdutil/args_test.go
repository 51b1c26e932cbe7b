package cmdutil

import (
	"testing"

	"github.com/spf13/cobra"
)

// A file flag refuses an empty name at parse time (a usage error through
// FlagErrorFunc), so no command has to check it again.
func TestFileFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		ok   bool
	}{
		{[]string{"--policy", "p.yaml"}, "p.yaml", true},
		{nil, "", true},
		{[]string{"--policy", ""}, "", false},
		{[]string{"--policy=  "}, "", false},
	} {
		var got string
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
		FileFlag(cmd, &got, "policy", "a file")
		cmd.SetArgs(tc.args)
		cmd.SetFlagErrorFunc(FlagErrorFunc)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: value %q, err %v; want %q, ok %v", tc.args, got, err, tc.want, tc.ok)
		}
	}
}
