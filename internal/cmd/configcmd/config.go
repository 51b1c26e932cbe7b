// Package configcmd is `oxyctl config view|path|get-contexts|use-context`.
package configcmd

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/redact"
)

const configLong = `Settings are taken from flags, then the environment, then the active context
of the config file, then the built-in defaults. 'config view' shows the result
with every secret masked, and where each setting came from. 'config
get-contexts' lists the file's contexts and 'config use-context NAME' makes
one current.
`

// NewCmdConfig builds `oxyctl config`.
func NewCmdConfig(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config <command>",
		Short: "Show the settings oxyctl resolved, the config file and its contexts",
		Long:  configLong,
		Args:  cmdutil.NoArgs,
	}
	cmd.AddCommand(newCmdView(f, nil), newCmdPath(f, nil), newCmdGetContexts(f, nil), newCmdUseContext(f, nil))
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
		APIURL: redact.URL(s.APIURL), DOAPIURL: redact.URL(s.DOAPIURL), Cluster: s.Cluster,
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

type pathOptions struct {
	IO     *iostreams.IOStreams
	Format output.Format
	// Path is where the config file is looked for (no file is read).
	Path func() string
}

func newCmdPath(f *cmdutil.Factory, runF func(context.Context, *pathOptions) error) *cobra.Command {
	opts := &pathOptions{IO: f.IO, Path: func() string { return config.Path(f.Flags, f.Getenv) }}
	return &cobra.Command{
		Use:   "path",
		Short: "Print the config file's path",
		Long: "Print the path of the config file oxyctl reads (--config, else OXYCTL_CONFIG, else\n" +
			"$XDG_CONFIG_HOME/oxyctl/config.yaml). With -o json: {\"path\": ...}.\n\nEXIT STATUS\n  0  always",
		Example: "  $ oxyctl config path",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pathRun(cmd.Context(), opts)
		},
	}
}

func pathRun(_ context.Context, opts *pathOptions) error {
	p := opts.Path()
	return output.Print(opts.IO, opts.Format, struct {
		Path string `json:"path"`
	}{p}, func(w io.Writer, _ *output.Theme) error {
		_, err := fmt.Fprintln(w, p)
		return err
	})
}

// Contexts is the JSON of `config get-contexts`.
type Contexts struct {
	ConfigPath     string         `json:"config_path"`
	CurrentContext string         `json:"current_context"`
	Contexts       []ContextEntry `json:"contexts"`
}

// ContextEntry is one context of the file.
type ContextEntry struct {
	Name     string `json:"name"`
	Current  bool   `json:"current"`
	RedisURL string `json:"redis_url"`
	Cluster  string `json:"cluster"`
}

type getContextsOptions struct {
	IO     *iostreams.IOStreams
	Format output.Format
	// Path is the config file; Explicit says it was named (it must exist).
	Path     func() string
	Explicit func() bool
}

func newCmdGetContexts(f *cmdutil.Factory, runF func(context.Context, *getContextsOptions) error) *cobra.Command {
	opts := &getContextsOptions{IO: f.IO,
		Path:     func() string { return config.Path(f.Flags, f.Getenv) },
		Explicit: func() bool { return config.Explicit(f.Flags, f.Getenv) },
	}
	return &cobra.Command{
		Use:   "get-contexts",
		Short: "List the contexts of the config file",
		Long: "List the contexts of the config file, the current one marked with *, with each one's\n" +
			"Valkey URL (password masked) and cluster.\n\nEXIT STATUS\n  0  success\n  2  the config file is invalid",
		Example: "  $ oxyctl config get-contexts\n  $ oxyctl config get-contexts --jq '.contexts[].name'",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return getContextsRun(cmd.Context(), opts)
		},
	}
}

func getContextsRun(_ context.Context, opts *getContextsOptions) error {
	path := opts.Path()
	file, _, err := config.Load(path, opts.Explicit())
	if err != nil {
		return err
	}
	res := Contexts{ConfigPath: path, CurrentContext: file.CurrentContext, Contexts: []ContextEntry{}}
	for _, name := range file.Names() {
		c := file.Contexts[name]
		res.Contexts = append(res.Contexts, ContextEntry{Name: name, Current: name == file.CurrentContext, RedisURL: redact.URL(c.Redis.URL), Cluster: c.DigitalOcean.Cluster})
	}
	return output.Print(opts.IO, opts.Format, res, func(w io.Writer, th *output.Theme) error {
		if len(res.Contexts) == 0 {
			_, err := fmt.Fprintf(w, "no contexts in %s\n", path)
			return err
		}
		rows := make([][]string, 0, len(res.Contexts))
		for _, c := range res.Contexts {
			mark := ""
			if c.Current {
				mark = "*"
			}
			rows = append(rows, []string{mark, c.Name, c.RedisURL, c.Cluster})
		}
		_, err := io.WriteString(w, th.Table([]string{"CURRENT", "NAME", "REDIS URL", "CLUSTER"}, rows))
		return err
	})
}

type useContextOptions struct {
	IO     *iostreams.IOStreams
	Format output.Format
	Path   func() string
	Name   string
}

func newCmdUseContext(f *cmdutil.Factory, runF func(context.Context, *useContextOptions) error) *cobra.Command {
	opts := &useContextOptions{IO: f.IO, Path: func() string { return config.Path(f.Flags, f.Getenv) }}
	return &cobra.Command{
		Use:   "use-context NAME",
		Short: "Make a context the current one in the config file",
		Long: "Set current_context in the config file to NAME, which must be one of its contexts.\n" +
			"Only that line of the file changes; comments and layout are kept.\n\n" +
			"EXIT STATUS\n  0  success\n  2  no such context, no config file, or the file is invalid",
		Example: "  $ oxyctl config use-context staging",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return apperr.Usagef("%s: want exactly one context name, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return config.ContextNames(opts.Path()), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format, opts.Name = f.Format(), args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return useContextRun(cmd.Context(), opts)
		},
	}
}

func useContextRun(_ context.Context, opts *useContextOptions) error {
	path := opts.Path()
	if err := config.SetCurrentContext(path, opts.Name); err != nil {
		return err
	}
	res := struct {
		ConfigPath     string `json:"config_path"`
		CurrentContext string `json:"current_context"`
	}{path, opts.Name}
	return output.Print(opts.IO, opts.Format, res, func(w io.Writer, _ *output.Theme) error {
		_, err := fmt.Fprintf(w, "switched to context %q in %s\n", opts.Name, path)
		return err
	})
}
