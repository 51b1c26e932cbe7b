package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/doapi"
)

// Change is one rule to add or remove.
type Change struct {
	Rule doapi.Rule `json:"rule"`
	// Name is what the rule points at (empty when unknown).
	Name string `json:"name"`
	// Where is the policy entry behind an addition ("file:line").
	Where string `json:"where,omitempty"`
	// Reason says why a rule goes: "not in the policy" or "duplicate".
	Reason string `json:"reason,omitempty"`
}

// Plan is the change that makes the firewall equal to the policy.
type Plan struct {
	Add    []Change     `json:"add"`
	Remove []Change     `json:"remove"`
	Keep   []doapi.Rule `json:"keep"`
	// Final is the whole list to PUT: kept rules in their current order
	// (descriptions untouched), then additions in policy order.
	Final []doapi.Rule `json:"final"`
}

// Empty reports whether the firewall already matches.
func (p *Plan) Empty() bool { return len(p.Add) == 0 && len(p.Remove) == 0 }

// MakePlan diffs the desired rules against the actual ones on (type,
// value), never on uuid. It refuses (ConfigError) a policy that is empty,
// too wide or too long, and any entry that did not resolve: apply must never
// guess.
func MakePlan(fw *Firewall, resolved []Resolved, actual []doapi.Rule, inv *doapi.Inventory) (*Plan, error) {
	return MakePlanAt(fw, resolved, actual, inv, time.Time{})
}

// MakePlanAt is MakePlan at the time now: a temporary grant the policy lacks
// is kept until it expires, and removed after.
func MakePlanAt(fw *Firewall, resolved []Resolved, actual []doapi.Rule, inv *doapi.Inventory, now time.Time) (*Plan, error) {
	if err := fw.Validate(); err != nil {
		return nil, err
	}
	var bad []string
	for _, r := range resolved {
		if !r.OK() {
			bad = append(bad, fmt.Sprintf("%s: %s: %s", r.Entry.Where(), r.Entry, r.Problem))
		}
	}
	if len(bad) > 0 {
		return nil, &apperr.ConfigError{
			Err:  fmt.Errorf("refusing to apply: %d policy %s did not resolve: %s", len(bad), pluralWord(len(bad), "entry", "entries"), strings.Join(bad, "; ")),
			Hint: "fix the names in the policy (or use ids); `oxyctl firewall audit` lists them",
		}
	}

	desired := map[string]Resolved{}
	var order []string
	for _, r := range resolved {
		k := key(r.Rule)
		if _, dup := desired[k]; !dup {
			desired[k] = r
			order = append(order, k)
		}
	}
	if len(desired) == 0 {
		return nil, apperr.Configf("refusing to apply an empty firewall: it would open the database to every address")
	}

	infos := Describe(actual, inv)
	p := &Plan{Add: []Change{}, Remove: []Change{}, Keep: []doapi.Rule{}, Final: []doapi.Rule{}}
	kept := map[string]bool{}
	for i, r := range actual {
		k := key(r)
		switch {
		case kept[k]:
			p.Remove = append(p.Remove, Change{Rule: r, Name: infos[i].Name, Reason: "duplicate"})
		case desired[k].Entry.Kind != "":
			kept[k] = true
			p.Keep = append(p.Keep, r)
			p.Final = append(p.Final, doapi.Rule{Type: r.Type, Value: r.Value, Description: r.Description})
		default:
			switch g, until := grantAt(r.Description, now); g {
			case grantActive:
				kept[k] = true
				p.Keep = append(p.Keep, r)
				p.Final = append(p.Final, doapi.Rule{Type: r.Type, Value: r.Value, Description: r.Description})
			case grantExpired:
				p.Remove = append(p.Remove, Change{Rule: r, Name: infos[i].Name, Reason: "grant expired at " + until.Format(time.RFC3339)})
			default:
				p.Remove = append(p.Remove, Change{Rule: r, Name: infos[i].Name, Reason: "not in the policy"})
			}
		}
	}
	for _, k := range order {
		if kept[k] {
			continue
		}
		r := desired[k]
		p.Add = append(p.Add, Change{Rule: doapi.Rule{Type: r.Rule.Type, Value: r.Rule.Value}, Name: r.Name, Where: r.Entry.Where()})
		p.Final = append(p.Final, doapi.Rule{Type: r.Rule.Type, Value: r.Rule.Value})
	}
	if len(p.Final) > MaxRules {
		return nil, apperr.Configf("the firewall would have %d rules; DigitalOcean allows at most %d", len(p.Final), MaxRules)
	}
	return p, nil
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Verify compares the rules read back after a PUT with the plan's final
// list: the same (type, value) set, and the same descriptions. It returns
// one line per difference; none means the firewall is as planned.
func Verify(final, after []doapi.Rule) []string {
	want := map[string]doapi.Rule{}
	for _, r := range final {
		want[key(r)] = r
	}
	got := map[string]doapi.Rule{}
	var diffs []string
	for _, r := range after {
		k := key(r)
		if _, dup := got[k]; dup {
			diffs = append(diffs, "duplicate rule "+RuleString(r))
			continue
		}
		got[k] = r
		w, ok := want[k]
		switch {
		case !ok:
			diffs = append(diffs, "unexpected rule "+RuleString(r))
		case w.Description != r.Description:
			diffs = append(diffs, fmt.Sprintf("rule %s has description %q, want %q", RuleString(r), r.Description, w.Description))
		}
	}
	for k, w := range want {
		if _, ok := got[k]; !ok {
			diffs = append(diffs, "missing rule "+RuleString(w))
		}
	}
	sort.Strings(diffs)
	return diffs
}
