package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oxyhq/oxyctl/internal/doapi"
)

// RuleInfo is a firewall rule with what it points at.
type RuleInfo struct {
	UUID  string `json:"uuid"`
	Type  string `json:"type"`
	Value string `json:"value"`
	// Name is the Droplet, app or cluster name, the tag, or the address;
	// empty when the target is unknown.
	Name string `json:"name"`
	// Exists is false when the Droplet, app, cluster or tag is gone.
	Exists bool `json:"exists"`
	// Public is true for an ip_addr rule that admits internet addresses.
	Public bool `json:"public"`
	// Detail is one line for people: "Droplet oxy-api-backend (146.190.20.41, private 10.110.0.5)".
	Detail      string `json:"detail"`
	Description string `json:"description"`
	CreatedAt   string `json:"created_at"`
	// Declared is set by Audit: the rule matches a policy entry.
	Declared *bool `json:"declared,omitempty"`
}

// Describe resolves every rule to what it points at.
func Describe(rules []doapi.Rule, inv *doapi.Inventory) []RuleInfo {
	if inv == nil {
		inv = &doapi.Inventory{}
	}
	out := make([]RuleInfo, 0, len(rules))
	for _, r := range rules {
		ri := RuleInfo{UUID: r.UUID, Type: r.Type, Value: r.Value, Description: r.Description}
		if !r.CreatedAt.IsZero() {
			ri.CreatedAt = r.CreatedAt.UTC().Format(time.RFC3339)
		}
		switch r.Type {
		case doapi.TypeDroplet:
			id, _ := strconv.Atoi(r.Value)
			ri.Detail = "Droplet " + r.Value + " (not found)"
			if !inv.DropletsLoaded {
				ri.Exists, ri.Detail = true, "Droplet "+r.Value
			}
			for _, d := range inv.Droplets {
				if d.ID == id {
					ri.Name, ri.Exists = d.Name, true
					ri.Detail = "Droplet " + d.Name + addrText(d)
				}
			}
		case doapi.TypeApp:
			ri.Detail = "app " + r.Value + " (not found)"
			if !inv.AppsLoaded {
				ri.Exists, ri.Detail = true, "app "+r.Value
			}
			for _, a := range inv.Apps {
				if strings.EqualFold(a.ID, r.Value) {
					ri.Name, ri.Exists, ri.Detail = a.Name, true, "app "+a.Name
				}
			}
		case doapi.TypeK8s:
			k, looked := inv.K8s[strings.ToLower(r.Value)]
			switch {
			case k != nil:
				ri.Name, ri.Exists = k.Name, true
				ri.Detail = fmt.Sprintf("Kubernetes cluster %s (%s)", k.Name, k.State)
			case looked:
				ri.Detail = "Kubernetes cluster " + r.Value + " (not found)"
			default:
				ri.Exists, ri.Detail = true, "Kubernetes cluster "+r.Value
			}
		case doapi.TypeTag:
			t, looked := inv.Tags[r.Value]
			switch {
			case t != nil:
				ri.Name, ri.Exists = t.Name, true
				ri.Detail = fmt.Sprintf("tag %s (%s)", t.Name, plural(t.Droplets, "Droplet"))
			case looked:
				ri.Detail = "tag " + r.Value + " (no such tag)"
			default:
				ri.Exists, ri.Detail = true, "tag "+r.Value
			}
		case doapi.TypeIP:
			ri.Name, ri.Exists = r.Value, true
			switch Exposure(r.Value) {
			case IPPrivate:
				ri.Detail = "IP " + r.Value + " (private)"
			case IPPublic:
				ri.Public, ri.Detail = true, "IP "+r.Value+" (PUBLIC)"
			case IPEveryone:
				ri.Public, ri.Detail = true, "IP "+r.Value+" (PUBLIC: every address)"
			default:
				ri.Detail = "IP " + r.Value + " (not an IPv4 address)"
			}
		default:
			ri.Exists, ri.Detail = true, r.Type+" "+r.Value
		}
		out = append(out, ri)
	}
	return out
}

func addrText(d doapi.Droplet) string {
	var parts []string
	if d.PublicIP != "" {
		parts = append(parts, d.PublicIP)
	}
	if d.PrivateIP != "" {
		parts = append(parts, "private "+d.PrivateIP)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Severities and kinds of findings, as `firewall audit -o json` prints them
// (scripts match on these values).
const (
	SevError   = "error"
	SevWarning = "warning"

	FindMissing    = "missing"
	FindUnexpected = "unexpected"
	FindPublic     = "public"
	FindStale      = "stale"
	FindUnresolved = "unresolved"
	FindDuplicate  = "duplicate"
	FindTemporary  = "temporary"
	FindExpired    = "expired"
)

// Finding is one problem the audit found.
type Finding struct {
	Severity string `json:"severity"`
	Kind     string `json:"kind"`
	Rule     string `json:"rule"`
	Message  string `json:"message"`
}

// Report is the result of an audit.
type Report struct {
	Rules    []RuleInfo `json:"rules"`
	Findings []Finding  `json:"findings"`
	OK       bool       `json:"ok"`
}

// Errors counts the findings of severity error.
func (r *Report) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SevError {
			n++
		}
	}
	return n
}

// Audit compares the actual rules with the resolved policy. Findings come in
// a stable order: policy entries first (in policy order), then rules (in the
// API's order). It knows no clock: temporary grants are audited by AuditAt.
func Audit(actual []doapi.Rule, resolved []Resolved, inv *doapi.Inventory) *Report {
	return AuditAt(actual, resolved, inv, time.Time{})
}

// AuditAt is Audit at the time now: a rule the policy lacks that is a
// temporary grant (`firewall allow --for`) is a warning "temporary" until it
// expires and an error "expired" after.
func AuditAt(actual []doapi.Rule, resolved []Resolved, inv *doapi.Inventory, now time.Time) *Report {
	rep := &Report{Rules: Describe(actual, inv), Findings: []Finding{}}
	add := func(sev, kind, rule, format string, a ...any) {
		rep.Findings = append(rep.Findings, Finding{Severity: sev, Kind: kind, Rule: rule, Message: fmt.Sprintf(format, a...)})
	}

	have := map[string]bool{}
	for _, r := range actual {
		have[key(r)] = true
	}
	declared := map[string]Entry{}
	for _, res := range resolved {
		e := res.Entry
		if !res.OK() {
			add(SevError, FindUnresolved, string(e.Kind)+":"+e.Value, "%s (%s): %s", e, e.Where(), res.Problem)
			continue
		}
		k := key(res.Rule)
		if first, dup := declared[k]; dup {
			add(SevWarning, FindDuplicate, RuleString(res.Rule), "%s (%s) is declared again at %s", first, first.Where(), e.Where())
			continue
		}
		declared[k] = e
		if !have[k] {
			add(SevError, FindMissing, RuleString(res.Rule), "%s is declared at %s but has no rule", targetText(res), e.Where())
		}
	}

	seen := map[string]int{}
	for i, r := range actual {
		ri := &rep.Rules[i]
		k := key(r)
		e, isDeclared := declared[k]
		d := isDeclared
		ri.Declared = &d
		seen[k]++
		if seen[k] == 2 {
			add(SevWarning, FindDuplicate, RuleString(r), "%s appears more than once; apply keeps one", ruleText(*ri))
		}
		if seen[k] > 1 {
			continue
		}
		if !isDeclared {
			switch g, until := grantAt(r.Description, now); g {
			case grantActive:
				add(SevWarning, FindTemporary, RuleString(r), "%s is a temporary grant until %s, not in the policy (apply keeps it until then)",
					ruleText(*ri), until.Format(time.RFC3339))
				continue
			case grantExpired:
				add(SevError, FindExpired, RuleString(r), "%s is a temporary grant that expired at %s (`oxyctl firewall apply` removes it)",
					ruleText(*ri), until.Format(time.RFC3339))
				continue
			}
		}
		stale := !ri.Exists && r.Type != doapi.TypeIP
		switch {
		case stale && r.Type == doapi.TypeTag:
			add(SevWarning, FindStale, RuleString(r), "tag %s does not exist, so the rule admits nothing", r.Value)
		case stale:
			add(SevError, FindStale, RuleString(r), "%s no longer exists", staleText(r))
		}
		// A range that wide is never declared (a policy may not), so its
		// one finding is public, not also unexpected: an export of such a
		// firewall, audited, reports nothing unexpected.
		wide := false
		if r.Type == doapi.TypeIP {
			switch Exposure(r.Value) {
			case IPEveryone:
				wide = true
				if p, _ := prefixOf(r.Value); p.Bits() > 0 {
					add(SevError, FindPublic, RuleString(r), "%s admits %s addresses, a large part of the internet (a policy may not declare it: apply removes it)", r.Value, sizeText(p))
				} else {
					add(SevError, FindPublic, RuleString(r), "%s admits every address on the internet (a policy may not declare it: apply removes it)", r.Value)
				}
			case IPPublic:
				if isDeclared {
					add(SevWarning, FindPublic, RuleString(r), "%s is a public address, declared at %s; prefer a Droplet, app or VPC rule", r.Value, e.Where())
				} else {
					add(SevError, FindPublic, RuleString(r), "%s is a public address that is not in the policy", r.Value)
				}
			}
		}
		if !isDeclared && !wide && (!stale || r.Type == doapi.TypeTag) {
			add(SevError, FindUnexpected, RuleString(r), "%s is not in the policy", ruleText(*ri))
		}
	}
	rep.OK = rep.Errors() == 0
	return rep
}

func targetText(res Resolved) string {
	switch res.Rule.Type {
	case doapi.TypeDroplet, doapi.TypeApp, doapi.TypeK8s:
		what := map[string]string{doapi.TypeDroplet: "Droplet", doapi.TypeApp: "app", doapi.TypeK8s: "Kubernetes cluster"}[res.Rule.Type]
		if res.Name != "" && res.Name != res.Rule.Value {
			return fmt.Sprintf("%s %s (%s)", what, res.Name, res.Rule.Value)
		}
		return what + " " + res.Rule.Value
	case doapi.TypeTag:
		return "tag " + res.Rule.Value
	}
	return "IP " + res.Rule.Value
}

func ruleText(ri RuleInfo) string {
	if ri.Name != "" && ri.Name != ri.Value {
		return fmt.Sprintf("%s %s (%s)", ri.Type, ri.Value, ri.Name)
	}
	return ri.Type + " " + ri.Value
}

func staleText(r doapi.Rule) string {
	switch r.Type {
	case doapi.TypeDroplet:
		return "Droplet " + r.Value
	case doapi.TypeApp:
		return "app " + r.Value
	case doapi.TypeK8s:
		return "Kubernetes cluster " + r.Value
	}
	return r.Type + " " + r.Value
}
