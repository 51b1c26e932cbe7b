package probe

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/oxyhq/oxyctl/internal/doapi"
)

// EventWindow is how far back the do check looks at the cluster's events.
const EventWindow = 24 * time.Hour

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
	// Events are the cluster's events of the last 24 h, newest first
	// (empty when the event log could not be read: see EventsError).
	Events      []DOEvent `json:"events"`
	EventsError string    `json:"events_error,omitempty"`
	// MemoryMiB is the node memory the size slug names (db-s-1vcpu-2gb:
	// 2048); 0 when the slug names none.
	MemoryMiB int64 `json:"memory_mib,omitempty"`
	// ConnectionCap is the plan's connection cap, max(10000, 4 per MiB of
	// memory); 0 when the memory is unknown.
	ConnectionCap int64 `json:"connection_cap,omitempty"`
}

// DOEvent is one event of the cluster's log.
type DOEvent struct {
	Name string `json:"name"` // the API's event_type, e.g. cluster_master_promotion
	Time string `json:"time"` // RFC 3339, UTC
}

// DOClient is what the checks read from DigitalOcean: the cluster, its
// event log (do) and its configuration (pubsub's soft limit).
type DOClient interface {
	doapi.ClusterFinder
	Events(ctx context.Context, clusterID string) ([]doapi.Event, error)
	GetConfig(ctx context.Context, clusterID string) (doapi.Config, error)
}

// DOProbe reads the managed database cluster's status from DigitalOcean.
type DOProbe struct {
	// Client builds the API client (connects only when called).
	Client  func(ctx context.Context) (DOClient, error)
	Cluster string
	Now     func() time.Time
}

// recentEvents are the event types that warn when they happened within
// EventWindow: what happened, and what it means for this deployment.
var recentEvents = map[string][2]string{
	"cluster_master_promotion":    {"failover (a standby was promoted to primary)", "connections were dropped and the script cache is empty until the next limited request"},
	"cluster_maintenance_perform": {"maintenance performed", "connections may have been dropped"},
}

// Run looks the cluster up, reads its events and judges both.
func (p *DOProbe) Run(ctx context.Context) Outcome {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	data := &DOData{Cluster: p.Cluster, Events: []DOEvent{}}
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
	plan := doapi.PlanOf(cl.Size)
	data.MemoryMiB, data.ConnectionCap = plan.MemoryMiB, plan.ConnectionCap

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
	// A pending maintenance is named, not judged: it is scheduled work,
	// not a problem (what it did, once performed, is an event that warns).
	var pending string
	if m := cl.Maintenance; m != nil && m.Pending {
		pending = "maintenance pending for the window " + strings.TrimSpace(m.Day+" "+m.Hour)
		if len(m.Description) > 0 {
			pending += ": " + strings.Join(m.Description, "; ")
		}
	}
	// The event log is one reading among several: when it cannot be read,
	// the check says so and judges the rest.
	var eventsNote string
	if evs, err := c.Events(ctx, cl.ID); err != nil {
		data.EventsError = errText(err)
		eventsNote = "could not read the events: " + data.EventsError
	} else {
		t := now().UTC()
		for _, e := range evs { // newest first
			// Events after now (beyond a little clock skew) are not "of the
			// last 24 h": a wrong clock on either side must not warn forever.
			if e.Time.Before(t.Add(-EventWindow)) || e.Time.After(t.Add(5*time.Minute)) {
				continue
			}
			data.Events = append(data.Events, DOEvent{Name: e.Type, Time: e.Time.UTC().Format(time.RFC3339)})
			if what, ok := recentEvents[e.Type]; ok {
				f.warn("%s at %s (%s ago): %s", what[0], e.Time.UTC().Format(time.RFC3339), ago(max(t.Sub(e.Time), 0)), what[1])
			}
		}
	}

	nodes := "nodes"
	if cl.NumNodes == 1 {
		nodes = "node"
	}
	summary := fmt.Sprintf("%s %s: %s %s, %s, %d %s, %s", cl.Name, cl.Status, cl.Engine, cl.Version, cl.Size, cl.NumNodes, nodes, cl.Region)
	if m := cl.Maintenance; m != nil {
		summary += fmt.Sprintf(", maintenance %s %s", m.Day, m.Hour)
	}
	if pending != "" {
		summary += "; " + pending
	}
	if eventsNote != "" {
		summary += "; " + eventsNote
	}
	return Outcome{Status: f.status, Detail: f.detail(summary), Data: data}
}
