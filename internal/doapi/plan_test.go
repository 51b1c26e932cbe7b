package doapi

import "testing"

func TestPlan(t *testing.T) {
	for slug, want := range map[string]int64{"db-s-1vcpu-1gb": 1024, "db-s-2vcpu-4gb": 4096, "m-8vcpu-64gb": 65536, "db-s-1vcpu-512mb": 0, "custom": 0, "": 0} {
		if got := SizeMemoryMiB(slug); got != want {
			t.Errorf("%s: %d MiB, want %d", slug, got, want)
		}
	}
	for slug, want := range map[string]int64{"db-s-1vcpu-1gb": 10000, "db-s-2vcpu-4gb": 16384, "m-8vcpu-64gb": 262144, "custom": 0} {
		if got := PlanOf(slug).ConnectionCap; got != want {
			t.Errorf("%s: cap %d, want %d", slug, got, want)
		}
	}
	small, big, unknown := PlanOf("db-s-1vcpu-1gb"), PlanOf("m-8vcpu-64gb"), PlanOf("custom")
	for _, c := range []struct {
		maxclients int64
		plan       Plan
		want       int64
		from       string
	}{
		{15000, small, 10000, CapFromPlan},       // the plan is tighter than the server
		{10, small, 10, CapFromMaxclients},       // the server is tighter
		{10000, small, 10000, CapFromMaxclients}, // equal: the server's own
		{0, big, 262144, CapFromPlan},            // no maxclients in INFO
		{15000, unknown, 15000, CapFromMaxclients},
		{15000, Plan{}, 15000, CapFromMaxclients}, // no token
		{0, Plan{}, 0, ""},
	} {
		if got, from := ConnectionCap(c.maxclients, c.plan); got != c.want || from != c.from {
			t.Errorf("ConnectionCap(%d, %s) = %d %q, want %d %q", c.maxclients, c.plan.Size, got, from, c.want, c.from)
		}
	}
}
