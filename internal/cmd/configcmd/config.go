// Package configcmd is `oxyctl config view|path`.
package configcmd

import (
	"context"
	"fmt"
	"io"

	"github.com/MakeNowJust/heredoc"
	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/redact"
)

// NewCmdConfig builds `oxyctl config`.
func NewCmdConfig(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config <command>",
		Short: "Show the settings oxyctl resolved and where the config file is",
		Long: heredoc.Doc(`
			Settings are taken from flags, then the environment, then the active context
			of the config file, then the built-in defaults. 'config view' shows the result
			with every secret masked, and where each setting came from.
		`),
		Args: cmdutil.NoArgs,
	}
	cmd.AddCommand(newCmdView(f, nil), newCmdPath(f))
	return cmd
}

type viewOptions struct {
	IO       *iostreams.IOStreams
	Format   output.Format
	Settings func() (*config.Settings, error)
}

// View is the JSON of `config view`.
type View struct {
	ConfigPath     string            `json:"config_path"`
	ConfigFound    bool              `json:"config_found"`
	Context        string            `json:"context"`
	RedisURL       string            `json:"redis_url"`
	RedisCA        string            `json:"redis_ca"`
	RedisInsecure  bool              `json:"redis_insecure"`
	APIURL         string            `json:"api_url"`
	DOToken        string            `json:"do_token"`
	DOAPIURL       string            `json:"do_api_url"`
	Cluster        string            `json:"cluster"`
	TimeoutMS      int64             `json:"timeout_ms"`
	Limiters       []config.Limiter  `json:"limiters"`
	SocketIO       config.SocketIO   `json:"socketio"`
	FirewallPolicy bool              `json:"firewall_policy"`
	Sources        map[string]string `json:"sources"`
}

func newCmdView(f *cmdutil.Factory, runF func(context.Context, *viewOptions) error) *cobra.Command {
	opts := &viewOptions{IO: f.IO, Settings: f.Settings}
	return &cobra.Command{
		Use:   "view",
		Short: "Show the resolved settings, secrets masked",
		Long: "Show every setting oxyctl would use and where it came from (flag, env NAME, context,\n" +
			"default). Passwords and tokens are always masked." + "\n\nEXIT STATUS\n  0  success\n  2  the config file is invalid or the context does not exist",
		Example: "  $ oxyctl config view\n  $ oxyctl --context staging config view -o json",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return viewRun(cmd.Context(), opts)
		},
	}
}

func viewRun(_ context.Context, opts *viewOptions) error {
	s, err := opts.Settings()
	if err != nil {
		return err
	}
	v := View{
		ConfigPath: s.ConfigPath, ConfigFound: s.ConfigFound, Context: s.Context,
		RedisURL: redact.URL(s.RedisURL), RedisCA: s.RedisCA, RedisInsecure: s.RedisInsecure,
		APIURL: s.APIURL, DOAPIURL: s.DOAPIURL, Cluster: s.Cluster,
		TimeoutMS: s.Timeout.Milliseconds(), Limiters: s.Limiters, SocketIO: s.SocketIO,
		FirewallPolicy: s.Firewall != nil, Sources: s.Sources,
	}
	if s.DOToken != "" {
		v.DOToken = redact.Mask
	}
	return output.Print(opts.IO, opts.Format, v, func(w io.Writer, th *output.Theme) error {
		unset := func(x string) string {
			if x == "" {
				return th.Muted.Render("(unset)")
			}
			return x
		}
		found := ""
		if !v.ConfigFound {
			found = " " + th.Muted.Render("(not found)")
		}
		ctxName := v.Context
		if ctxName == "" {
			ctxName = "(none)"
		}
		rows := [][]string{
			{"config file", v.ConfigPath + found, ""},
			{"context", ctxName, s.Sources["context"]},
			{"redis url", unset(v.RedisURL), s.Sources["redis_url"]},
			{"redis ca", unset(v.RedisCA), s.Sources["redis_ca"]},
			{"api url", v.APIURL, s.Sources["api_url"]},
			{"do token", unset(v.DOToken), s.Sources["do_token"]},
			{"do api url", v.DOAPIURL, s.Sources["do_api_url"]},
			{"cluster", v.Cluster, s.Sources["cluster"]},
			{"timeout", s.Timeout.String(), s.Sources["timeout"]},
			{"socket.io key", v.SocketIO.Key, ""},
		}
		if v.RedisInsecure {
			rows = append(rows, []string{"redis tls", th.Fail.Render("NOT VERIFIED (--redis-insecure)"), ""})
		}
		for _, l := range v.Limiters {
			rows = append(rows, []string{"limiter " + l.Name, fmt.Sprintf("prefix %q, limit %d per %s, express-rate-limit %d, IPv6 /%d", l.Prefix, l.Limit, l.Window, l.ExpressRateLimit, l.IPv6Subnet), ""})
		}
		fw := "none in this context"
		if v.FirewallPolicy {
			fw = "declared in this context"
		}
		rows = append(rows, []string{"firewall policy", fw, ""})
		_, err := io.WriteString(w, th.Table([]string{"SETTING", "VALUE", "FROM"}, rows))
		return err
	})
}

func newCmdPath(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "path",
		Short: "Print the config file's path",
		Long: "Print the path of the config file oxyctl reads (--config, else OXYCTL_CONFIG, else\n" +
			"$XDG_CONFIG_HOME/oxyctl/config.yaml). With -o json: {\"path\": ...}.\n\nEXIT STATUS\n  0  always",
		Example: "  $ oxyctl config path",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p := config.Path(f.Flags, f.Getenv)
			return output.Print(f.IO, f.Format(), struct {
				Path string `json:"path"`
			}{p}, func(w io.Writer, _ *output.Theme) error {
				_, err := fmt.Fprintln(w, p)
				return err
			})
		},
	}
}
