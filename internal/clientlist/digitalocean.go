package clientlist

import (
	"context"
	"fmt"
	"strings"

	"github.com/oxyhq/oxyctl/internal/doapi"
)

// ConfigKey is the DigitalOcean setting of the pub/sub hard limit, in MiB.
const ConfigKey = "valkey_pubsub_client_output_buffer_limit"

// SoftFromConfig is a quarter of the DigitalOcean hard limit; ok is false
// when the configuration does not hold a number of MiB the API allows
// (DOHardMinMiB to DOHardMaxMiB) for it.
func SoftFromConfig(cfg doapi.Config) (Limit, bool) {
	mib, ok := cfg[ConfigKey].(float64)
	if !ok || mib < DOHardMinMiB || mib > DOHardMaxMiB {
		return Limit{}, false
	}
	return Limit{Bytes: int64(mib*(1<<20)) / 4, From: fmt.Sprintf("¼ of DigitalOcean's %s of %g MiB", ConfigKey, mib)}, true
}

// DOConfig is the part of the DigitalOcean client the soft limit needs.
type DOConfig interface {
	doapi.ClusterFinder
	GetConfig(ctx context.Context, clusterID string) (doapi.Config, error)
}

// SoftFromDO reads the cluster's configuration and returns its soft limit,
// or DefaultSoft when the configuration does not set one, and with an error
// (for a note) when it sets one the API does not allow.
func SoftFromDO(ctx context.Context, api DOConfig, cluster string) (Limit, error) {
	cl, err := api.FindCluster(ctx, cluster)
	if err != nil {
		return DefaultSoft, err
	}
	return SoftOfCluster(ctx, api, cl.ID)
}

// SoftOfCluster is SoftFromDO for a cluster already found (by its id).
func SoftOfCluster(ctx context.Context, api DOConfig, clusterID string) (Limit, error) {
	cfg, err := api.GetConfig(ctx, clusterID)
	if err != nil {
		return DefaultSoft, err
	}
	if l, ok := SoftFromConfig(cfg); ok {
		return l, nil
	}
	if v, set := cfg[ConfigKey]; set && v != nil {
		return DefaultSoft, fmt.Errorf("%s is %v, not a number of MiB from %d to %d as the API allows", ConfigKey, v, DOHardMinMiB, DOHardMaxMiB)
	}
	return DefaultSoft, nil
}

// Inventory is the part of the DigitalOcean client that resolving needs.
type Inventory interface {
	LoadInventory(ctx context.Context, needs doapi.Needs) (*doapi.Inventory, error)
}

// K8sTagPrefix marks the Droplets of a Kubernetes cluster's node pools
// ("k8s:<cluster id>").
const K8sTagPrefix = "k8s:"

// ResolverFromDO lists the Droplets (and the Kubernetes clusters their tags
// name) and returns what an IPv4 address is: "droplet <name>", or
// "kubernetes node <name> (cluster <cluster name>)" for a Droplet tagged
// k8s:<cluster id>, matched on the private or the public address.
func ResolverFromDO(ctx context.Context, api Inventory) (func(host string) string, error) {
	inv, err := api.LoadInventory(ctx, doapi.Needs{Droplets: true})
	if err != nil {
		return nil, err
	}
	var k8s []string
	for _, d := range inv.Droplets {
		if id, ok := k8sCluster(d.Tags); ok {
			k8s = append(k8s, id)
		}
	}
	clusters := map[string]*doapi.KubernetesCluster{}
	if len(k8s) > 0 {
		kinv, err := api.LoadInventory(ctx, doapi.Needs{K8s: k8s})
		if err != nil {
			return nil, err
		}
		clusters = kinv.K8s
	}
	byIP := map[string]string{}
	for _, d := range inv.Droplets {
		what := "droplet " + d.Name
		if id, ok := k8sCluster(d.Tags); ok {
			cname := id
			if k := clusters[id]; k != nil {
				cname = k.Name
			}
			what = "kubernetes node " + d.Name + " (cluster " + cname + ")"
		}
		for _, ip := range []string{d.PrivateIP, d.PublicIP} {
			if ip == "" {
				continue
			}
			if prev, ok := byIP[ip]; ok && prev != what {
				byIP[ip] = prev + " or " + what
			} else {
				byIP[ip] = what
			}
		}
	}
	return func(h string) string { return byIP[h] }, nil
}

func k8sCluster(tags []string) (string, bool) {
	for _, t := range tags {
		if id, ok := strings.CutPrefix(t, K8sTagPrefix); ok && doapi.IsUUID(id) {
			return id, true
		}
	}
	return "", false
}
