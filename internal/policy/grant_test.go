package policy

import (
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/doapi"
)

func TestGrantDescription(t *testing.T) {
	until := time.Date(2026, 11, 30, 15, 15, 0, 0, time.FixedZone("CET", 3600))
	d := GrantDescription(until, " ci ")
	if d != "oxyctl grant until 2026-11-30T14:15:00Z: ci" {
		t.Fatal(d)
	}
	u, r, ok := ParseGrant(d)
	if !ok || !u.Equal(until) || r != "ci" {
		t.Fatalf("%v %q %v", u, r, ok)
	}
	for _, s := range []string{"", "oxy-api-backend (production API)", "oxyctl grant until tomorrow: x"} {
		if _, _, ok := ParseGrant(s); ok {
			t.Errorf("%q read as a grant", s)
		}
	}
}

// A grant the policy lacks: temporary (warning) before its expiry and kept by
// the plan; expired (error) after, and removed by the plan, nothing else.
func TestGrantsInAuditAndPlan(t *testing.T) {
	inv := inventory()
	fw, err := Parse([]byte(basePolicy), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res := Resolve(fw.Allow, inv)
	now := time.Date(2026, 11, 30, 14, 45, 0, 0, time.UTC)
	grant := doapi.Rule{UUID: "u-g", Type: doapi.TypeIP, Value: "203.0.113.9", Description: GrantDescription(now.Add(30*time.Minute), "ci")}
	rules := append(baseRules(), grant)

	rep := AuditAt(rules, res, inv, now)
	if !rep.OK || len(rep.Findings) != 1 || rep.Findings[0].Kind != FindTemporary || rep.Findings[0].Severity != SevWarning {
		t.Fatalf("%+v", rep.Findings)
	}
	p, err := MakePlanAt(fw, res, rules, inv, now)
	if err != nil || !p.Empty() || len(p.Final) != len(rules) {
		t.Fatalf("%+v %v", p, err)
	}

	later := now.Add(31 * time.Minute)
	rep = AuditAt(rules, res, inv, later)
	if rep.OK || len(rep.Findings) != 1 || rep.Findings[0].Kind != FindExpired || rep.Findings[0].Severity != SevError {
		t.Fatalf("%+v", rep.Findings)
	}
	p, err = MakePlanAt(fw, res, rules, inv, later)
	if err != nil || len(p.Add) != 0 || len(p.Remove) != 1 || p.Remove[0].Rule.Value != "203.0.113.9" ||
		p.Remove[0].Reason != "grant expired at 2026-11-30T15:15:00Z" || len(p.Final) != len(rules)-1 {
		t.Fatalf("%+v %v", p, err)
	}

	// Without a clock (Audit, MakePlan) a grant is an ordinary rule.
	if rep := Audit(rules, res, inv); rep.OK {
		t.Fatal("Audit without a clock must report the rule as unexpected")
	}
}
