package root

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmd/limits"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
)

// completionTimeout bounds a completion that asks a server: a shell must
// never hang on Tab.
const completionTimeout = 2 * time.Second

// dynamicCompletions completes from live data: --cluster from the
// DigitalOcean API, the clients of `limits get` and `limits reset` from the
// top counters. With no settings, or on any error, a completion returns
// nothing (never an error), and it never offers files.
func dynamicCompletions(cmd *cobra.Command, f *cmdutil.Factory) {
	_ = cmd.RegisterFlagCompletionFunc("cluster", func(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return completeClusters(c.Context(), f, prefix), cobra.ShellCompDirectiveNoFileComp
	})
	for _, verb := range []string{"get", "reset"} {
		sub, _, err := cmd.Find([]string{"limits", verb})
		if err != nil || sub == nil || sub.Name() != verb {
			continue
		}
		sub.ValidArgsFunction = func(c *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
			name, _ := c.Flags().GetString("limiter")
			return completeClients(c.Context(), f, name, prefix, args), cobra.ShellCompDirectiveNoFileComp
		}
	}
}

func quiet(f *cmdutil.Factory) bool {
	s, err := f.Settings()
	return err != nil || s == nil
}

func completeClusters(ctx context.Context, f *cmdutil.Factory, prefix string) []string {
	if quiet(f) {
		return nil
	}
	if s, _ := f.Settings(); s.DOToken == "" {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	client, err := f.DO(ctx)
	if err != nil {
		return nil
	}
	clusters, err := client.Clusters(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, c := range clusters {
		if strings.HasPrefix(c.Name, prefix) {
			out = append(out, c.Name+"\t"+c.Engine+" "+c.Version+", "+c.Region+", "+c.Status)
		}
	}
	return out
}

// completeClients offers the limiter's top clients by hits.
func completeClients(ctx context.Context, f *cmdutil.Factory, limiterName, prefix string, already []string) []string {
	if quiet(f) {
		return nil
	}
	s, _ := f.Settings()
	if s.RedisURL == "" {
		return nil
	}
	cl, err := s.Limiter(limiterName)
	if err != nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	conn, err := f.Valkey(ctx)
	if err != nil {
		return nil
	}
	defer conn.Close()
	prims, err := conn.Primaries(ctx)
	if err != nil {
		return nil
	}
	res, err := ratelimit.List(ctx, prims, limits.FromConfig(cl), ratelimit.ListOptions{Top: 50})
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	for _, a := range already {
		seen[a] = true
	}
	var out []string
	for _, r := range res.Clients {
		if seen[r.Client] || !strings.HasPrefix(r.Client, prefix) {
			continue
		}
		desc := "hits " + strconv.FormatInt(r.Hits, 10)
		if r.Blocked {
			desc += ", blocked"
		}
		out = append(out, r.Client+"\t"+desc)
	}
	return out
}
