package probe

import (
	"context"
	"fmt"
	"strings"

	"github.com/oxyhq/oxyctl/internal/doapi"
)

// DOData are the facts of the do check.
type DOData struct {
	Cluster     string             `json:"cluster"` // the name or id asked for
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Status      string             `json:"status"`
	Engine      string             `json:"engine"`
	Version     string             `json:"version"`
	Size        string             `json:"size"`
	Region      string             `json:"region"`
	NumNodes    int                `json:"num_nodes"`
	Maintenance *doapi.Maintenance `json:"maintenance"`
}

// ClusterFinder finds a managed database cluster by name or id.
type ClusterFinder interface {
	FindCluster(ctx context.Context, nameOrUUID string) (*doapi.Cluster, error)
}

// DOProbe reads the managed database cluster's status from DigitalOcean.
type DOProbe struct {
	// Client builds the API client (connects only when called).
	Client  func(ctx context.Context) (ClusterFinder, error)
	Cluster string
}

// Run looks the cluster up and judges its status.
func (p *DOProbe) Run(ctx context.Context) Outcome {
	data := &DOData{Cluster: p.Cluster}
	c, err := p.Client(ctx)
	if err != nil {
		return Outcome{Status: Fail, Detail: errText(err), Data: data}
	}
	cl, err := c.FindCluster(ctx, p.Cluster)
	if err != nil {
		return Outcome{Status: Fail, Detail: errText(err), Data: data}
	}
	data.ID, data.Name, data.Status, data.Engine, data.Version = cl.ID, cl.Name, cl.Status, cl.Engine, cl.Version
	data.Size, data.Region, data.NumNodes, data.Maintenance = cl.Size, cl.Region, cl.NumNodes, cl.Maintenance

	f := newFindings()
	switch cl.Engine {
	case "valkey", "redis":
	default:
		f.fail("cluster %s is a %s database, not Valkey (check --cluster)", cl.Name, cl.Engine)
	}
	switch cl.Status {
	case "online":
	case "creating", "resizing", "migrating", "forking":
		f.warn("cluster %s is %s", cl.Name, cl.Status)
	default:
		f.fail("cluster %s is %q, not online", cl.Name, cl.Status)
	}
	nodes := "nodes"
	if cl.NumNodes == 1 {
		nodes = "node"
	}
	summary := fmt.Sprintf("%s %s: %s %s, %s, %d %s, %s", cl.Name, cl.Status, cl.Engine, cl.Version, cl.Size, cl.NumNodes, nodes, cl.Region)
	if m := cl.Maintenance; m != nil {
		summary += fmt.Sprintf(", maintenance %s %s", m.Day, m.Hour)
		if m.Pending {
			summary += " (pending"
			if len(m.Description) > 0 {
				summary += ": " + strings.Join(m.Description, "; ")
			}
			summary += ")"
		}
	}
	return Outcome{Status: f.status, Detail: f.detail(summary), Data: data}
}
