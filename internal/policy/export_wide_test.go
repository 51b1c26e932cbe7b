package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/doapi"
)

// A rule that admits the whole internet cannot be declared in a policy, so
// the export writes it as a comment: the file still loads. (Before: the
// export of a firewall holding 0.0.0.0/0 was a policy audit refused.)
func TestExportOfAWideRuleLoads(t *testing.T) {
	rules := []doapi.Rule{{Type: doapi.TypeIP, Value: "0.0.0.0/0"}, {Type: doapi.TypeIP, Value: "203.0.113.7"}}
	out := Export(rules, nil, nil, time.Now())
	fw, err := Parse(out, "export.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(fw.Allow) != 1 || fw.Allow[0].Value != "203.0.113.7" || !strings.Contains(string(out), "# - ip: 0.0.0.0/0  # admits every address") {
		t.Fatalf("%+v\n%s", fw.Allow, out)
	}
}
