package doapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

// Eviction policies as the API spells them (underscores; INFO shows dashes).
var EvictionPolicies = []string{"noeviction", "allkeys_lru", "allkeys_random", "volatile_lru", "volatile_random", "volatile_ttl"}

// Config is a cluster's advanced configuration as GET /config returns it:
// the API's own keys (valkey_timeout, valkey_pubsub_client_output_buffer_limit,
// ...) and JSON values (numbers are float64).
type Config map[string]any

// Event is one entry of a cluster's event log.
type Event struct {
	ID          string    `json:"id"`
	ClusterName string    `json:"cluster_name"`
	Type        string    `json:"event_type"`
	Time        time.Time `json:"create_time"`
}

func (c *Client) checkID(id string) error {
	if !IsUUID(id) {
		return apperr.Configf("database cluster id %q is not a UUID", id)
	}
	return nil
}

// send makes one write request with oxyctl's own body; the answer's body is ignored.
func (c *Client) send(ctx context.Context, method, path string, body any) error {
	req, err := c.godo.NewRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	_, err = c.godo.Do(ctx, req, nil)
	return err
}

// GetConfig reads a cluster's advanced configuration (GET /config).
func (c *Client) GetConfig(ctx context.Context, clusterID string) (Config, error) {
	if err := c.checkID(clusterID); err != nil {
		return nil, err
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	what := "read the configuration of cluster " + clusterID
	var root struct {
		Config *map[string]any `json:"config"`
	}
	if err := c.get(ctx, "/v2/databases/"+clusterID+"/config", &root); err != nil {
		return nil, c.wrap(ctx, what, ci, err)
	}
	if root.Config == nil {
		return nil, c.wrap(ctx, what, ci, fmt.Errorf("%w: the answer has no \"config\" object", errUnexpected))
	}
	return Config(*root.Config), nil
}

// PatchConfig changes only the keys in changes (PATCH /config).
func (c *Client) PatchConfig(ctx context.Context, clusterID string, changes Config) error {
	if err := c.checkID(clusterID); err != nil {
		return err
	}
	if len(changes) == 0 {
		return nil
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	body := struct {
		Config Config `json:"config"`
	}{changes}
	if err := c.send(ctx, http.MethodPatch, "/v2/databases/"+clusterID+"/config", body); err != nil {
		return c.wrap(ctx, "change the configuration of cluster "+clusterID, ci, err)
	}
	return nil
}

// EvictionPolicy reads a cluster's eviction policy (underscore spelling).
func (c *Client) EvictionPolicy(ctx context.Context, clusterID string) (string, error) {
	if err := c.checkID(clusterID); err != nil {
		return "", err
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	what := "read the eviction policy of cluster " + clusterID
	var root struct {
		Policy *string `json:"eviction_policy"`
	}
	if err := c.get(ctx, "/v2/databases/"+clusterID+"/eviction_policy", &root); err != nil {
		return "", c.wrap(ctx, what, ci, err)
	}
	if root.Policy == nil || *root.Policy == "" {
		return "", c.wrap(ctx, what, ci, fmt.Errorf("%w: the answer has no \"eviction_policy\"", errUnexpected))
	}
	return *root.Policy, nil
}

// PutEvictionPolicy sets a cluster's eviction policy (PUT /eviction_policy).
func (c *Client) PutEvictionPolicy(ctx context.Context, clusterID, policy string) error {
	if err := c.checkID(clusterID); err != nil {
		return err
	}
	ok := false
	for _, p := range EvictionPolicies {
		ok = ok || p == policy
	}
	if !ok {
		return apperr.Configf("invalid eviction policy %q (want one of %v)", policy, EvictionPolicies)
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	body := struct {
		Policy string `json:"eviction_policy"`
	}{policy}
	if err := c.send(ctx, http.MethodPut, "/v2/databases/"+clusterID+"/eviction_policy", body); err != nil {
		return c.wrap(ctx, "set the eviction policy of cluster "+clusterID, ci, err)
	}
	return nil
}

// Events reads a cluster's event log, newest first.
func (c *Client) Events(ctx context.Context, clusterID string) ([]Event, error) {
	if err := c.checkID(clusterID); err != nil {
		return nil, err
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	what := "read the events of cluster " + clusterID
	var root struct {
		Events *[]struct {
			ID          string `json:"id"`
			ClusterName string `json:"cluster_name"`
			Type        string `json:"event_type"`
			Time        string `json:"create_time"`
		} `json:"events"`
	}
	if err := c.get(ctx, "/v2/databases/"+clusterID+"/events", &root); err != nil {
		return nil, c.wrap(ctx, what, ci, err)
	}
	if root.Events == nil {
		return nil, c.wrap(ctx, what, ci, fmt.Errorf("%w: the answer has no \"events\" list", errUnexpected))
	}
	out := make([]Event, 0, len(*root.Events))
	for _, e := range *root.Events {
		t, _ := time.Parse(time.RFC3339, e.Time)
		out = append(out, Event{ID: e.ID, ClusterName: e.ClusterName, Type: e.Type, Time: t.UTC()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// CA reads the cluster's CA certificate, in PEM.
func (c *Client) CA(ctx context.Context, clusterID string) ([]byte, error) {
	if err := c.checkID(clusterID); err != nil {
		return nil, err
	}
	ctx, cancel, ci := c.call(ctx)
	defer cancel()
	what := "read the CA certificate of cluster " + clusterID
	var root struct {
		CA *struct {
			Certificate string `json:"certificate"`
		} `json:"ca"`
	}
	if err := c.get(ctx, "/v2/databases/"+clusterID+"/ca", &root); err != nil {
		return nil, c.wrap(ctx, what, ci, err)
	}
	if root.CA == nil || root.CA.Certificate == "" {
		return nil, c.wrap(ctx, what, ci, fmt.Errorf("%w: the answer has no \"ca\" certificate", errUnexpected))
	}
	pem, err := base64.StdEncoding.DecodeString(root.CA.Certificate)
	if err != nil {
		return nil, c.wrap(ctx, what, ci, fmt.Errorf("%w: the certificate is not base64", errUnexpected))
	}
	return pem, nil
}
