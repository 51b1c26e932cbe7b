package probe

import (
	"context"
	"net/http"
	"time"

	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// Env is what the checks need besides the settings.
type Env struct {
	UserAgent string
	Now       func() time.Time
	// Valkey connects with the settings (default valkeyclient.Connect).
	Valkey func(ctx context.Context) (*valkeyclient.Conn, error)
	// DO builds the DigitalOcean client (default doapi.New with the settings).
	DO         func(ctx context.Context) (ClusterFinder, error)
	HTTPClient *http.Client
}

// Configured reports, per check, whether its settings are present. A check
// that is not configured is skipped ("not configured"), so that a run with
// nothing set touches nothing:
//   - api: the API URL was given by flag, environment or context (the
//     built-in default https://api.oxy.so alone does not count);
//   - valkey and pubsub: a Valkey URL is set;
//   - do: a DigitalOcean token is set.
func Configured(s *config.Settings) map[string]bool {
	return map[string]bool{
		NameAPI:    s.APIURL != "" && s.Sources["api_url"] != "default" && s.Sources["api_url"] != "",
		NameValkey: s.RedisURL != "",
		NamePubSub: s.RedisURL != "",
		NameDO:     s.DOToken != "",
	}
}

// FromSettings builds the named checks (in the fixed order) from the
// resolved settings. Unconfigured checks have a nil Probe.
func FromSettings(s *config.Settings, names []string, env Env) []Check {
	if env.Now == nil {
		env.Now = time.Now
	}
	conf := Configured(s)
	vopts := valkeyclient.Options{
		URL: s.RedisURL, CAFile: s.RedisCA, Insecure: s.RedisInsecure,
		AllowPlaintext: s.AllowPlaintext, Timeout: s.Timeout, ClientName: "oxyctl",
	}
	connect := env.Valkey
	if connect == nil {
		connect = func(ctx context.Context) (*valkeyclient.Conn, error) { return ConnectWithin(ctx, vopts) }
	}
	doClient := env.DO
	if doClient == nil {
		doClient = func(context.Context) (ClusterFinder, error) {
			c, err := doapi.New(doapi.Options{
				BaseURL: s.DOAPIURL, Token: s.DOToken, UserAgent: env.UserAgent, Timeout: s.Timeout,
				RetryMax: 1, RetryWaitMin: 200 * time.Millisecond, RetryWaitMax: time.Second,
			})
			if err != nil {
				return nil, err
			}
			return c, nil
		}
	}
	ordered, _ := ParseNames(names)
	checks := make([]Check, 0, len(ordered))
	for _, name := range ordered {
		c := Check{Name: name}
		if conf[name] {
			switch name {
			case NameAPI:
				c.Probe = &APIProbe{BaseURL: s.APIURL, UserAgent: env.UserAgent, Client: env.HTTPClient, Now: env.Now}
			case NameValkey:
				c.Probe = &ValkeyProbe{Options: vopts, Connect: connect, Now: env.Now}
			case NamePubSub:
				c.Probe = &PubSubProbe{Connect: connect, Key: s.SocketIO.Key, Sharded: s.SocketIO.Sharded, Expected: s.SocketIO.ExpectedInstances}
			case NameDO:
				c.Probe = &DOProbe{Client: doClient, Cluster: s.Cluster}
			}
		}
		checks = append(checks, c)
	}
	return checks
}
