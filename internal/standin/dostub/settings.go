package dostub

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"
)

// Event is one entry of a cluster's event log.
type Event struct {
	ID   string
	Type string // cluster_create, cluster_master_promotion, ...
	Time time.Time
}

// CAPEM is the CA certificate every cluster of the stand-in serves (GET /ca
// sends it base64-encoded, as the API does).
const CAPEM = `-----BEGIN CERTIFICATE-----
MIIBkDCCATWgAwIBAgIUIRCFAzIx/yQvPYstz4isvx2MGK8wCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSb3h5Y3RsIHN0YW5kLWluIENBMB4XDTI2MTIwNjE3NDYyN1oX
DTM2MTIwMzE3NDYyN1owHTEbMBkGA1UEAwwSb3h5Y3RsIHN0YW5kLWluIENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeB+9YQGdA1oytfMXpP1pFrO5z6wFlMmR
Ey/6VS5zniXgKrtM6dSSRlZBMfvLgoMzwIVsa9vHog49Lan5irrwFKNTMFEwHQYD
VR0OBBYEFKGWX5dpByUsjg+N+h2JE5Wc77C9MB8GA1UdIwQYMBaAFKGWX5dpByUs
jg+N+h2JE5Wc77C9MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIh
APxT6My1SVe9u+09HD6KeTiDahc6f+carndeheWdZatZAiEAs85qCMDTIIy/p7+G
BZ39lu7NbEgKOnZe66JcPuMYi9w=
-----END CERTIFICATE-----
`

// valkeyConfigKeys are the keys of the spec's valkey_advanced_config: a
// PATCH with any other key is refused with 422, as the API refuses a key of
// another engine.
var valkeyConfigKeys = map[string]bool{
	"valkey_maxmemory_policy": true, "valkey_pubsub_client_output_buffer_limit": true,
	"valkey_number_of_databases": true, "valkey_io_threads": true, "valkey_lfu_log_factor": true,
	"valkey_lfu_decay_time": true, "valkey_ssl": true, "valkey_timeout": true,
	"valkey_notify_keyspace_events": true, "valkey_persistence": true, "valkey_acl_channels_default": true,
	"frequent_snapshots": true, "valkey_active_expire_effort": true,
}

// DefaultValkeyConfig is the configuration a Valkey cluster of the stand-in
// starts with.
func DefaultValkeyConfig() map[string]any {
	return map[string]any{
		"valkey_maxmemory_policy":                  "noeviction",
		"valkey_pubsub_client_output_buffer_limit": 32,
		"valkey_number_of_databases":               16,
		"valkey_io_threads":                        1,
		"valkey_lfu_log_factor":                    10,
		"valkey_lfu_decay_time":                    1,
		"valkey_ssl":                               true,
		"valkey_timeout":                           300,
		"valkey_notify_keyspace_events":            "",
		"valkey_persistence":                       "rdb",
		"valkey_acl_channels_default":              "allchannels",
		"frequent_snapshots":                       true,
		"valkey_active_expire_effort":              1,
	}
}

func defaultEvents() []Event {
	return []Event{
		{ID: "pe8u2huh", Type: "cluster_create", Time: epoch},
		{ID: "pe9maint1", Type: "cluster_maintenance_perform", Time: time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)},
		{ID: "pe9promo1", Type: "cluster_master_promotion", Time: time.Date(2026, 11, 30, 9, 41, 7, 0, time.UTC)},
	}
}

// SetConfig replaces a cluster's configuration (a copy is kept).
func (s *Server) SetConfig(clusterID string, cfg map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.configs[clusterID] = normalizeConfig(cfg)
}

// Config returns a copy of a cluster's configuration (numbers as float64).
func (s *Server) Config(clusterID string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return normalizeConfig(s.st.configs[clusterID])
}

// SetEvents replaces a cluster's event log.
func (s *Server) SetEvents(clusterID string, events []Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.events[clusterID] = append([]Event(nil), events...)
}

// Patches returns the config PATCH requests received so far.
func (s *Server) Patches() []Request {
	return s.RequestsFor(http.MethodPatch, "databases_patch_config")
}

// EvictionPuts returns the eviction-policy PUT requests received so far.
func (s *Server) EvictionPuts() []Request {
	return s.RequestsFor(http.MethodPut, "databases_update_evictionPolicy")
}

// Writes returns every request that changes the account (PUT, PATCH, POST, DELETE).
func (s *Server) Writes() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			out = append(out, r)
		}
	}
	return out
}

// normalizeConfig copies a configuration through JSON, so that numbers are
// float64 as a decoder sees them.
func normalizeConfig(cfg map[string]any) map[string]any {
	out := map[string]any{}
	if cfg == nil {
		return out
	}
	b, _ := json.Marshal(cfg)
	_ = json.Unmarshal(b, &out)
	return out
}

// configOf is the stored configuration of a cluster; nil for an engine with none here.
func (st *state) configOf(d Database) map[string]any {
	cfg, ok := st.configs[d.ID]
	if !ok && (d.Engine == "valkey" || d.Engine == "redis") {
		cfg = normalizeConfig(DefaultValkeyConfig())
		st.configs[d.ID] = cfg
	}
	return cfg
}

func (s *Server) dispatchDatabase(r *http.Request, body []byte, id, op string) (reply, bool) {
	switch op {
	case "databases_get_config", "databases_patch_config", "databases_get_evictionPolicy",
		"databases_update_evictionPolicy", "databases_list_events_logs", "databases_get_ca":
	default:
		return reply{}, false
	}
	d, ok := s.st.database(id)
	if !ok {
		return errorReply(404, ""), true
	}
	switch op {
	case "databases_get_config":
		cfg := s.st.configOf(d)
		if cfg == nil {
			cfg = map[string]any{}
		}
		return jsonReply(200, map[string]any{"config": cfg}), true
	case "databases_patch_config":
		cfg := s.st.configOf(d)
		if cfg == nil {
			return errorReply(422, "this engine has no configuration the stand-in knows"), true
		}
		var req struct {
			Config map[string]any `json:"config"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Config == nil {
			return errorReply(422, "invalid request body"), true
		}
		keys := make([]string, 0, len(req.Config))
		for k := range req.Config {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !valkeyConfigKeys[k] {
				return errorReply(422, fmt.Sprintf("invalid config key %q for a valkey cluster", k)), true
			}
		}
		for _, k := range keys {
			cfg[k] = req.Config[k]
		}
		return reply{status: 200}, true
	case "databases_get_evictionPolicy":
		cfg := s.st.configOf(d)
		p, _ := cfg["valkey_maxmemory_policy"].(string)
		if p == "" {
			return errorReply(422, "this cluster has no eviction policy"), true
		}
		return jsonReply(200, map[string]any{"eviction_policy": p}), true
	case "databases_update_evictionPolicy":
		cfg := s.st.configOf(d)
		if cfg == nil {
			return errorReply(422, "this engine has no eviction policy"), true
		}
		var req struct {
			Policy string `json:"eviction_policy"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return errorReply(422, "invalid request body"), true
		}
		cfg["valkey_maxmemory_policy"] = req.Policy
		return reply{status: 204}, true
	case "databases_list_events_logs":
		evs, ok := s.st.events[id]
		if !ok {
			evs = defaultEvents()
		}
		out := []any{}
		for _, e := range evs {
			out = append(out, map[string]any{"id": e.ID, "cluster_name": d.Name, "event_type": e.Type, "create_time": ts(e.Time)})
		}
		return jsonReply(200, map[string]any{"events": out}), true
	}
	// databases_get_ca
	return jsonReply(200, map[string]any{"ca": map[string]any{"certificate": base64.StdEncoding.EncodeToString([]byte(CAPEM))}}), true
}

// OptionSizes are the node sizes the stand-in offers per node count for
// valkey (and redis), as GET /v2/databases/options lists them. The API
// gives slugs only: a size's memory is what its slug names.
var OptionSizes = map[int][]string{
	1: {"db-s-1vcpu-1gb", "db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb", "db-s-6vcpu-16gb", "db-s-8vcpu-32gb", "db-s-16vcpu-64gb"},
	2: {"db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb", "db-s-6vcpu-16gb", "db-s-8vcpu-32gb", "db-s-16vcpu-64gb"},
	3: {"db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb", "db-s-6vcpu-16gb", "db-s-8vcpu-32gb", "db-s-16vcpu-64gb"},
}

// databaseOptions is the body of GET /v2/databases/options: regions,
// versions and layouts per engine, and the versions' availability.
func databaseOptions() map[string]any {
	regions := []string{"ams3", "blr1", "fra1", "lon1", "nyc1", "nyc3", "sfo2", "sfo3", "sgp1", "syd1", "tor1"}
	layouts := []any{}
	for _, n := range []int{1, 2, 3} {
		layouts = append(layouts, map[string]any{"num_nodes": n, "sizes": OptionSizes[n]})
	}
	engine := func(versions ...string) map[string]any {
		return map[string]any{"regions": regions, "versions": versions, "layouts": layouts}
	}
	return map[string]any{
		"options": map[string]any{
			"valkey": engine("8"),
			"redis":  engine("7"),
			"pg":     engine("15", "16", "17"),
		},
		"version_availability": map[string]any{
			"valkey": []any{map[string]any{"version": "8", "end_of_life": nil, "end_of_availability": nil}},
			"redis":  []any{map[string]any{"version": "7", "end_of_life": "2025-04-30T00:00:00Z", "end_of_availability": "2025-04-30T00:00:00Z"}},
			"pg":     []any{map[string]any{"version": "17", "end_of_life": nil, "end_of_availability": nil}},
		},
	}
}
