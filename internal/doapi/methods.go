package doapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/godo"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

// Cluster is a managed database cluster. Connection secrets are left out on
// purpose.
type Cluster struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Engine      string    `json:"engine"`
	Version     string    `json:"version"`
	Region      string    `json:"region"`
	Size        string    `json:"size"`
	NumNodes    int       `json:"num_nodes"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	Host        string    `json:"host,omitempty"`
	PrivateHost string    `json:"private_host,omitempty"`
	Port        int       `json:"port,omitempty"`
	VPC         string    `json:"vpc,omitempty"`
	Tags        []string  `json:"tags"`
	// Maintenance is nil when the API reports no window.
	Maintenance *Maintenance `json:"maintenance,omitempty"`
}

// Maintenance is a cluster's maintenance window.
type Maintenance struct {
	Day         string   `json:"day"`
	Hour        string   `json:"hour"`
	Pending     bool     `json:"pending"`
	Description []string `json:"description"`
}

// Healthy reports whether the cluster is in its steady state ("online").
func (c *Cluster) Healthy() bool { return c.Status == "online" }

// Rule types as the API names them.
const (
	TypeDroplet = "droplet"
	TypeApp     = "app"
	TypeK8s     = "k8s"
	TypeTag     = "tag"
	TypeIP      = "ip_addr"
)

// Rule is one firewall rule (trusted source). UUID, ClusterUUID and CreatedAt
// are only known for rules read back from the API.
type Rule struct {
	UUID        string    `json:"uuid,omitempty"`
	ClusterUUID string    `json:"cluster_uuid,omitempty"`
	Type        string    `json:"type"`
	Value       string    `json:"value"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
}

// Droplet is what the firewall needs to know about a Droplet.
type Droplet struct {
	ID        int      `json:"id"`
	Name      string   `json:"name"`
	Status    string   `json:"status"`
	Region    string   `json:"region"`
	PublicIP  string   `json:"public_ipv4,omitempty"`
	PrivateIP string   `json:"private_ipv4,omitempty"`
	Tags      []string `json:"tags"`
}

// App is an App Platform app (its name is spec.name).
type App struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Phase  string `json:"phase,omitempty"`
	Region string `json:"region,omitempty"`
}

// KubernetesCluster is a DOKS cluster.
type KubernetesCluster struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Region string   `json:"region"`
	State  string   `json:"state"`
	Tags   []string `json:"tags"`
}

// Tag is a tag and how many resources carry it.
type Tag struct {
	Name      string `json:"name"`
	Resources int    `json:"resources"`
	Droplets  int    `json:"droplets"`
	Databases int    `json:"databases"`
}

// uuidRe is compiled on first use, not at start-up.
var uuidRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
})

// IsUUID reports whether s looks like a UUID (as cluster, app and k8s ids do).
func IsUUID(s string) bool { return uuidRe().MatchString(s) }

// Clusters lists every database cluster (the endpoint is not paginated).
func (c *Client) Clusters(ctx context.Context) ([]Cluster, error) {
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	const what = "list database clusters"
	var root struct {
		Databases *[]godo.Database `json:"databases"`
	}
	if err := c.get(ctx, "/v2/databases", &root); err != nil {
		return nil, c.wrap(ctx, what, ci, err)
	}
	if root.Databases == nil {
		return nil, c.wrap(ctx, what, ci, fmt.Errorf("%w: the answer has no \"databases\" list", errUnexpected))
	}
	dbs := *root.Databases
	out := make([]Cluster, 0, len(dbs))
	for i := range dbs {
		out = append(out, clusterFrom(&dbs[i]))
	}
	return out, nil
}

// GetCluster reads one cluster by UUID. A cluster that does not exist is a
// ConfigError (the setting names something that is not there).
func (c *Client) GetCluster(ctx context.Context, id string) (*Cluster, error) {
	if !IsUUID(id) {
		return nil, apperr.Configf("database cluster id %q is not a UUID", id)
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	what := "get database cluster " + id
	var root struct {
		Database *godo.Database `json:"database"`
	}
	if err := c.get(ctx, "/v2/databases/"+id, &root); err != nil {
		err = c.wrap(ctx, what, ci, err)
		if errors.Is(err, ErrNotFound) {
			return nil, &apperr.ConfigError{Err: fmt.Errorf("no database cluster with id %s", id),
				Hint: "check --cluster (env OXYCTL_CLUSTER) or the context's digitalocean.cluster"}
		}
		return nil, err
	}
	if root.Database == nil || root.Database.ID == "" {
		// 200 with null or {}: a fault of the API, not an answer that the
		// cluster does not exist (that is a 404).
		return nil, c.wrap(ctx, what, ci, fmt.Errorf("%w: the answer has no \"database\"", errUnexpected))
	}
	cl := clusterFrom(root.Database)
	return &cl, nil
}

// FindCluster finds a cluster by UUID or by exact name. A name that matches
// no cluster, or several, is a ConfigError listing the clusters there are.
func (c *Client) FindCluster(ctx context.Context, nameOrUUID string) (*Cluster, error) {
	nameOrUUID = strings.TrimSpace(nameOrUUID)
	if nameOrUUID == "" {
		return nil, &apperr.ConfigError{Err: errors.New("no database cluster is set"),
			Hint: "pass --cluster, set OXYCTL_CLUSTER, or add digitalocean.cluster to the context"}
	}
	if IsUUID(nameOrUUID) {
		return c.GetCluster(ctx, nameOrUUID)
	}
	all, err := c.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	var match []Cluster
	for _, cl := range all {
		if cl.Name == nameOrUUID {
			match = append(match, cl)
		}
	}
	switch len(match) {
	case 1:
		return &match[0], nil
	case 0:
		return nil, &apperr.ConfigError{
			Err:  fmt.Errorf("no database cluster named %q (the account has %s)", nameOrUUID, listClusters(all)),
			Hint: "pass --cluster NAME or its id (env OXYCTL_CLUSTER)",
		}
	}
	ids := make([]string, len(match))
	for i, m := range match {
		ids[i] = m.ID
	}
	return nil, &apperr.ConfigError{
		Err:  fmt.Errorf("%d database clusters are named %q (ids %s)", len(match), nameOrUUID, strings.Join(ids, ", ")),
		Hint: "pass --cluster with the id instead of the name",
	}
}

func listClusters(all []Cluster) string {
	if len(all) == 0 {
		return "no database clusters"
	}
	names := make([]string, len(all))
	for i, cl := range all {
		names[i] = fmt.Sprintf("%s (%s)", cl.Name, cl.Engine)
	}
	sort.Strings(names)
	const maxShown = 10
	if len(names) > maxShown {
		return strings.Join(names[:maxShown], ", ") + fmt.Sprintf(" and %d more", len(names)-maxShown)
	}
	return strings.Join(names, ", ")
}

func clusterFrom(db *godo.Database) Cluster {
	cl := Cluster{
		ID: db.ID, Name: db.Name, Engine: db.EngineSlug, Version: db.VersionSlug, Region: db.RegionSlug,
		Size: db.SizeSlug, NumNodes: db.NumNodes, Status: db.Status, CreatedAt: db.CreatedAt,
		VPC: db.PrivateNetworkUUID, Tags: db.Tags,
	}
	if cl.Tags == nil {
		cl.Tags = []string{}
	}
	if db.Connection != nil {
		cl.Host, cl.Port = db.Connection.Host, db.Connection.Port
	}
	if db.PrivateConnection != nil {
		cl.PrivateHost = db.PrivateConnection.Host
		if cl.Port == 0 {
			cl.Port = db.PrivateConnection.Port
		}
	}
	if mw := db.MaintenanceWindow; mw != nil {
		cl.Maintenance = &Maintenance{Day: mw.Day, Hour: mw.Hour, Pending: mw.Pending, Description: mw.Description}
		if cl.Maintenance.Description == nil {
			cl.Maintenance.Description = []string{}
		}
	}
	return cl
}

// firewallBody is the firewall as the API sends it, description included
// (godo's type has no such field). created_at is parsed leniently.
type firewallBody struct {
	Rules *[]struct {
		UUID        string `json:"uuid"`
		ClusterUUID string `json:"cluster_uuid"`
		Type        string `json:"type"`
		Value       string `json:"value"`
		Description string `json:"description"`
		CreatedAt   string `json:"created_at"`
	} `json:"rules"`
}

// putRule is what oxyctl sends: no uuid, cluster_uuid or created_at (those
// are read-only in the spec).
type putRule struct {
	Type        string `json:"type"`
	Value       string `json:"value"`
	Description string `json:"description,omitempty"`
}

type putBody struct {
	Rules []putRule `json:"rules"`
}

// Firewall reads a cluster's firewall rules.
func (c *Client) Firewall(ctx context.Context, clusterID string) ([]Rule, error) {
	if !IsUUID(clusterID) {
		return nil, apperr.Configf("database cluster id %q is not a UUID", clusterID)
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	what := "read the firewall of cluster " + clusterID
	var body firewallBody
	if err := c.get(ctx, "/v2/databases/"+clusterID+"/firewall", &body); err != nil {
		return nil, c.wrap(ctx, what, ci, err)
	}
	if body.Rules == nil {
		// 200 with null or {}: never read as "no rules", which a plan would
		// then fill from scratch.
		return nil, c.wrap(ctx, what, ci, fmt.Errorf("%w: the answer has no \"rules\" list", errUnexpected))
	}
	rules := make([]Rule, 0, len(*body.Rules))
	for i, r := range *body.Rules {
		if r.Type == "" || r.Value == "" {
			return nil, c.wrap(ctx, what, ci, fmt.Errorf("%w: rule %d has no type or value", errUnexpected, i+1))
		}
		created, _ := time.Parse(time.RFC3339, r.CreatedAt)
		rules = append(rules, Rule{UUID: r.UUID, ClusterUUID: r.ClusterUUID, Type: r.Type, Value: r.Value,
			Description: r.Description, CreatedAt: created.UTC()})
	}
	return rules, nil
}

// MaxRules is the API's limit on firewall rules.
const MaxRules = 100

// PutFirewall replaces a cluster's firewall with rules, in one PUT. It sends
// only type, value and description. An empty list is refused here: on
// DigitalOcean it would open the database to every address.
func (c *Client) PutFirewall(ctx context.Context, clusterID string, rules []Rule) error {
	if !IsUUID(clusterID) {
		return apperr.Configf("database cluster id %q is not a UUID", clusterID)
	}
	if len(rules) == 0 {
		return apperr.Configf("refusing to write an empty firewall: on DigitalOcean that opens the database to every address")
	}
	if len(rules) > MaxRules {
		return apperr.Configf("the firewall would have %d rules; DigitalOcean allows at most %d", len(rules), MaxRules)
	}
	body := putBody{Rules: make([]putRule, len(rules))}
	for i, r := range rules {
		if r.Type == "" || r.Value == "" {
			return apperr.Configf("firewall rule %d has no type or value", i+1)
		}
		body.Rules[i] = putRule{Type: r.Type, Value: r.Value, Description: r.Description}
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	what := "replace the firewall of cluster " + clusterID
	req, err := c.godo.NewRequest(ctx, http.MethodPut, "/v2/databases/"+clusterID+"/firewall", body)
	if err != nil {
		return c.wrap(ctx, what, ci, err)
	}
	if _, err := c.godo.Do(ctx, req, nil); err != nil {
		return c.wrap(ctx, what, ci, err)
	}
	return nil
}

// maxPages stops a listing that never ends (a server that always says "next").
const maxPages = 1000

// listAll pages through a collection. It follows links.pages.next; when the
// API leaves links out it goes on while meta.total says items are missing.
// It stops at an empty page, and fails if fewer items came than meta.total.
func listAll[T any](ctx context.Context, c *Client, what string, ci *callInfo,
	fetch func(ctx context.Context, opt *godo.ListOptions) ([]T, *godo.Response, error), key func(T) string) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	total := -1
	for page := 1; page <= maxPages; page++ {
		items, resp, err := fetch(ctx, &godo.ListOptions{Page: page, PerPage: c.perPage})
		if err != nil {
			return nil, c.wrap(ctx, what, ci, err)
		}
		for _, it := range items {
			k := key(it)
			if !seen[k] { // an item that moved between pages shows up twice
				seen[k] = true
				all = append(all, it)
			}
		}
		if resp != nil && resp.Meta != nil {
			total = resp.Meta.Total
		}
		if len(items) == 0 {
			break
		}
		if resp != nil && resp.Links != nil && resp.Links.Pages != nil {
			if resp.Links.Pages.Next == "" {
				break
			}
			continue
		}
		// No links: the API leaves them out when everything fits on one page.
		if total < 0 || len(all) >= total {
			break
		}
	}
	if total >= 0 && len(all) < total {
		return nil, c.wrap(ctx, what, ci, fmt.Errorf("%w: got %d of %d items (a page came back empty or short); try again",
			errUnexpected, len(all), total))
	}
	return all, nil
}

// Droplets lists every Droplet, all pages.
func (c *Client) Droplets(ctx context.Context) ([]Droplet, error) {
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	ds, err := listAll(ctx, c, "list Droplets", ci, c.godo.Droplets.List, func(d godo.Droplet) string { return strconv.Itoa(d.ID) })
	if err != nil {
		return nil, err
	}
	out := make([]Droplet, 0, len(ds))
	for i := range ds {
		out = append(out, dropletFrom(&ds[i]))
	}
	return out, nil
}

// Droplet reads one Droplet. A missing one is an error wrapping ErrNotFound.
func (c *Client) Droplet(ctx context.Context, id int) (*Droplet, error) {
	if id < 1 {
		return nil, apperr.Configf("invalid Droplet id %d", id)
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	d, _, err := c.godo.Droplets.Get(ctx, id)
	if err != nil {
		return nil, c.wrap(ctx, fmt.Sprintf("get Droplet %d", id), ci, err)
	}
	out := dropletFrom(d)
	return &out, nil
}

func dropletFrom(d *godo.Droplet) Droplet {
	out := Droplet{ID: d.ID, Name: d.Name, Status: d.Status, Tags: d.Tags}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if d.Region != nil {
		out.Region = d.Region.Slug
	}
	out.PublicIP, _ = d.PublicIPv4()
	out.PrivateIP, _ = d.PrivateIPv4()
	return out
}

// Apps lists every App Platform app, all pages.
func (c *Client) Apps(ctx context.Context) ([]App, error) {
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	as, err := listAll(ctx, c, "list apps", ci, c.godo.Apps.List, func(a *godo.App) string {
		if a == nil {
			return ""
		}
		return a.ID
	})
	if err != nil {
		return nil, err
	}
	out := make([]App, 0, len(as))
	for _, a := range as {
		if a == nil {
			continue
		}
		out = append(out, appFrom(a))
	}
	return out, nil
}

func appFrom(a *godo.App) App {
	out := App{ID: a.ID}
	if a.Spec != nil {
		out.Name = a.Spec.Name
	}
	if a.ActiveDeployment != nil {
		out.Phase = string(a.ActiveDeployment.Phase)
	}
	if a.Region != nil {
		out.Region = a.Region.Slug
	}
	return out
}

// Kubernetes reads one DOKS cluster by id. A missing one wraps ErrNotFound.
func (c *Client) Kubernetes(ctx context.Context, id string) (*KubernetesCluster, error) {
	if !IsUUID(id) {
		return nil, apperr.Configf("Kubernetes cluster id %q is not a UUID", id)
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	k, _, err := c.godo.Kubernetes.Get(ctx, id)
	if err != nil {
		return nil, c.wrap(ctx, "get Kubernetes cluster "+id, ci, err)
	}
	out := KubernetesCluster{ID: k.ID, Name: k.Name, Region: k.RegionSlug, Tags: k.Tags}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if k.Status != nil {
		out.State = string(k.Status.State)
	}
	return &out, nil
}

// ValidTagName reports whether s is a name the API accepts for a tag: 1 to
// 255 letters, digits, '_', '-' or ':'. (A regexp with {1,255} compiles to a
// 256 KB program at start-up, which every command would pay for.)
func ValidTagName(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == ':') {
			return false
		}
	}
	return true
}

// Tag reads one tag by name. A missing one wraps ErrNotFound.
func (c *Client) Tag(ctx context.Context, name string) (*Tag, error) {
	if !ValidTagName(name) {
		return nil, apperr.Configf("invalid tag name %q: letters, digits, ':', '-' and '_' only", name)
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	t, _, err := c.godo.Tags.Get(ctx, name)
	if err != nil {
		return nil, c.wrap(ctx, "get tag "+name, ci, err)
	}
	out := Tag{Name: t.Name}
	if out.Name == "" {
		out.Name = name
	}
	if r := t.Resources; r != nil {
		out.Resources = r.Count
		if r.Droplets != nil {
			out.Droplets = r.Droplets.Count
		}
		if r.Databases != nil {
			out.Databases = r.Databases.Count
		}
	}
	return &out, nil
}

// get reads path into v with godo's request machinery (auth, retries,
// errors) but oxyctl's own root type, so that an answer without the
// expected key is told apart from an empty one.
func (c *Client) get(ctx context.Context, path string, v any) error {
	req, err := c.godo.NewRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	_, err = c.godo.Do(ctx, req, v)
	return err
}
