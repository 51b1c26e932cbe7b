package root

import (
	"context"
	"strings"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
)

// completeClusters completes --cluster from the DigitalOcean API: the
// clusters whose name starts with prefix, with engine, version, region and
// status. With no token, or on any error, it returns nothing.
func completeClusters(ctx context.Context, f *cmdutil.Factory, prefix string) []string {
	if s, err := f.Settings(); err != nil || s == nil || s.DOToken == "" {
		return nil
	}
	ctx, cancel := cmdutil.CompletionContext(ctx)
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
