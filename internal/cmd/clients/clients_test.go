package clients

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func TestNewCmdClients(t *testing.T) {
	tests := []struct {
		args      []string
		wantType  string
		wantGroup string
		wantErr   bool
	}{
		{args: nil, wantGroup: "addr"},
		{args: []string{"--type", "pubsub", "--group", "name"}, wantType: "pubsub", wantGroup: "name"},
		{args: []string{"--type", "normal", "--group", "none"}, wantType: "normal", wantGroup: "none"},
		{args: []string{"--type", "replica"}, wantErr: true},
		{args: []string{"--group", "host"}, wantErr: true},
		{args: []string{"extra"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *clientsOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return NewCmdClients(f, func(_ context.Context, o *clientsOptions) error { got = o; return nil })
			}, tt.args)
			if tt.wantErr {
				if !clitest.IsUsage(err) {
					t.Fatalf("err = %v, want a UsageError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tt.wantType || got.Group != tt.wantGroup {
				t.Errorf("type %q group %q", got.Type, got.Group)
			}
		})
	}
}
