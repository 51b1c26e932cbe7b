package dostub

import (
	"crypto/sha1"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The realistic account every stand-in starts with. Tests refer to these
// names and ids instead of repeating literals.
const (
	OxyClusterName   = "db-valkey-ams3-04785"
	OxyDropletID     = 549107286
	OxyDropletName   = "oxy-api-backend"
	OxyDropletPublic = "146.190.20.41"
	OxyDropletPriv   = "10.110.0.5"
	K8sClusterName   = "k8s-ams3-oxy"
	WorkersTag       = "oxy-workers"
	// DuplicateDropletName is carried by two decoy Droplets, so a policy naming
	// it is ambiguous.
	DuplicateDropletName = "worker"
	// DefaultToken is the bearer token the stand-in accepts unless Options.Token says otherwise.
	DefaultToken = "dop_v1_stubtoken0123456789abcdef0123456789abcdef0123456789abcdef"
)

// OxyApps are the Oxy API's App Platform apps, in the order the README's
// firewall policy example lists them.
var OxyApps = []string{"oxy-api", "mention", "homiio", "alia", "allo"}

// Database is a managed database cluster.
type Database struct {
	ID        string
	Name      string
	Engine    string
	Version   string
	SemVer    string
	Region    string
	Size      string
	NumNodes  int
	Status    string // the spec allows creating, online, resizing, migrating, forking
	Tags      []string
	CreatedAt time.Time
	VPC       string
	ProjectID string
	Password  string
	Port      int
	Host      string // public host; the private one is "private-" + Host
	// PendingMaintenance, when set, is the description of a maintenance
	// pending for the cluster's window (maintenance_window.pending true).
	PendingMaintenance []string
}

// Rule is a firewall rule (trusted source) as the stand-in stores it.
type Rule struct {
	UUID        string
	ClusterUUID string
	Type        string
	Value       string
	Description string
	CreatedAt   time.Time
}

// Droplet is a Droplet with its IPv4 addresses.
type Droplet struct {
	ID        int
	Name      string
	Region    string
	Status    string
	PublicIP  string
	PrivateIP string
	Tags      []string
	CreatedAt time.Time
}

// App is an App Platform app (its name is spec.name in the API).
type App struct {
	ID        string
	Name      string
	Region    string // App Platform region slug, e.g. "ams"
	Phase     string
	ProjectID string
	CreatedAt time.Time
}

// KubernetesCluster is a DOKS cluster.
type KubernetesCluster struct {
	ID        string
	Name      string
	Region    string
	Version   string
	State     string
	Tags      []string
	CreatedAt time.Time
}

// state is the whole account. Server guards it with its mutex.
type state struct {
	databases []Database
	rules     map[string][]Rule // cluster uuid -> rules
	droplets  []Droplet
	apps      []App
	k8s       []KubernetesCluster
	tags      []string
	seq       int                       // for new rule uuids
	configs   map[string]map[string]any // cluster uuid -> advanced configuration
	events    map[string][]Event        // cluster uuid -> event log (default when absent)
}

// UUIDFor returns the stand-in's deterministic UUID for a label, such as
// "app:oxy-api" or "db:db-valkey-ams3-04785". Tests use it to know ids ahead.
func UUIDFor(label string) string {
	h := sha1.Sum([]byte("oxyctl-dostub:" + label))
	h[6] = (h[6] & 0x0f) | 0x50 // version 5
	h[8] = (h[8] & 0x3f) | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// OxyClusterID is the UUID of the Oxy Valkey cluster.
var OxyClusterID = UUIDFor("db:" + OxyClusterName)

// AppID returns the UUID of the app named name in the default account.
func AppID(name string) string { return UUIDFor("app:" + name) }

// K8sClusterID is the UUID of the default account's DOKS cluster.
var K8sClusterID = UUIDFor("k8s:" + K8sClusterName)

var epoch = time.Date(2025, 3, 2, 10, 15, 0, 0, time.UTC)

// DesiredRules is the firewall the default account starts with: exactly the
// Oxy Droplet and the five Oxy apps, which is also the declared policy.
func DesiredRules() []Rule {
	rules := []Rule{{
		UUID:        UUIDFor("rule:droplet"),
		ClusterUUID: OxyClusterID,
		Type:        "droplet",
		Value:       fmt.Sprint(OxyDropletID),
		Description: "oxy-api-backend (production API)",
		CreatedAt:   epoch.Add(time.Hour),
	}}
	for i, name := range OxyApps {
		rules = append(rules, Rule{
			UUID:        UUIDFor("rule:app:" + name),
			ClusterUUID: OxyClusterID,
			Type:        "app",
			Value:       AppID(name),
			CreatedAt:   epoch.Add(time.Duration(2+i) * time.Hour),
		})
	}
	return rules
}

func defaultState() *state {
	st := &state{rules: map[string][]Rule{}, configs: map[string]map[string]any{}, events: map[string][]Event{}}
	vpc := UUIDFor("vpc:ams3")
	project := UUIDFor("project:oxy")
	st.databases = []Database{
		{
			ID: OxyClusterID, Name: OxyClusterName, Engine: "valkey", Version: "8", SemVer: "8.0.2",
			Region: "ams3", Size: "db-s-1vcpu-1gb", NumNodes: 1, Status: "online", Tags: []string{"oxy"},
			CreatedAt: epoch, VPC: vpc, ProjectID: project, Password: "stub-valkey-password", Port: 25061,
			Host: OxyClusterName + "-do-user-1234567-0.k.db.ondigitalocean.com",
		},
		{
			ID: UUIDFor("db:db-postgresql-ams3-11234"), Name: "db-postgresql-ams3-11234", Engine: "pg",
			Version: "16", SemVer: "16.4", Region: "ams3", Size: "db-s-1vcpu-2gb", NumNodes: 1, Status: "online",
			CreatedAt: epoch.Add(-72 * time.Hour), VPC: vpc, ProjectID: project, Password: "stub-pg-password",
			Port: 25060, Host: "db-postgresql-ams3-11234-do-user-1234567-0.f.db.ondigitalocean.com",
		},
		{
			ID: UUIDFor("db:db-valkey-fra1-55120"), Name: "db-valkey-fra1-55120", Engine: "valkey",
			Version: "8", SemVer: "8.0.2", Region: "fra1", Size: "db-s-1vcpu-2gb", NumNodes: 2, Status: "online",
			CreatedAt: epoch.Add(-48 * time.Hour), VPC: UUIDFor("vpc:fra1"), ProjectID: project,
			Password: "stub-other-valkey-password", Port: 25061,
			Host: "db-valkey-fra1-55120-do-user-1234567-0.k.db.ondigitalocean.com",
		},
	}
	st.rules[OxyClusterID] = DesiredRules()
	pg := st.databases[1].ID
	st.rules[pg] = []Rule{{
		UUID: UUIDFor("rule:pg:tag"), ClusterUUID: pg, Type: "tag", Value: "web",
		CreatedAt: epoch.Add(-70 * time.Hour),
	}}
	st.rules[st.databases[2].ID] = []Rule{}

	st.droplets = append(st.droplets, Droplet{
		ID: OxyDropletID, Name: OxyDropletName, Region: "ams3", Status: "active",
		PublicIP: OxyDropletPublic, PrivateIP: OxyDropletPriv, Tags: []string{"oxy", "api"},
		CreatedAt: epoch.Add(-24 * time.Hour),
	})
	for i := 1; i <= 27; i++ {
		tags := []string{"web"}
		if i%9 == 0 {
			tags = append(tags, WorkersTag)
		}
		st.droplets = append(st.droplets, Droplet{
			ID: 549100000 + i, Name: fmt.Sprintf("web-%02d", i), Region: "ams3", Status: "active",
			PublicIP: fmt.Sprintf("146.190.21.%d", 10+i), PrivateIP: fmt.Sprintf("10.110.0.%d", 10+i),
			Tags: tags, CreatedAt: epoch.Add(-time.Duration(100+i) * time.Hour),
		})
	}
	for i := 1; i <= 2; i++ {
		st.droplets = append(st.droplets, Droplet{
			ID: 549200000 + i, Name: DuplicateDropletName, Region: "ams3", Status: "active",
			PublicIP: fmt.Sprintf("146.190.22.%d", i), PrivateIP: fmt.Sprintf("10.110.1.%d", i),
			Tags: []string{WorkersTag}, CreatedAt: epoch.Add(-time.Duration(200+i) * time.Hour),
		})
	}

	for i, name := range OxyApps {
		st.apps = append(st.apps, App{
			ID: AppID(name), Name: name, Region: "ams", Phase: "ACTIVE", ProjectID: project,
			CreatedAt: epoch.Add(time.Duration(i) * time.Minute),
		})
	}
	for i := 1; i <= 20; i++ {
		name := fmt.Sprintf("site-%02d", i)
		st.apps = append(st.apps, App{
			ID: AppID(name), Name: name, Region: "fra", Phase: "ACTIVE", ProjectID: UUIDFor("project:sites"),
			CreatedAt: epoch.Add(-time.Duration(i) * time.Hour),
		})
	}

	st.k8s = []KubernetesCluster{{
		ID: K8sClusterID, Name: K8sClusterName, Region: "ams3", Version: "1.33.1-do.0", State: "running",
		Tags: []string{"k8s", "k8s:" + K8sClusterID}, CreatedAt: epoch.Add(-500 * time.Hour),
	}}
	st.tags = []string{"api", "k8s", "k8s:" + K8sClusterID, "k8s:worker", "oxy", WorkersTag, "web"}
	return st
}

func (st *state) database(id string) (Database, bool) {
	for _, d := range st.databases {
		if d.ID == id {
			return d, true
		}
	}
	return Database{}, false
}

func (st *state) droplet(id int) (Droplet, bool) {
	for _, d := range st.droplets {
		if d.ID == id {
			return d, true
		}
	}
	return Droplet{}, false
}

func (st *state) app(id string) (App, bool) {
	for _, a := range st.apps {
		if a.ID == id {
			return a, true
		}
	}
	return App{}, false
}

func (st *state) kubernetes(id string) (KubernetesCluster, bool) {
	for _, k := range st.k8s {
		if k.ID == id {
			return k, true
		}
	}
	return KubernetesCluster{}, false
}

func (st *state) hasTag(name string) bool {
	for _, t := range st.tags {
		if t == name {
			return true
		}
	}
	return false
}

func (st *state) addTags(tags []string) {
	for _, t := range tags {
		if !st.hasTag(t) {
			st.tags = append(st.tags, t)
		}
	}
	sort.Strings(st.tags)
}

// putRules replaces a cluster's rules the way the API does: the body is the
// whole new set. A rule whose (type, value) already existed keeps its uuid and
// creation time; the description is what the body says.
func (st *state) putRules(cluster string, in []Rule, now time.Time) {
	old := st.rules[cluster]
	out := make([]Rule, 0, len(in))
	for _, r := range in {
		nr := Rule{ClusterUUID: cluster, Type: r.Type, Value: r.Value, Description: r.Description}
		for _, o := range old {
			if o.Type == r.Type && o.Value == r.Value {
				nr.UUID, nr.CreatedAt = o.UUID, o.CreatedAt
				break
			}
		}
		if nr.UUID == "" {
			st.seq++
			nr.UUID = UUIDFor(fmt.Sprintf("rule:new:%s:%d", cluster, st.seq))
			nr.CreatedAt = now.UTC().Truncate(time.Second)
		}
		out = append(out, nr)
	}
	st.rules[cluster] = out
}

// ---- JSON shapes (as the API sends them) ----

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (d Database) json() map[string]any {
	user := "default"
	scheme := "rediss"
	if d.Engine == "pg" {
		user, scheme = "doadmin", "postgresql"
	}
	conn := func(host string) map[string]any {
		return map[string]any{
			"uri":      fmt.Sprintf("%s://%s:%s@%s:%d", scheme, user, d.Password, host, d.Port),
			"database": "",
			"host":     host,
			"port":     d.Port,
			"user":     user,
			"password": d.Password,
			"ssl":      true,
		}
	}
	var tags any // null when none, as the API sends it
	if len(d.Tags) > 0 {
		tags = d.Tags
	}
	m := map[string]any{
		"id":                   d.ID,
		"name":                 d.Name,
		"engine":               d.Engine,
		"version":              d.Version,
		"semantic_version":     d.SemVer,
		"num_nodes":            d.NumNodes,
		"size":                 d.Size,
		"region":               d.Region,
		"status":               d.Status,
		"created_at":           ts(d.CreatedAt),
		"private_network_uuid": d.VPC,
		"tags":                 tags,
		"db_names":             nil,
		"connection":           conn(d.Host),
		"private_connection":   conn("private-" + d.Host),
		"users":                []any{map[string]any{"name": user, "role": "primary", "password": d.Password}},
		"maintenance_window": map[string]any{
			"day": "sunday", "hour": "03:00:00", "pending": len(d.PendingMaintenance) > 0,
			"description": append([]string{}, d.PendingMaintenance...),
		},
		"storage_size_mib": 0,
		"metrics_endpoints": []any{map[string]any{
			"host": "metrics-" + d.Host, "port": 9273,
		}},
	}
	if d.ProjectID != "" {
		m["project_id"] = d.ProjectID
	}
	if d.NumNodes > 1 {
		m["standby_connection"] = conn("replica-" + d.Host)
		m["standby_private_connection"] = conn("private-replica-" + d.Host)
	}
	return m
}

func (r Rule) json() map[string]any {
	m := map[string]any{
		"uuid":         r.UUID,
		"cluster_uuid": r.ClusterUUID,
		"type":         r.Type,
		"value":        r.Value,
		"created_at":   ts(r.CreatedAt),
	}
	if r.Description != "" {
		m["description"] = r.Description
	}
	return m
}

var doRegions = []string{"ams2", "ams3", "blr1", "fra1", "lon1", "nyc1", "nyc2", "nyc3", "sfo1", "sfo2", "sfo3", "sgp1", "tor1"}

func (d Droplet) json() map[string]any {
	tags := d.Tags
	if tags == nil {
		tags = []string{}
	}
	v4 := []any{}
	if d.PrivateIP != "" {
		v4 = append(v4, map[string]any{"ip_address": d.PrivateIP, "netmask": "255.255.240.0", "gateway": "nil", "type": "private"})
	}
	if d.PublicIP != "" {
		gw := d.PublicIP[:strings.LastIndex(d.PublicIP, ".")] + ".1"
		v4 = append(v4, map[string]any{"ip_address": d.PublicIP, "netmask": "255.255.240.0", "gateway": gw, "type": "public"})
	}
	return map[string]any{
		"id":         d.ID,
		"name":       d.Name,
		"memory":     2048,
		"vcpus":      1,
		"disk":       50,
		"disk_info":  []any{map[string]any{"type": "local", "size": map[string]any{"amount": 50, "unit": "gib"}}},
		"locked":     false,
		"status":     d.Status,
		"created_at": ts(d.CreatedAt),
		"features":   []string{"private_networking", "monitoring"},
		"backup_ids": []int{},
		"next_backup_window": map[string]any{
			"start": ts(d.CreatedAt.Add(24 * time.Hour)), "end": ts(d.CreatedAt.Add(47 * time.Hour)),
		},
		"snapshot_ids": []int{},
		"image": map[string]any{
			"id": 174128024, "name": "24.04 (LTS) x64", "distribution": "Ubuntu", "slug": "ubuntu-24-04-x64",
			"public": true, "regions": doRegions, "created_at": "2025-01-09T16:21:43Z", "type": "base",
			"min_disk_size": 7, "size_gigabytes": 2.45, "description": "Ubuntu 24.04 x64", "tags": []string{},
			"status": "available", "error_message": "",
		},
		"volume_ids": []string{},
		"size": map[string]any{
			"slug": "s-1vcpu-2gb", "memory": 2048, "vcpus": 1, "disk": 50, "transfer": 2,
			"price_monthly": 12, "price_hourly": 0.01786, "regions": doRegions, "available": true,
			"description": "Basic",
		},
		"size_slug": "s-1vcpu-2gb",
		"networks":  map[string]any{"v4": v4, "v6": []any{}},
		"region": map[string]any{
			"name": "Amsterdam 3", "slug": d.Region,
			"features":  []string{"backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"},
			"available": true, "sizes": []string{"s-1vcpu-1gb", "s-1vcpu-2gb", "s-2vcpu-4gb"},
		},
		"tags":     tags,
		"vpc_uuid": UUIDFor("vpc:" + d.Region),
	}
}

func (a App) json(withProject bool) map[string]any {
	m := map[string]any{
		"id":                         a.ID,
		"owner_uuid":                 UUIDFor("owner"),
		"spec":                       map[string]any{"name": a.Name, "region": a.Region},
		"default_ingress":            "https://" + a.Name + "-x7k2q.ondigitalocean.app",
		"live_url":                   "https://" + a.Name + "-x7k2q.ondigitalocean.app",
		"live_url_base":              "https://" + a.Name + "-x7k2q.ondigitalocean.app",
		"live_domain":                a.Name + "-x7k2q.ondigitalocean.app",
		"created_at":                 ts(a.CreatedAt),
		"updated_at":                 ts(a.CreatedAt.Add(time.Hour)),
		"last_deployment_created_at": ts(a.CreatedAt.Add(time.Hour)),
		"tier_slug":                  "basic",
		"region": map[string]any{
			"slug": a.Region, "label": strings.ToUpper(a.Region[:1]) + a.Region[1:], "flag": "netherlands",
			"continent": "Europe", "data_centers": []string{a.Region + "3"},
		},
		"active_deployment": map[string]any{
			"id":         UUIDFor("deployment:" + a.Name),
			"cause":      "commit pushed to github/oxyhq/" + a.Name,
			"phase":      a.Phase,
			"created_at": ts(a.CreatedAt.Add(time.Hour)),
			"updated_at": ts(a.CreatedAt.Add(time.Hour + 3*time.Minute)),
		},
	}
	if withProject {
		m["project_id"] = a.ProjectID
	}
	return m
}

func (k KubernetesCluster) json() map[string]any {
	return map[string]any{
		"id":             k.ID,
		"name":           k.Name,
		"region":         k.Region,
		"version":        k.Version,
		"cluster_subnet": "10.244.0.0/16",
		"service_subnet": "10.245.0.0/16",
		"vpc_uuid":       UUIDFor("vpc:" + k.Region),
		"ipv4":           "146.190.30.10",
		"endpoint":       "https://" + k.ID + ".k8s.ondigitalocean.com",
		"tags":           k.Tags,
		"node_pools": []any{map[string]any{
			"id": UUIDFor("pool:" + k.Name), "name": "pool-main", "size": "s-2vcpu-4gb", "count": 2,
			"tags":   []string{"k8s", "k8s:" + k.ID, "k8s:worker"},
			"labels": nil, "taints": []any{}, "auto_scale": false, "min_nodes": 0, "max_nodes": 0,
		}},
		"auto_upgrade":     false,
		"surge_upgrade":    true,
		"ha":               false,
		"registry_enabled": false,
		"status":           map[string]any{"state": k.State, "message": "Cluster is " + k.State},
		"created_at":       ts(k.CreatedAt),
		"updated_at":       ts(k.CreatedAt.Add(time.Hour)),
	}
}

func (st *state) tagJSON(baseURL, name string) map[string]any {
	droplets, last := 0, ""
	for _, d := range st.droplets {
		for _, t := range d.Tags {
			if t == name {
				droplets++
				last = fmt.Sprintf("%s/v2/droplets/%d", baseURL, d.ID)
			}
		}
	}
	dbs, lastDB := 0, ""
	for _, d := range st.databases {
		for _, t := range d.Tags {
			if t == name {
				dbs++
				lastDB = baseURL + "/v2/databases/" + d.ID
			}
		}
	}
	meta := func(n int, uri string) map[string]any {
		m := map[string]any{"count": n}
		if uri != "" {
			m["last_tagged_uri"] = uri
		}
		return m
	}
	res := meta(droplets+dbs, last)
	res["droplets"] = meta(droplets, last)
	res["databases"] = meta(dbs, lastDB)
	res["images"] = meta(0, "")
	res["volumes"] = meta(0, "")
	res["volume_snapshots"] = meta(0, "")
	return map[string]any{"name": name, "resources": res}
}
