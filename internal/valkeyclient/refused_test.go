package valkeyclient

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/resp"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// IsRefused tells a refused command (renamed away, or denied by an ACL)
// from every other failure, on the replies of real servers.
func TestIsRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	do := valkeytest.Start(t, valkeytest.Options{Refused: true})
	conn, err := Connect(ctx, Options{URL: do.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := conn.Client
	script := c.Do(ctx, c.B().ScriptExists().Sha1("6aeb97ed6086dcdeafdc6fda3999a0d0e38ec96a").Build()).Error()
	config := c.Do(ctx, c.B().ConfigGet().Parameter("maxmemory").Build()).Error()
	c.Do(ctx, c.B().Set().Key("s").Value("v").Build())
	notInt := c.Do(ctx, c.B().Incr().Key("s").Build()).Error()
	wrongType := c.Do(ctx, c.B().Lpush().Key("s").Element("x").Build()).Error()
	t.Logf("SCRIPT: %v; CONFIG: %v; INCR of a string: %v; LPUSH: %v", script, config, notInt, wrongType)

	// An ACL user without +script gets NOPERM.
	acl := valkeytest.Start(t, valkeytest.Options{Args: []string{"--user", "app", "on", "nopass", "~*", "&*", "+@all", "-script"}})
	aconn, err := Connect(ctx, Options{URL: "redis://app@" + acl.Addr, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer aconn.Close()
	a := aconn.Client
	noperm := a.Do(ctx, a.B().ScriptExists().Sha1("6aeb97ed6086dcdeafdc6fda3999a0d0e38ec96a").Build()).Error()
	t.Logf("ACL: %v", noperm)

	down := valkeytest.Start(t, valkeytest.Options{})
	dconn, err := Connect(ctx, Options{URL: down.URL, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer dconn.Close()
	down.Stop()
	network := dconn.Client.Do(ctx, dconn.Client.B().ScriptExists().Sha1("x").Build()).Error()

	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"SCRIPT renamed away", script, true},
		{"CONFIG renamed away", config, true},
		{"ACL without +script", noperm, true},
		{"resp ERR unknown command", &resp.Error{Msg: "ERR unknown command 'script', with args beginning with: 'exists' "}, true},
		{"resp NOPERM", &resp.Error{Msg: "NOPERM User app has no permissions to run the 'script|exists' command"}, true},
		{"ERR of a command that ran", notInt, false},
		{"WRONGTYPE", wrongType, false},
		{"unknown subcommand", &resp.Error{Msg: "ERR unknown subcommand 'nope'. Try SCRIPT HELP."}, false},
		{"a server that went away", network, false},
		{"not a reply", errors.New("ERR unknown command 'script'"), false},
		{"nil", nil, false},
	} {
		if got := IsRefused(c.err); got != c.want {
			t.Errorf("%s: IsRefused(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&resp.Error{Msg: "ERR unknown subcommand 'LIST'. Try CLIENT HELP."}, true},
		{&resp.Error{Msg: "ERR unknown command 'client'"}, false}, {wrongType, false},
		{script, false}, {noperm, false}, {network, false}, {nil, false},
	} {
		if got := IsUnsupported(c.err); got != c.want {
			t.Errorf("IsUnsupported(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if notInt == nil || wrongType == nil || network == nil {
		t.Fatalf("the non-refusals did not fail: %v %v %v", notInt, wrongType, network)
	}
}
