// Package dbsettings is the managed Valkey configuration as code: the
// settings a context declares under database.settings (Terraform's
// digitalocean_database_valkey_config names), compared with the values the
// DigitalOcean API reports, and the PATCH and PUT that make them equal.
//
// It does no I/O: the command reads the API's values and writes the plan.
package dbsettings

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/doapi"
)

// Value kinds.
const (
	kindInt    = "integer"
	kindString = "string"
	kindBool   = "boolean"
	kindEnum   = "enum"
)

// Setting is one setting oxyctl knows: its Terraform name and the API's key.
type Setting struct {
	Name     string // Terraform's attribute name, as the config file writes it
	APIKey   string // the key of GET/PATCH /v2/databases/{id}/config
	Kind     string
	Min, Max int64
	Enum     []string
	// Restarts is true for a setting whose change restarts the cluster.
	Restarts bool
}

// MaxmemoryPolicy is the one setting that goes through /eviction_policy.
const MaxmemoryPolicy = "maxmemory_policy"

// PubsubLimit is the pub/sub output buffer limit (MiB, hard; soft = 1/4).
const PubsubLimit = "pubsub_client_output_buffer_limit"

// Known are the settings, in the order output lists them (from the spec's
// valkey_advanced_config).
var Known = []Setting{
	{Name: MaxmemoryPolicy, APIKey: "valkey_maxmemory_policy", Kind: kindEnum, Enum: doapi.EvictionPolicies},
	{Name: PubsubLimit, APIKey: "valkey_pubsub_client_output_buffer_limit", Kind: kindInt, Min: 32, Max: 512},
	{Name: "timeout", APIKey: "valkey_timeout", Kind: kindInt, Min: 0, Max: 31536000},
	{Name: "notify_keyspace_events", APIKey: "valkey_notify_keyspace_events", Kind: kindString, Max: 32},
	{Name: "persistence", APIKey: "valkey_persistence", Kind: kindEnum, Enum: []string{"off", "rdb"}},
	{Name: "io_threads", APIKey: "valkey_io_threads", Kind: kindInt, Min: 1, Max: 32},
	{Name: "number_of_databases", APIKey: "valkey_number_of_databases", Kind: kindInt, Min: 1, Max: 128, Restarts: true},
	{Name: "lfu_log_factor", APIKey: "valkey_lfu_log_factor", Kind: kindInt, Min: 0, Max: 100},
	{Name: "lfu_decay_time", APIKey: "valkey_lfu_decay_time", Kind: kindInt, Min: 1, Max: 120},
	{Name: "ssl", APIKey: "valkey_ssl", Kind: kindBool},
	{Name: "acl_channels_default", APIKey: "valkey_acl_channels_default", Kind: kindEnum, Enum: []string{"allchannels", "resetchannels"}},
	{Name: "frequent_snapshots", APIKey: "frequent_snapshots", Kind: kindBool},
	{Name: "active_expire_effort", APIKey: "valkey_active_expire_effort", Kind: kindInt, Min: 1, Max: 10},
}

// Lookup finds a setting by its Terraform name.
func Lookup(name string) (Setting, bool) {
	for _, s := range Known {
		if s.Name == name {
			return s, true
		}
	}
	return Setting{}, false
}

func names() string {
	n := make([]string, len(Known))
	for i, s := range Known {
		n[i] = s.Name
	}
	return strings.Join(n, ", ")
}

// Declared is one declared setting, its value in the API's form (int64,
// string or bool; the eviction policy with underscores).
type Declared struct {
	Setting
	Value any
	File  string
	Line  int
}

// Where is "file:line".
func (d Declared) Where() string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// FromNode reads the database.settings block the config package kept as a
// node. Unknown names, wrong types and values out of range are ConfigErrors
// naming the file and line.
func FromNode(n *yaml.Node, file string) ([]Declared, error) {
	if n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil, nil
	}
	bad := func(at *yaml.Node, format string, a ...any) error {
		return apperr.Configf("%s:%d: %s", file, at.Line, fmt.Sprintf(format, a...))
	}
	if n.Kind != yaml.MappingNode {
		return nil, bad(n, "database.settings must be a mapping of setting: value")
	}
	var out []Declared
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		s, ok := Lookup(k.Value)
		if !ok {
			return nil, bad(k, "unknown key %q under database.settings (known: %s)", k.Value, names())
		}
		if seen[s.Name] {
			return nil, bad(k, "%s is given twice", s.Name)
		}
		seen[s.Name] = true
		if v.Kind != yaml.ScalarNode {
			return nil, bad(v, "%s must be a %s", s.Name, s.Kind)
		}
		val, err := parseValue(s, v)
		if err != nil {
			return nil, bad(v, "%s", err)
		}
		out = append(out, Declared{Setting: s, Value: val, File: file, Line: k.Line})
	}
	return out, nil
}

// NormalizePolicy accepts an eviction policy in either spelling
// (allkeys-lru, allkeys_lru) and returns the API's.
func NormalizePolicy(v string) (string, bool) {
	p := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(v)), "-", "_")
	for _, e := range doapi.EvictionPolicies {
		if p == e {
			return p, true
		}
	}
	return "", false
}

// DashPolicy is the policy as Valkey's INFO spells it (allkeys-lru).
func DashPolicy(p string) string { return strings.ReplaceAll(p, "_", "-") }

func parseValue(s Setting, v *yaml.Node) (any, error) {
	switch s.Kind {
	case kindInt:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil || v.Tag == "!!str" {
			return nil, fmt.Errorf("%s must be an integer, got %q", s.Name, v.Value)
		}
		if n < s.Min || n > s.Max {
			return nil, fmt.Errorf("%s must be between %d and %d, got %d", s.Name, s.Min, s.Max, n)
		}
		return n, nil
	case kindBool:
		if v.Tag != "!!bool" {
			return nil, fmt.Errorf("%s must be true or false, got %q", s.Name, v.Value)
		}
		return v.Value == "true", nil
	case kindEnum:
		if s.Name == MaxmemoryPolicy {
			p, ok := NormalizePolicy(v.Value)
			if !ok {
				return nil, fmt.Errorf("%s must be one of %s (dashes or underscores), got %q", s.Name, strings.Join(s.Enum, ", "), v.Value)
			}
			return p, nil
		}
		for _, e := range s.Enum {
			if v.Value == e {
				return e, nil
			}
		}
		return nil, fmt.Errorf("%s must be one of %s, got %q", s.Name, strings.Join(s.Enum, ", "), v.Value)
	}
	if len(v.Value) > int(s.Max) {
		return nil, fmt.Errorf("%s is longer than %d characters", s.Name, s.Max)
	}
	if s.Name == "notify_keyspace_events" && strings.Trim(v.Value, "KEg$lshzxeA") != "" {
		return nil, fmt.Errorf("%s may hold only the letters KEg$lshzxeA, got %q", s.Name, v.Value)
	}
	return v.Value, nil
}

// Current is what the API reports: GET /config, with the eviction policy of
// GET /eviction_policy in place of valkey_maxmemory_policy.
func Current(cfg doapi.Config, evictionPolicy string) map[string]any {
	out := map[string]any{}
	for _, s := range Known {
		if v, ok := cfg[s.APIKey]; ok {
			out[s.Name] = canonical(v)
		}
	}
	if evictionPolicy != "" {
		out[MaxmemoryPolicy] = evictionPolicy
	}
	return out
}

// canonical turns a decoded JSON number into int64 when it is whole.
func canonical(v any) any {
	if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return v
}

// Equal compares a declared and a current value.
func Equal(a, b any) bool {
	return fmt.Sprint(canonical(a)) == fmt.Sprint(canonical(b))
}

// Row is one setting as audit shows it.
type Row struct {
	Name     string `json:"name"`
	Current  any    `json:"current"`
	Declared any    `json:"declared"`
	Drift    bool   `json:"drift"`
	Restarts bool   `json:"restarts,omitempty"`
}

// Finding kinds and severities (scripts match on them).
const (
	SevError   = "error"
	SevWarning = "warning"

	FindDrift          = "drift"
	FindEvictsCounters = "evicts_counters"
	FindPubsubMinimum  = "pubsub_minimum"
	FindUnknownCurrent = "unreported"
)

// Finding is one problem.
type Finding struct {
	Severity string `json:"severity"`
	Kind     string `json:"kind"`
	Setting  string `json:"setting"`
	Message  string `json:"message"`
}

// Report is the audit of the declared settings against the current ones.
type Report struct {
	Settings []Row     `json:"settings"`
	Findings []Finding `json:"findings"`
	OK       bool      `json:"ok"`
}

// Audit compares declared with current: a declared value that differs is a
// drift (error); risks are warnings whatever is declared: an eviction policy
// that evicts rate-limit counters, a pub/sub buffer limit at its minimum.
func Audit(declared []Declared, current map[string]any) *Report {
	rep := &Report{Settings: []Row{}, Findings: []Finding{}}
	decl := map[string]Declared{}
	for _, d := range declared {
		decl[d.Name] = d
	}
	for _, s := range Known {
		cur, has := current[s.Name]
		row := Row{Name: s.Name, Current: cur, Restarts: s.Restarts}
		if d, ok := decl[s.Name]; ok {
			row.Declared = d.Value
			switch {
			case !has:
				row.Drift = true
				rep.Findings = append(rep.Findings, Finding{SevError, FindUnknownCurrent, s.Name,
					fmt.Sprintf("%s is declared at %s as %s, but the API reports no value", s.Name, d.Where(), show(s.Name, d.Value))})
			case !Equal(d.Value, cur):
				row.Drift = true
				rep.Findings = append(rep.Findings, Finding{SevError, FindDrift, s.Name,
					fmt.Sprintf("%s is %s, declared %s at %s", s.Name, show(s.Name, cur), show(s.Name, d.Value), d.Where())})
			}
		}
		if !has && row.Declared == nil {
			continue
		}
		rep.Settings = append(rep.Settings, row)
	}
	if p, _ := current[MaxmemoryPolicy].(string); strings.HasPrefix(p, "allkeys_") {
		rep.Findings = append(rep.Findings, Finding{SevWarning, FindEvictsCounters, MaxmemoryPolicy,
			fmt.Sprintf("maxmemory_policy %s evicts rate-limit counters under memory pressure, which silently lifts a client's limit; prefer a volatile-* policy, or noeviction with memory headroom", DashPolicy(p))})
	}
	if n, ok := canonical(current[PubsubLimit]).(int64); ok && n <= 32 {
		rep.Findings = append(rep.Findings, Finding{SevWarning, FindPubsubMinimum, PubsubLimit,
			fmt.Sprintf("pubsub_client_output_buffer_limit is %d MiB, the minimum: a Socket.IO adapter's subscriber is cut off at %d MiB of backlog (soft limit %d MiB) and misses broadcasts; 64 or more is safer", n, n, n/4)})
	}
	rep.OK = true
	for _, f := range rep.Findings {
		if f.Severity == SevError {
			rep.OK = false
		}
	}
	return rep
}

// show prints a value as the config file writes it (the policy with dashes too).
func show(name string, v any) string {
	if v == nil {
		return "unset"
	}
	if s, ok := v.(string); ok {
		if name == MaxmemoryPolicy {
			return DashPolicy(s)
		}
		return strconv.Quote(s)
	}
	return fmt.Sprint(canonical(v))
}

// Show is show for commands.
func Show(name string, v any) string { return show(name, v) }

// Change is one setting to write.
type Change struct {
	Setting
	From any `json:"from"`
	To   any `json:"to"`
}

// Plan is what apply writes: a PATCH of only the changed keys and a PUT of
// the eviction policy when it changes.
type Plan struct {
	Changes []Change
}

// Empty reports whether nothing is to be written.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Restarting lists the changes that restart the cluster.
func (p *Plan) Restarting() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Restarts {
			out = append(out, c)
		}
	}
	return out
}

// Without returns the plan without the named settings.
func (p *Plan) Without(skip map[string]bool) *Plan {
	q := &Plan{}
	for _, c := range p.Changes {
		if !skip[c.Name] {
			q.Changes = append(q.Changes, c)
		}
	}
	return q
}

// Patch is the body of PATCH /config: the changed keys, eviction policy aside.
func (p *Plan) Patch() doapi.Config {
	cfg := doapi.Config{}
	for _, c := range p.Changes {
		if c.Name != MaxmemoryPolicy {
			cfg[c.APIKey] = c.To
		}
	}
	return cfg
}

// EvictionPolicy is the policy to PUT ("" when it does not change).
func (p *Plan) EvictionPolicy() string {
	for _, c := range p.Changes {
		if c.Name == MaxmemoryPolicy {
			s, _ := c.To.(string)
			return s
		}
	}
	return ""
}

// MakePlan lists the declared settings whose current value differs.
func MakePlan(declared []Declared, current map[string]any) *Plan {
	p := &Plan{}
	for _, d := range declared {
		if cur, ok := current[d.Name]; !ok || !Equal(d.Value, cur) {
			p.Changes = append(p.Changes, Change{Setting: d.Setting, From: current[d.Name], To: d.Value})
		}
	}
	sort.SliceStable(p.Changes, func(i, j int) bool { return order(p.Changes[i].Name) < order(p.Changes[j].Name) })
	return p
}

func order(name string) int {
	for i, s := range Known {
		if s.Name == name {
			return i
		}
	}
	return len(Known)
}

// Verify compares what was read back with the plan's target values; one line
// per setting that did not take.
func Verify(p *Plan, after map[string]any) []string {
	var diffs []string
	for _, c := range p.Changes {
		if got := after[c.Name]; !Equal(got, c.To) {
			diffs = append(diffs, fmt.Sprintf("%s reads back as %s, want %s", c.Name, show(c.Name, got), show(c.Name, c.To)))
		}
	}
	return diffs
}

// FromBackup turns the settings a backup holds (Terraform names) into
// declared values, checked like the config file's.
func FromBackup(values map[string]any, file string) ([]Declared, error) {
	var out []Declared
	for _, s := range Known {
		v, ok := values[s.Name]
		if !ok {
			continue
		}
		var n yaml.Node
		if err := n.Encode(canonical(v)); err != nil {
			return nil, apperr.Configf("%s: %s: %s", file, s.Name, err)
		}
		val, err := parseValue(s, &n)
		if err != nil {
			return nil, apperr.Configf("%s: %s", file, err)
		}
		out = append(out, Declared{Setting: s, Value: val, File: file})
	}
	for k := range values {
		if _, ok := Lookup(k); !ok {
			return nil, apperr.Configf("%s: unknown setting %q", file, k)
		}
	}
	return out, nil
}
