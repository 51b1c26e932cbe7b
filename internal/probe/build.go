package probe

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/oxyhq/oxyctl/internal/clientlist"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// Env is what the checks need besides the settings.
type Env struct {
	UserAgent string
	Now       func() time.Time
	// ValkeyOptions are the Valkey connection settings (the Factory's,
	// built once); asked only when a valkey, pubsub or ratelimit check will run.
	ValkeyOptions func() (valkeyclient.Options, error)
	// Valkey connects with them (default valkeyclient.Connect).
	Valkey func(ctx context.Context) (*valkeyclient.Conn, error)
	// DO builds the DigitalOcean client (default doapi.New with the settings).
	DO         func(ctx context.Context) (DOClient, error)
	HTTPClient *http.Client
}

// Configured reports, per check, whether its settings are present. A check
// that is not configured is skipped ("not configured"), so that a run with
// nothing set touches nothing:
//   - api: the API URL was given by flag, environment or context (the
//     built-in default https://api.oxy.so alone does not count);
//   - valkey, pubsub and ratelimit: a Valkey URL is set;
//   - do: a DigitalOcean token is set.
func Configured(s *config.Settings) map[string]bool {
	return map[string]bool{
		NameAPI:       s.APIURL != "" && s.Sources["api_url"] != "default" && s.Sources["api_url"] != "",
		NameValkey:    s.RedisURL != "",
		NamePubSub:    s.RedisURL != "",
		NameRateLimit: s.RedisURL != "",
		NameDO:        s.DOToken != "",
	}
}

// FromSettings builds the named checks (in the fixed order) from the
// resolved settings and, for valkey, pubsub and ratelimit, the connection
// settings env gives. Unconfigured checks have a nil Probe.
func FromSettings(s *config.Settings, names []string, env Env) []Check {
	if env.Now == nil {
		env.Now = time.Now
	}
	conf := Configured(s)
	ordered, _ := ParseNames(names)
	var vopts valkeyclient.Options
	var verr error
	needValkey := false
	for _, n := range []string{NameValkey, NamePubSub, NameRateLimit} {
		needValkey = needValkey || slices.Contains(ordered, n) && conf[n]
	}
	if env.ValkeyOptions != nil && needValkey {
		vopts, verr = env.ValkeyOptions()
	}
	connect := env.Valkey
	if connect == nil {
		connect = func(ctx context.Context) (*valkeyclient.Conn, error) { return valkeyclient.Connect(ctx, vopts) }
	}
	doClient := env.DO
	if doClient == nil {
		doClient = func(context.Context) (DOClient, error) {
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
	// One client and one cluster lookup per run, whichever of the do,
	// valkey and pubsub checks asks first: a lookup by name lists every
	// cluster, and each check needs the same one.
	doClient = (&sharedDO{build: doClient}).client
	checks := make([]Check, 0, len(ordered))
	for _, name := range ordered {
		c := Check{Name: name}
		switch {
		case !conf[name]:
		case (name == NameValkey || name == NamePubSub || name == NameRateLimit) && verr != nil:
			c.Probe = Func(func(context.Context) Outcome { return Outcome{Status: Fail, Detail: errText(verr)} })
		case name == NameAPI:
			c.Probe = &APIProbe{BaseURL: s.APIURL, UserAgent: env.UserAgent, Client: env.HTTPClient, Now: env.Now}
		case name == NameValkey:
			c.Probe = &ValkeyProbe{Options: vopts, Connect: connect, Now: env.Now, Plan: planOf(s, doClient)}
		case name == NamePubSub:
			c.Probe = &PubSubProbe{Connect: connect, Key: s.SocketIO.Key, Sharded: s.SocketIO.Sharded, Expected: s.SocketIO.ExpectedInstances,
				Soft: softLimit(s, doClient)}
		case name == NameRateLimit:
			c.Probe = &RateLimitProbe{Connect: connect}
		case name == NameDO:
			c.Probe = &DOProbe{Client: doClient, Cluster: s.Cluster, Now: env.Now}
		}
		checks = append(checks, c)
	}
	return checks
}

// softLimit reads the pub/sub soft output-buffer limit from the cluster's
// DigitalOcean configuration when a token is set (nil otherwise: Valkey's
// default applies).
func softLimit(s *config.Settings, doClient func(context.Context) (DOClient, error)) func(context.Context) (clientlist.Limit, error) {
	if s.DOToken == "" {
		return nil
	}
	return func(ctx context.Context) (clientlist.Limit, error) {
		c, err := doClient(ctx)
		if err != nil {
			return clientlist.DefaultSoft, err
		}
		return clientlist.SoftFromDO(ctx, c, s.Cluster)
	}
}

// planOf reads the cluster's DigitalOcean plan, whose connection cap the
// valkey check also judges, when a token is set (nil otherwise).
func planOf(s *config.Settings, doClient func(context.Context) (DOClient, error)) func(context.Context) (doapi.Plan, error) {
	if s.DOToken == "" {
		return nil
	}
	return func(ctx context.Context) (doapi.Plan, error) {
		c, err := doClient(ctx)
		if err != nil {
			return doapi.Plan{}, err
		}
		return doapi.ClusterPlan(ctx, c, s.Cluster)
	}
}

// sharedDO builds the DigitalOcean client once, on the first call, and
// wraps it so that its cluster lookups are made once.
type sharedDO struct {
	build func(context.Context) (DOClient, error)
	once  sync.Once
	c     DOClient
	err   error
}

func (d *sharedDO) client(ctx context.Context) (DOClient, error) {
	d.once.Do(func() {
		c, err := d.build(ctx)
		if err == nil {
			c = &onceCluster{DOClient: c, found: map[string]foundCluster{}}
		}
		d.c, d.err = c, err
	})
	return d.c, d.err
}

// onceCluster answers FindCluster for a name from its first answer; a
// caller that asks meanwhile waits for it. An answer cut short by the
// caller's context is not kept.
type onceCluster struct {
	DOClient
	mu    sync.Mutex
	found map[string]foundCluster
}

type foundCluster struct {
	cl  *doapi.Cluster
	err error
}

func (o *onceCluster) FindCluster(ctx context.Context, nameOrUUID string) (*doapi.Cluster, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if f, ok := o.found[nameOrUUID]; ok {
		return f.cl, f.err
	}
	cl, err := o.DOClient.FindCluster(ctx, nameOrUUID)
	if ctx.Err() == nil {
		o.found[nameOrUUID] = foundCluster{cl, err}
	}
	return cl, err
}
