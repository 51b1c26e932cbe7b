package doapi

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
)

// sizeMemoryRE is the memory at the end of a database size slug
// (db-s-1vcpu-1gb, db-s-2vcpu-4gb, m-8vcpu-64gb): the API's layouts say a
// slug names the node's identifier, CPU and RAM, in that order.
// GET /v2/databases/options lists slugs only, so the slug is the one source
// of a size's memory.
var sizeMemoryRE = regexp.MustCompile(`-(\d+)gb$`)

// SizeMemoryMiB is the node memory a size slug names, in MiB; 0 when the
// slug does not end in one.
func SizeMemoryMiB(slug string) int64 {
	m := sizeMemoryRE.FindStringSubmatch(slug)
	if m == nil {
		return 0
	}
	gb, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || gb <= 0 || gb > 1<<20 {
		return 0
	}
	return gb * 1024
}

// Plan is what a cluster's size says about its limits.
type Plan struct {
	Size      string // the size slug, e.g. db-s-1vcpu-1gb
	MemoryMiB int64  // the node memory the slug names; 0 when it names none
	// ConnectionCap is DigitalOcean's cap on simultaneous connections,
	// max(10000, 4 per MiB of memory); 0 when the memory is unknown.
	ConnectionCap int64
}

// PlanOf is the plan of a cluster of this size slug.
func PlanOf(size string) Plan {
	p := Plan{Size: size, MemoryMiB: SizeMemoryMiB(size)}
	if p.MemoryMiB > 0 {
		p.ConnectionCap = max(10000, 4*p.MemoryMiB)
	}
	return p
}

// ClusterFinder finds a managed database cluster by name or id (*Client
// does).
type ClusterFinder interface {
	FindCluster(ctx context.Context, nameOrUUID string) (*Cluster, error)
}

// ClusterPlan looks the cluster up and returns its plan.
func ClusterPlan(ctx context.Context, api ClusterFinder, cluster string) (Plan, error) {
	cl, err := api.FindCluster(ctx, cluster)
	if err != nil {
		return Plan{}, err
	}
	return PlanOf(cl.Size), nil
}

// Where a connection cap comes from (the JSON cap_from).
const (
	CapFromMaxclients = "maxclients" // the server's INFO maxclients
	CapFromPlan       = "plan"       // the DigitalOcean plan's cap (Plan.ConnectionCap)
)

// ConnectionCap is the cap a server's connections are judged against: the
// smaller of INFO maxclients and the plan's cap, each when known (above 0),
// and where it comes from; 0 and "" when neither is known.
func ConnectionCap(maxclients int64, plan Plan) (int64, string) {
	switch {
	case plan.ConnectionCap > 0 && (maxclients <= 0 || plan.ConnectionCap < maxclients):
		return plan.ConnectionCap, CapFromPlan
	case maxclients > 0:
		return maxclients, CapFromMaxclients
	}
	return 0, ""
}

// CapText says which cap a number is, for a detail or a finding:
// "maxclients 10000", "the plan's cap 10000 (db-s-1vcpu-1gb: max(10000, 4 per MiB))".
func CapText(capacity int64, from string, plan Plan) string {
	if from == CapFromPlan {
		return fmt.Sprintf("the plan's cap %d (%s: max(10000, 4 per MiB))", capacity, plan.Size)
	}
	return fmt.Sprintf("maxclients %d", capacity)
}
