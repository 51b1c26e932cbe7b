package probe

import (
	"context"
	"fmt"
	"strings"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// What the ratelimit check found out about scripting.
const (
	ScriptingEnabled    = "enabled"
	ScriptingRestricted = "restricted"
	ScriptingUnknown    = "unknown"
)

// RateLimitData are the facts of the ratelimit check.
type RateLimitData struct {
	// Scripting is enabled, restricted (SCRIPT is refused) or unknown.
	Scripting string            `json:"scripting"`
	Scripts   []RateLimitScript `json:"scripts"`
	// MaxMemoryPolicy is the first primary's (INFO memory); "" when unread.
	MaxMemoryPolicy string `json:"maxmemory_policy"`
	// EvictedKeys and Errors are totals since the servers started, over
	// every primary.
	EvictedKeys int64           `json:"evicted_keys"`
	Errors      RateLimitErrors `json:"errors"`
}

// RateLimitScript is one known rate-limit-redis script and whether a
// primary has it loaded.
type RateLimitScript struct {
	SHA     string `json:"sha"`
	Library string `json:"library"`
	Version string `json:"version"`
	Role    string `json:"role"`
	Loaded  bool   `json:"loaded"`
}

// RateLimitErrors are INFO errorstats counts of the errors that break the
// limiter.
type RateLimitErrors struct {
	OOM      int64 `json:"OOM"`
	NOPERM   int64 `json:"NOPERM"`
	NOSCRIPT int64 `json:"NOSCRIPT"`
}

// RateLimitProbe asks whether the API's limiter (express-rate-limit with
// rate-limit-redis) can run on the server: whether scripting is allowed
// (SCRIPT EXISTS of the known scripts, read-only), which library version's
// scripts are loaded, whether counters are evicted (INFO memory and stats)
// and whether writes or scripts are refused (INFO errorstats). In a cluster
// it asks every primary; a script loaded on any of them counts.
type RateLimitProbe struct {
	Connect func(ctx context.Context) (*valkeyclient.Conn, error)
}

// rlNode is what one primary answered.
type rlNode struct {
	addr      string
	exists    []int64
	scriptErr error
	policy    string
	evicted   int64
	errs      RateLimitErrors
	notes     []string // sections that could not be read
	failed    string   // the node could not be asked at all
}

// Run asks every primary.
func (p *RateLimitProbe) Run(ctx context.Context) Outcome {
	data := &RateLimitData{Scripting: ScriptingUnknown, Scripts: make([]RateLimitScript, len(ratelimit.Scripts))}
	for i, s := range ratelimit.Scripts {
		data.Scripts[i] = RateLimitScript{SHA: s.SHA1, Library: s.Library, Version: s.Version, Role: s.Role}
	}
	conn, err := p.Connect(ctx)
	if err != nil {
		return Outcome{Status: Fail, Detail: errText(err), Data: data}
	}
	defer conn.Close()
	primaries, err := conn.Primaries(ctx)
	if err != nil {
		return Outcome{Status: Fail, Detail: errText(err), Data: data}
	}
	nodes := valkeyclient.EachNode(primaries, func(n valkeyclient.Node) rlNode {
		return askRateLimit(ctx, n)
	}, func(n valkeyclient.Node, p any) rlNode {
		return rlNode{addr: n.Addr, failed: fmt.Sprintf("internal error (a bug): %v", p)}
	})

	f := newFindings()
	var notes []string
	loaded := map[string]bool{}
	var refused, unknown []string
	answered := 0
	for i := range nodes {
		n := &nodes[i]
		label := ""
		if conn.Cluster {
			label = n.addr + ": "
		}
		if n.failed != "" {
			f.fail("%s%s", label, n.failed)
			continue
		}
		for _, note := range n.notes {
			notes = append(notes, label+note)
		}
		switch {
		case n.scriptErr != nil && valkeyclient.IsRefused(n.scriptErr):
			refused = append(refused, label+"SCRIPT EXISTS: "+replyText(n.scriptErr))
		case n.scriptErr != nil:
			unknown = append(unknown, label+"SCRIPT EXISTS: "+replyText(n.scriptErr))
		default:
			answered++
			for j, sha := range ratelimit.ScriptSHAs() {
				if j < len(n.exists) && n.exists[j] == 1 {
					loaded[sha] = true
				}
			}
		}
		if data.MaxMemoryPolicy == "" {
			data.MaxMemoryPolicy = n.policy
		}
		data.EvictedKeys += n.evicted
		data.Errors.OOM += n.errs.OOM
		data.Errors.NOPERM += n.errs.NOPERM
		data.Errors.NOSCRIPT += n.errs.NOSCRIPT
		// Counters outlive the script cache: judged whatever scripting says.
		if n.policy != "" && n.policy != "noeviction" {
			f.counter(ctx, "ratelimit:"+n.addr+":evicted_keys",
				label+"maxmemory-policy "+n.policy+" evicts rate-limit counters, which silently lifts clients' limits (use noeviction with memory headroom): ",
				n.evicted, "keys evicted")
		}
		f.counter(ctx, "ratelimit:"+n.addr+":errorstat_OOM", label+"writes refused at maxmemory, which the limiter turns into errors (HTTP 500): ", n.errs.OOM, "OOM errors")
		f.counter(ctx, "ratelimit:"+n.addr+":errorstat_NOPERM", label+"commands refused by an ACL: ", n.errs.NOPERM, "NOPERM errors")
		f.counter(ctx, "ratelimit:"+n.addr+":errorstat_NOSCRIPT", label+"EVALSHA of a script that was not loaded (rate-limit-redis loads it again and retries; once after a restart, failover or SCRIPT FLUSH is expected, more means the cache keeps being emptied): ", n.errs.NOSCRIPT, "NOSCRIPT errors")
	}
	for i := range data.Scripts {
		data.Scripts[i].Loaded = loaded[data.Scripts[i].SHA]
	}

	var summary []string
	switch {
	case len(refused) > 0:
		data.Scripting = ScriptingRestricted
		f.fail("scripting is refused (%s): rate-limit-redis cannot load its scripts, so the API's limiter errors on every limited route (HTTP 500), or with passOnStoreError lets every request through unlimited; ask DigitalOcean support to enable scripting (EVAL, EVALSHA, SCRIPT) on the database cluster",
			strings.Join(refused, "; "))
	case len(unknown) > 0:
		f.warn("could not tell whether scripting is allowed (%s)", strings.Join(unknown, "; "))
	case answered > 0:
		data.Scripting = ScriptingEnabled
		if in := versionsInUse(data.Scripts); len(in) > 0 {
			summary = append(summary, strings.Join(in, "; "))
		} else {
			f.warn("no known %s script is loaded: no limited request since a restart or failover emptied the script cache (the next one loads them), or the API uses another server", ratelimit.Library)
		}
	}
	if data.MaxMemoryPolicy != "" {
		summary = append(summary, "maxmemory-policy "+data.MaxMemoryPolicy)
	}
	// A reading the server refused is a note after the summary: it weakens
	// the check without failing it.
	tail := notes
	if len(summary) > 0 {
		tail = append([]string{strings.Join(summary, ", ")}, notes...)
	}
	return Outcome{Status: f.status, Detail: f.detail(strings.Join(tail, "; ")), Data: data}
}

// askRateLimit reads one primary in one round trip.
func askRateLimit(ctx context.Context, n valkeyclient.Node) rlNode {
	c := n.Client
	out := rlNode{addr: n.Addr}
	res := c.DoMulti(ctx,
		c.B().ScriptExists().Sha1(ratelimit.ScriptSHAs()...).Build(),
		c.B().Info().Section("memory").Build(),
		c.B().Info().Section("stats").Build(),
		c.B().Info().Section("errorstats").Build(),
	)
	if err := res[0].Error(); err != nil {
		if _, ok := valkey.IsValkeyErr(err); !ok {
			// Not an answer: the node could not be asked.
			out.failed = errText(valkeyclient.Classify(err, n.Target()))
			return out
		}
		out.scriptErr = err
	} else if out.exists, err = res[0].AsIntSlice(); err != nil {
		out.scriptErr = err
	}
	section := func(i int, name string) valkeyclient.Info {
		s, err := res[i].ToString()
		if err != nil {
			out.notes = append(out.notes, fmt.Sprintf("could not read INFO %s: %s", name, replyText(err)))
			return nil
		}
		return valkeyclient.ParseInfo(s)
	}
	if kv := section(1, "memory"); kv != nil {
		out.policy = kv["maxmemory_policy"]
	}
	if kv := section(2, "stats"); kv != nil {
		out.evicted, _ = kv.Int("evicted_keys")
	}
	if kv := section(3, "errorstats"); kv != nil {
		out.errs = RateLimitErrors{OOM: kv.Count("errorstat_OOM"), NOPERM: kv.Count("errorstat_NOPERM"), NOSCRIPT: kv.Count("errorstat_NOSCRIPT")}
	}
	return out
}

// versionsInUse names the library versions whose scripts are loaded, with
// the roles loaded: "rate-limit-redis 6.0.1 (increment, get)". A version is
// in use when a script only it loads is loaded; when only a script that
// several versions share is, each of those is named.
func versionsInUse(scripts []RateLimitScript) []string {
	owners := map[string][]string{} // sha -> versions
	for _, s := range scripts {
		owners[s.SHA] = append(owners[s.SHA], s.Version)
	}
	var order []string
	roles := map[string][]string{}
	unique := map[string]bool{}
	for _, s := range scripts {
		if !s.Loaded {
			continue
		}
		if _, seen := roles[s.Version]; !seen {
			order = append(order, s.Version)
		}
		roles[s.Version] = append(roles[s.Version], s.Role)
		if len(owners[s.SHA]) == 1 {
			unique[s.Version] = true
		}
	}
	var out []string
	for _, v := range order {
		if len(unique) == 0 || unique[v] {
			out = append(out, fmt.Sprintf("%s %s (%s)", ratelimit.Library, v, strings.Join(roles[v], ", ")))
		}
	}
	if len(unique) == 0 && len(out) > 1 {
		return []string{"one of " + strings.Join(out, " or ") + ": only a script they share is loaded"}
	}
	return out
}

// replyText is a server's error reply on one line, without the arguments
// Valkey echoes after "with args beginning with".
func replyText(err error) string {
	s := apperr.OneLine(err.Error())
	if i := strings.Index(s, ", with args beginning with"); i >= 0 {
		s = s[:i]
	}
	return s
}
