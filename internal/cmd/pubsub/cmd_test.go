package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/adaptertap"
	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

func TestNewCmdTail(t *testing.T) {
	for _, tc := range []struct {
		argv    string
		want    func(o *tailOptions) bool
		wantErr string
	}{
		{"", func(o *tailOptions) bool {
			return o.Count == 0 && !o.Requests && !o.Sharded && o.ReconnectTimeout == 5*time.Minute
		}, ""},
		{"--namespace chat --namespace /x --room r1 --room r2 --event e --requests --raw --count 5 --duration 2s",
			func(o *tailOptions) bool {
				return strings.Join(o.Namespaces, ",") == "/chat,/x" && strings.Join(o.Rooms, ",") == "r1,r2" &&
					strings.Join(o.Events, ",") == "e" && o.Requests && o.Raw && o.Count == 5 && o.Duration == 2*time.Second
			}, ""},
		{"--sharded", func(o *tailOptions) bool { return o.Sharded && o.ShardedSet && !o.ShardedSubscribe }, ""},
		{"--sharded-subscribe", func(o *tailOptions) bool { return o.ShardedSubscribe }, ""},
		{"--key oxy", func(o *tailOptions) bool { return o.Key == "oxy" }, ""},
		{"--count -1", nil, "--count must not be negative"},
		{"--duration -1s", nil, "--duration must not be negative"},
		{"--sharded=false --sharded-subscribe", nil, "cannot go with --sharded=false"},
		{"--count x", nil, "invalid argument"},
		{"extra", nil, "takes no arguments"},
	} {
		t.Run(tc.argv, func(t *testing.T) {
			var got *tailOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return newCmdTail(f, func(_ context.Context, o *tailOptions) error { got = o; return nil })
			}, strings.Fields(tc.argv))
			if tc.wantErr != "" {
				if !clitest.IsUsage(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a usage error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got == nil || !tc.want(got) {
				t.Fatalf("err %v, opts %+v", err, got)
			}
		})
	}
}

func TestNewCmdChannels(t *testing.T) {
	for _, tc := range []struct {
		argv    string
		want    func(o *channelsOptions) bool
		wantErr string
	}{
		{"", func(o *channelsOptions) bool { return !o.ShardedSet && !o.ExpectedSet }, ""},
		{"--sharded --expected 6 --key oxy", func(o *channelsOptions) bool {
			return o.Sharded && o.ShardedSet && o.Expected == 6 && o.ExpectedSet && o.Key == "oxy"
		}, ""},
		{"--expected -2", nil, "must not be negative"},
		{"x", nil, "takes no arguments"},
	} {
		t.Run(tc.argv, func(t *testing.T) {
			var got *channelsOptions
			err := clitest.ParseCmd(t, func(f *cmdutil.Factory) *cobra.Command {
				return newCmdChannels(f, func(_ context.Context, o *channelsOptions) error { got = o; return nil })
			}, strings.Fields(tc.argv))
			if tc.wantErr != "" {
				if !clitest.IsUsage(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a usage error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got == nil || !tc.want(got) {
				t.Fatalf("err %v, opts %+v", err, got)
			}
		})
	}
}

// TestChannelsRun pins the text and JSON output of channels on a server with
// two fake instances, and the exit status when instances are missing.
func TestChannelsRun(t *testing.T) {
	srv := valkeytest.Start(t, valkeytest.Options{})
	cl := singleClient(t, srv)

	run := func(format output.Format, sio config.SocketIO) (string, error) {
		ios, out, _ := testIO()
		err := channelsRun(context.Background(), &channelsOptions{
			IO: ios, Settings: settings(sio), Valkey: connector(srv.URL), Format: format,
			Timeout: func() time.Duration { return 5 * time.Second },
		})
		return out.String(), err
	}

	// Nothing listening: a finding (exit 1), said clearly.
	out, err := run(output.Text, config.SocketIO{})
	var fe *apperr.FindingsError
	if !errors.As(err, &fe) || !strings.Contains(out, `FAIL  no Socket.IO classic adapter channels found for key "socket.io" on 1 server(s), want at least one instance`) {
		t.Fatalf("empty server: err %v, out:\n%s", err, out)
	}
	out, _ = run(output.JSON, config.SocketIO{})
	if !strings.Contains(out, `"namespaces": []`) || !strings.Contains(out, `"status": "fail"`) {
		t.Errorf("empty JSON:\n%s", out)
	}

	subscribe(t, cl, false, "socket.io-request#/#", "socket.io-response#/#", "socket.io-response#/#AAAAAA#")
	subscribe(t, cl, false, "socket.io-request#/#", "socket.io-response#/#", "socket.io-response#/#BBBBBB#")
	out, err = run(output.Text, config.SocketIO{})
	if err != nil {
		t.Fatal(err)
	}
	want := `classic adapter, key socket.io, 1 server(s) asked

NAMESPACE  INSTANCES  EXPECTED  STATUS  UIDS
/          2          >=1       ok      AAAAAA BBBBBB

CHANNEL                       SUBSCRIBERS
socket.io-request#/#          2
socket.io-response#/#         2
socket.io-response#/#AAAAAA#  1
socket.io-response#/#BBBBBB#  1
`
	if out != want {
		t.Errorf("text:\n%s\nwant:\n%s", out, want)
	}

	out, err = run(output.JSON, config.SocketIO{ExpectedInstances: 3})
	if !errors.As(err, &fe) {
		t.Fatalf("2 of 3 expected: err %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	ns := doc["namespaces"].([]any)[0].(map[string]any)
	keys := func(m map[string]any) string {
		var k []string
		for x := range m {
			k = append(k, x)
		}
		slices.Sort(k)
		return strings.Join(k, ",")
	}
	if got := keys(doc); got != "adapter,expected,key,namespaces,nodes,pattern_subscriptions,problems,status" {
		t.Errorf("document keys %s", got)
	}
	if got := keys(ns); got != "channels,expected,instances,namespace,problems,status,uids" {
		t.Errorf("namespace keys %s", got)
	}
	if got := keys(ns["channels"].([]any)[0].(map[string]any)); got != "channel,subscribers" {
		t.Errorf("channel keys %s", got)
	}
	if ns["instances"] != float64(2) || ns["status"] != adaptertap.StatusFail || doc["status"] != "fail" ||
		!strings.Contains(jsonText(ns["problems"]), "2 instance(s) listening, 3 expected") {
		t.Errorf("JSON:\n%s", out)
	}
}
