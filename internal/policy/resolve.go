package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/oxyhq/oxyctl/internal/doapi"
)

// Needs says what inventory the entries and rules need, so only those lists
// and look-ups are requested (and only those token scopes are needed).
func Needs(entries []Entry, rules []doapi.Rule) doapi.Needs {
	var n doapi.Needs
	for _, e := range entries {
		switch e.Kind {
		case KindDroplet:
			n.Droplets = true
		case KindApp:
			n.Apps = true
		case KindK8s:
			if doapi.IsUUID(e.Value) {
				n.K8s = append(n.K8s, e.Value)
			}
		case KindTag:
			n.Tags = append(n.Tags, e.Value)
		}
	}
	for _, r := range rules {
		switch r.Type {
		case doapi.TypeDroplet:
			n.Droplets = true
		case doapi.TypeApp:
			n.Apps = true
		case doapi.TypeK8s:
			n.K8s = append(n.K8s, strings.ToLower(r.Value))
		case doapi.TypeTag:
			n.Tags = append(n.Tags, r.Value)
		}
	}
	n.K8s, n.Tags = uniqSorted(n.K8s), uniqSorted(n.Tags)
	return n
}

func uniqSorted(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	s := append([]string(nil), in...)
	sort.Strings(s)
	out := s[:1]
	for _, v := range s[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}

// Resolved is a policy entry and the rule it stands for.
type Resolved struct {
	Entry Entry
	// Rule has the API type and value; it is zero when Problem is set.
	Rule doapi.Rule
	// Name is what the entry points at (Droplet, app, cluster or tag name, or the address).
	Name string
	// Problem says why the entry did not resolve (no match, or several).
	Problem string
}

// OK reports whether the entry resolved.
func (r Resolved) OK() bool { return r.Problem == "" }

// Resolve maps every entry to a rule against the inventory. A name that
// matches nothing or several things is unresolved, with the reason.
func Resolve(entries []Entry, inv *doapi.Inventory) []Resolved {
	if inv == nil {
		inv = &doapi.Inventory{}
	}
	out := make([]Resolved, 0, len(entries))
	for _, e := range entries {
		r := Resolved{Entry: e}
		switch e.Kind {
		case KindDroplet:
			resolveDroplet(&r, inv)
		case KindApp:
			resolveApp(&r, inv)
		case KindK8s:
			resolveK8s(&r, inv)
		case KindTag:
			if t, ok := inv.Tags[e.Value]; ok && t != nil {
				r.Rule, r.Name = doapi.Rule{Type: doapi.TypeTag, Value: e.Value}, e.Value
			} else {
				r.Problem = fmt.Sprintf("no tag named %s exists", e.Value)
			}
		case KindIP:
			v, err := NormalizeIP(e.Value)
			if err != nil {
				r.Problem = err.Error()
			} else {
				r.Rule, r.Name = doapi.Rule{Type: doapi.TypeIP, Value: v}, v
			}
		default:
			r.Problem = fmt.Sprintf("unknown kind %q", e.Kind)
		}
		out = append(out, r)
	}
	return out
}

func resolveDroplet(r *Resolved, inv *doapi.Inventory) {
	v := r.Entry.Value
	if dropletIDRe().MatchString(v) {
		id, _ := strconv.Atoi(v)
		for _, d := range inv.Droplets {
			if d.ID == id {
				r.Rule, r.Name = doapi.Rule{Type: doapi.TypeDroplet, Value: strconv.Itoa(id)}, d.Name
				return
			}
		}
		r.Problem = fmt.Sprintf("no Droplet with id %d", id)
		return
	}
	var match []doapi.Droplet
	for _, d := range inv.Droplets {
		if d.Name == v {
			match = append(match, d)
		}
	}
	if len(match) == 0 { // Droplet names are case-insensitive in the API's name filter
		for _, d := range inv.Droplets {
			if strings.EqualFold(d.Name, v) {
				match = append(match, d)
			}
		}
	}
	switch len(match) {
	case 1:
		r.Rule, r.Name = doapi.Rule{Type: doapi.TypeDroplet, Value: strconv.Itoa(match[0].ID)}, match[0].Name
	case 0:
		r.Problem = fmt.Sprintf("no Droplet named %s (the account has %d Droplets)", v, len(inv.Droplets))
	default:
		ids := make([]string, len(match))
		for i, d := range match {
			ids[i] = strconv.Itoa(d.ID)
		}
		r.Problem = fmt.Sprintf("%d Droplets are named %s (ids %s): use the id", len(match), v, strings.Join(ids, ", "))
	}
}

func resolveApp(r *Resolved, inv *doapi.Inventory) {
	v := r.Entry.Value
	if doapi.IsUUID(v) {
		for _, a := range inv.Apps {
			if strings.EqualFold(a.ID, v) {
				r.Rule, r.Name = doapi.Rule{Type: doapi.TypeApp, Value: a.ID}, a.Name
				return
			}
		}
		r.Problem = fmt.Sprintf("no app with id %s", v)
		return
	}
	var match []doapi.App
	for _, a := range inv.Apps {
		if a.Name == v {
			match = append(match, a)
		}
	}
	switch len(match) {
	case 1:
		r.Rule, r.Name = doapi.Rule{Type: doapi.TypeApp, Value: match[0].ID}, match[0].Name
	case 0:
		r.Problem = fmt.Sprintf("no app named %s (the account has %d apps)", v, len(inv.Apps))
	default:
		ids := make([]string, len(match))
		for i, a := range match {
			ids[i] = a.ID
		}
		r.Problem = fmt.Sprintf("%d apps are named %s (ids %s): use the id", len(match), v, strings.Join(ids, ", "))
	}
}

func resolveK8s(r *Resolved, inv *doapi.Inventory) {
	v := r.Entry.Value
	if doapi.IsUUID(v) {
		if k := inv.K8s[strings.ToLower(v)]; k != nil {
			r.Rule, r.Name = doapi.Rule{Type: doapi.TypeK8s, Value: k.ID}, k.Name
			return
		}
		r.Problem = fmt.Sprintf("no Kubernetes cluster with id %s", v)
		return
	}
	// The API gives oxyctl no list of clusters: only those already looked
	// up (because a rule names them) can match by name.
	var match []*doapi.KubernetesCluster
	for _, k := range inv.K8s {
		if k != nil && k.Name == v {
			match = append(match, k)
		}
	}
	switch len(match) {
	case 1:
		r.Rule, r.Name = doapi.Rule{Type: doapi.TypeK8s, Value: match[0].ID}, match[0].Name
	case 0:
		r.Problem = fmt.Sprintf("no known Kubernetes cluster named %s: write the cluster id (oxyctl can look clusters up by id only)", v)
	default:
		r.Problem = fmt.Sprintf("%d Kubernetes clusters are named %s: use the id", len(match), v)
	}
}

// key identifies a rule for diffing: type and canonical value, never uuid.
func key(r doapi.Rule) string {
	v := r.Value
	switch r.Type {
	case doapi.TypeIP:
		if n, err := NormalizeIP(v); err == nil {
			v = n
		}
	case doapi.TypeApp, doapi.TypeK8s:
		v = strings.ToLower(v)
	}
	return r.Type + "\x00" + v
}

// RuleString is how findings and plans name a rule: "type:value".
func RuleString(r doapi.Rule) string { return r.Type + ":" + r.Value }

// SameRule reports whether two rules are the same trusted source (type and
// canonical value; uuid and description do not count).
func SameRule(a, b doapi.Rule) bool { return key(a) == key(b) }
