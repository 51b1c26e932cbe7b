package clients

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/clientlist"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
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

func TestRender(t *testing.T) {
	rep := &clientlist.Report{Total: 3, Cap: 10000, CapFrom: "maxclients", SoftLimitBytes: 8 << 20, SoftLimitFrom: "Valkey's default",
		Groups: []clientlist.Group{
			{Key: "10.110.0.5", ResolvesTo: "droplet oxy-api-backend", Connections: 2, PubSub: 1, OMemBytes: 2048, MaxIdleS: 75, Names: []string{"api-pub", "api-sub"}, Libs: []string{"ioredis 5.11.1"}},
			{Key: "10.110.0.9", Connections: 1, PubSub: 1, MaxIdleS: 3, Names: []string{}, Libs: []string{}},
		},
		Clients: []clientlist.ClientEntry{
			{ID: 3, Addr: "10.110.0.5:40000", Name: "api-pub", Lib: "ioredis 5.11.1", AgeS: 3600, IdleS: 75, Flags: "N", ResolvesTo: "droplet oxy-api-backend"},
			{ID: 4, Addr: "10.110.0.5:40001", Name: "api-sub", Lib: "ioredis 5.11.1", AgeS: 3600, Sub: 3, PSub: 1, OMemBytes: 2048, Flags: "P", ResolvesTo: "droplet oxy-api-backend"},
			{ID: 9, Addr: "10.110.0.9:5000", AgeS: 3, IdleS: 3, Sub: 1, Flags: "P"},
		},
		Findings: []clientlist.Finding{{Severity: "error", Kind: clientlist.KindStray, Client: "10.110.0.9:5000", Message: "stray subscriber 10.110.0.9:5000 (no client name): ..."}},
	}
	var b strings.Builder
	ios, _, _, _ := iostreams.Test()
	render(&b, output.NewTheme(ios), rep, clientlist.GroupAddr)
	want := `3 connections, cap 10000 (maxclients); pub/sub soft limit 8.0 MiB (Valkey's default)

ADDRESS     RESOLVES TO              CONNS  PUBSUB  OMEM     MAX IDLE  NAMES             LIBS
10.110.0.5  droplet oxy-api-backend  2      1       2.0 KiB  1m15s     api-pub, api-sub  ioredis 5.11.1
10.110.0.9  -                        1      1       0 B      3s        -                 -

ID  ADDR              NAME     LIB             AGE     IDLE   SUB  PSUB  SSUB  OMEM     FLAGS  RESOLVES TO
3   10.110.0.5:40000  api-pub  ioredis 5.11.1  1h0m0s  1m15s  0    0     0     0 B      N      droplet oxy-api-backend
4   10.110.0.5:40001  api-sub  ioredis 5.11.1  1h0m0s  0s     3    1     0     2.0 KiB  P      droplet oxy-api-backend
9   10.110.0.9:5000   -        -               3s      3s     1    0     0     0 B      P      -

findings:
  error  stray_subscriber  stray subscriber 10.110.0.9:5000 (no client name): ...
`
	if got := b.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
