package policy

import (
	"strings"
	"testing"

	"github.com/oxyhq/oxyctl/internal/doapi"
)

// FuzzParse: no input panics, an error is one line, and whatever parses
// resolves, audits and plans without panicking either.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		basePolicy,
		"firewall:\n  allow:\n    - ip: 10.0.0.0/8\n    - tag: a:b\n    - k8s: " + k8sID + "\n",
		"firewall: &a\n  allow: *a\n",
		"firewall:\n  allow:\n    - *x\n",
		"firewall: {allow: [{droplet: 1}, {app: [1]}]}\n",
		"firewall:\n  allow:\n    - ip: \"::ffff:1.2.3.4\"\n",
		"",
	} {
		f.Add(s)
	}
	inv := inventory()
	f.Fuzz(func(t *testing.T, s string) {
		fw, err := Parse([]byte(s), "p.yaml")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		res := Resolve(fw.Allow, inv)
		Audit([]doapi.Rule{{Type: "ip_addr", Value: "0.0.0.0/0"}, {Type: "droplet", Value: "x"}}, res, inv)
		_, _ = MakePlan(fw, res, nil, inv)
	})
}
