package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oxyhq/oxyctl/internal/doapi"
)

// Export writes rules as a policy document (`firewall: allow: [...]`) that
// round-trips: Audit of the same rules against it finds nothing missing or
// unexpected. A Droplet or app is written by name when exactly one resource
// has that name, by id otherwise; a Kubernetes cluster always by id (names
// resolve only for clusters already looked up). A rule's description becomes
// a comment. A rule whose resource no longer exists, and a temporary grant,
// are written as comments saying why (audit then reports them as stale or
// temporary, never as unexpected). header lines are written first, as comments.
func Export(rules []doapi.Rule, inv *doapi.Inventory, header []string, now time.Time) []byte {
	if inv == nil {
		inv = &doapi.Inventory{}
	}
	var b strings.Builder
	for _, h := range header {
		fmt.Fprintf(&b, "# %s\n", oneLineText(h))
	}
	infos := Describe(rules, inv)
	b.WriteString("firewall:\n  allow:\n")
	seen := map[string]bool{}
	for i, r := range rules {
		k := key(r)
		if seen[k] {
			continue
		}
		seen[k] = true
		kind, value := exportEntry(r, infos[i], inv)
		line := fmt.Sprintf("- %s: %s", kind, yamlScalar(value))
		var notes []string
		if d := strings.TrimSpace(r.Description); d != "" {
			notes = append(notes, oneLineText(d))
		}
		if infos[i].Name != "" && infos[i].Name != value && infos[i].Name != r.Value {
			notes = append([]string{infos[i].Name}, notes...)
		} else if value != r.Value {
			notes = append([]string{"id " + r.Value}, notes...)
		}
		stale := !infos[i].Exists && r.Type != doapi.TypeIP
		g, until := grantAt(r.Description, now)
		wide := false
		if kind == KindIP {
			if p, ok := prefixOf(value); ok && p.Bits() < MinPrefixBits {
				wide = true
			}
		}
		switch {
		case wide:
			// A policy may not declare it (Validate refuses it), so the file
			// stays loadable; audit reports the rule as public.
			fmt.Fprintf(&b, "    # %s  # admits %s: a policy may not open the database that wide\n", line, wideText(value))
		case stale:
			fmt.Fprintf(&b, "    # %s  # %s no longer exists, so the rule admits nothing\n", line, staleText(r))
		case g == grantActive:
			fmt.Fprintf(&b, "    # %s  # temporary grant until %s: not part of the policy\n", line, until.Format(time.RFC3339))
		case g == grantExpired:
			fmt.Fprintf(&b, "    # %s  # temporary grant that expired at %s: apply removes it\n", line, until.Format(time.RFC3339))
		case len(notes) > 0:
			fmt.Fprintf(&b, "    %s  # %s\n", line, strings.Join(notes, "; "))
		default:
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	return []byte(b.String())
}

// exportEntry is the policy entry for a rule: kind and the value to write.
func exportEntry(r doapi.Rule, ri RuleInfo, inv *doapi.Inventory) (Kind, string) {
	switch r.Type {
	case doapi.TypeDroplet:
		if ri.Name != "" && !dropletIDRe().MatchString(ri.Name) {
			n := 0
			for _, d := range inv.Droplets {
				if strings.EqualFold(d.Name, ri.Name) {
					n++
				}
			}
			if n == 1 {
				return KindDroplet, ri.Name
			}
		}
		return KindDroplet, r.Value
	case doapi.TypeApp:
		if ri.Name != "" && !doapi.IsUUID(ri.Name) {
			n := 0
			for _, a := range inv.Apps {
				if a.Name == ri.Name {
					n++
				}
			}
			if n == 1 {
				return KindApp, ri.Name
			}
		}
		return KindApp, r.Value
	case doapi.TypeK8s:
		return KindK8s, r.Value
	case doapi.TypeTag:
		return KindTag, r.Value
	case doapi.TypeIP:
		if v, err := NormalizeIP(r.Value); err == nil {
			return KindIP, v
		}
		return KindIP, r.Value
	}
	return Kind(r.Type), r.Value
}

// yamlScalar quotes a value unless it is plainly safe as a YAML scalar.
func yamlScalar(v string) string {
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-/:", c)) {
			return strconv.Quote(v)
		}
	}
	if v == "" || strings.HasSuffix(v, ":") || strings.Contains(v, ": ") {
		return strconv.Quote(v)
	}
	return v
}

// oneLineText keeps a comment on one line, without control characters.
func oneLineText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// wideText says how much of the internet a range admits.
func wideText(v string) string {
	p, ok := prefixOf(v)
	if !ok || p.Bits() == 0 {
		return "every address"
	}
	return sizeText(p) + " addresses"
}
