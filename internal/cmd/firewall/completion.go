package firewall

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/doapi"
)

// registerTargetCompletions completes --droplet, --app, --tag and --k8s from
// the API, and with revoke --ip from the current rules, each bounded by
// cmdutil.CompletionTimeout. With no token, or on any error, a completion
// returns nothing.
func registerTargetCompletions(cmd *cobra.Command, c *clusterOptions, revoke bool) {
	reg := func(flag string, fn func(ctx context.Context, prefix string) []string) {
		_ = cmd.RegisterFlagCompletionFunc(flag, func(cc *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
			ctx, cancel := cmdutil.CompletionContext(cc.Context())
			defer cancel()
			return fn(ctx, prefix), cobra.ShellCompDirectiveNoFileComp
		})
	}
	reg("droplet", func(ctx context.Context, prefix string) []string { return completeDroplets(ctx, c, prefix) })
	reg("app", func(ctx context.Context, prefix string) []string { return completeApps(ctx, c, prefix) })
	reg("tag", func(ctx context.Context, prefix string) []string { return completeTags(ctx, c, prefix) })
	reg("k8s", func(ctx context.Context, prefix string) []string { return completeRules(ctx, c, doapi.TypeK8s, prefix) })
	if revoke {
		reg("ip", func(ctx context.Context, prefix string) []string { return completeRules(ctx, c, doapi.TypeIP, prefix) })
	}
}

func inventoryFor(ctx context.Context, c *clusterOptions, needs doapi.Needs) *doapi.Inventory {
	api, err := c.Client(ctx)
	if err != nil {
		return nil
	}
	inv, err := api.LoadInventory(ctx, needs)
	if err != nil {
		return nil
	}
	return inv
}

// completeDroplets offers Droplet names (a name two Droplets share is offered
// by id instead, since a name must resolve to one).
func completeDroplets(ctx context.Context, c *clusterOptions, prefix string) []string {
	inv := inventoryFor(ctx, c, doapi.Needs{Droplets: true})
	if inv == nil {
		return nil
	}
	count := map[string]int{}
	for _, d := range inv.Droplets {
		count[d.Name]++
	}
	var out []string
	for _, d := range inv.Droplets {
		v := d.Name
		if count[d.Name] > 1 {
			v = strconv.Itoa(d.ID)
		}
		if strings.HasPrefix(v, prefix) {
			out = append(out, v+"\tDroplet "+d.Name+" ("+d.Region+", "+d.Status+")")
		}
	}
	return out
}

func completeApps(ctx context.Context, c *clusterOptions, prefix string) []string {
	inv := inventoryFor(ctx, c, doapi.Needs{Apps: true})
	if inv == nil {
		return nil
	}
	var out []string
	for _, a := range inv.Apps {
		if strings.HasPrefix(a.Name, prefix) {
			out = append(out, a.Name+"\tapp "+a.ID)
		}
	}
	return out
}

// completeTags offers the tags the account's Droplets carry (the API offers
// oxyctl no list of tags it may read).
func completeTags(ctx context.Context, c *clusterOptions, prefix string) []string {
	inv := inventoryFor(ctx, c, doapi.Needs{Droplets: true})
	if inv == nil {
		return nil
	}
	n := map[string]int{}
	for _, d := range inv.Droplets {
		for _, t := range d.Tags {
			n[t]++
		}
	}
	var out []string
	for t, k := range n {
		if strings.HasPrefix(t, prefix) {
			out = append(out, t+"\t"+plural(k, "Droplet"))
		}
	}
	sort.Strings(out)
	return out
}

// completeRules offers the values of the cluster's current rules of a type
// (revoke --ip; --k8s, since the API gives no list of Kubernetes clusters).
func completeRules(ctx context.Context, c *clusterOptions, typ, prefix string) []string {
	st, err := c.load(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range st.rules {
		if r.Type == typ && strings.HasPrefix(r.Value, prefix) {
			d := r.Description
			if d == "" {
				d = "current rule"
			}
			out = append(out, r.Value+"\t"+d)
		}
	}
	return out
}
