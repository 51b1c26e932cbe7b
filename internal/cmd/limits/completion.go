package limits

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/ratelimit"
)

// completeClients is the ValidArgsFunction of get and reset: the selected
// limiter's top clients by hits, from live data. With no settings, or on any
// error, it returns nothing (never an error), and it never offers files.
func (c *limiterOptions) completeClients(cmd *cobra.Command, already []string, prefix string) ([]string, cobra.ShellCompDirective) {
	none := cobra.ShellCompDirectiveNoFileComp
	l, err := c.Limiter(c.LimiterName)
	if err != nil {
		return nil, none
	}
	ctx, cancel := cmdutil.CompletionContext(cmd.Context())
	defer cancel()
	st, err := c.connect(ctx)
	if err != nil {
		return nil, none
	}
	defer st.Close()
	res, err := ratelimit.List(ctx, st.Primaries, l, ratelimit.ListOptions{Top: 50})
	if err != nil {
		return nil, none
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
	return out, none
}
