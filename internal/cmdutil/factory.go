// Package cmdutil holds what every command shares: the Factory of lazy
// dependencies and the flag and argument helpers.
package cmdutil

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/build"
	"github.com/oxyhq/oxyctl/internal/config"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/output"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// Factory gives commands their dependencies. Nothing here reads the config
// file, dials Valkey or reads a token until a command asks for it, so
// --help, completion and version work with no settings at all.
type Factory struct {
	IO     *iostreams.IOStreams
	Flags  *config.Flags
	Getenv config.Getenv
	Now    func() time.Time

	// Started is set by the root command's persistent hook, once cobra has
	// parsed the flags and arguments: an error from before that is cobra's
	// own complaint (unknown command, wrong arguments), a usage error.
	Started bool
	// OnStart, when set, is called by the root command's persistent hook as a
	// command starts (app.Main sets up signal handling there).
	OnStart func(*cobra.Command)
	// JQ is the --jq filter that stdout goes through, once the root's hook
	// has set it up; its caller closes it after the command.
	JQ *output.JQWriter

	settingsOnce sync.Once
	settings     *config.Settings
	settingsErr  error

	valkeyOnce sync.Once
	valkeyOpts valkeyclient.Options
	valkeyErr  error

	// Settings resolves flag > env > context > default, once.
	Settings func() (*config.Settings, error)
	// ValkeyOptions are the Valkey connection settings, built once from the
	// resolved settings; building them warns on stderr, once, when TLS
	// verification is off (--redis-insecure).
	ValkeyOptions func() (valkeyclient.Options, error)
	// Valkey connects with ValkeyOptions. The caller closes the Conn.
	Valkey func(ctx context.Context) (*valkeyclient.Conn, error)
	// DO builds the DigitalOcean API client from the settings (no request is
	// made): a ConfigError when the token is missing.
	DO func(ctx context.Context) (*doapi.Client, error)
}

// New builds the Factory for a run.
func New(ios *iostreams.IOStreams, getenv config.Getenv) *Factory {
	if getenv == nil {
		getenv = os.Getenv
	}
	f := &Factory{IO: ios, Flags: &config.Flags{}, Getenv: getenv, Now: time.Now}
	f.Settings = func() (*config.Settings, error) {
		f.settingsOnce.Do(func() {
			f.settings, f.settingsErr = config.Resolve(f.Flags, f.Getenv)
			if f.settingsErr == nil {
				for _, w := range f.settings.Warnings {
					f.IO.Warnf("%s", w)
				}
			}
		})
		return f.settings, f.settingsErr
	}
	f.ValkeyOptions = func() (valkeyclient.Options, error) {
		f.valkeyOnce.Do(func() { f.valkeyOpts, f.valkeyErr = f.buildValkeyOptions() })
		return f.valkeyOpts, f.valkeyErr
	}
	f.Valkey = func(ctx context.Context) (*valkeyclient.Conn, error) {
		o, err := f.ValkeyOptions()
		if err != nil {
			return nil, err
		}
		f.IO.Debugf("connecting to %s (timeout %s)", valkeyclient.RedactURL(o.URL), o.Timeout)
		return valkeyclient.Connect(ctx, o)
	}
	f.DO = func(ctx context.Context) (*doapi.Client, error) {
		s, err := f.Settings()
		if err != nil {
			return nil, err
		}
		f.IO.Debugf("DigitalOcean API %s (timeout %s per call)", s.DOAPIURL, s.Timeout)
		return doapi.New(doapi.Options{
			BaseURL: s.DOAPIURL, Token: s.DOToken, UserAgent: f.UserAgent(), Timeout: s.Timeout,
			Logf: f.IO.Debugf,
		})
	}
	return f
}

func (f *Factory) buildValkeyOptions() (valkeyclient.Options, error) {
	s, err := f.Settings()
	if err != nil {
		return valkeyclient.Options{}, err
	}
	if s.RedisURL == "" {
		return valkeyclient.Options{}, &apperr.ConfigError{
			Err:  errorString("no Valkey URL is set"),
			Hint: "pass --redis-url, set OXYCTL_REDIS_URL or REDIS_URL, or add redis.url to the context",
		}
	}
	if s.RedisInsecure {
		f.IO.Warnf("TLS VERIFICATION IS OFF (--redis-insecure): the server's certificate is not checked and the password can be intercepted")
	}
	return valkeyclient.Options{
		URL:            s.RedisURL,
		CAFile:         s.RedisCA,
		Insecure:       s.RedisInsecure,
		AllowPlaintext: s.AllowPlaintext,
		Timeout:        s.Timeout,
		ClientName:     "oxyctl",
	}, nil
}

// ClusterSetting is the resolved --cluster (a name or a UUID).
func (f *Factory) ClusterSetting() (string, error) {
	s, err := f.Settings()
	if err != nil {
		return "", err
	}
	return s.Cluster, nil
}

// Format is the -o value (validated by the root command).
func (f *Factory) Format() output.Format {
	if fm, err := output.ParseFormat(f.Flags.Output); err == nil {
		return fm
	}
	return output.Text
}

// Timeout is the resolved --timeout, or the default when settings fail.
func (f *Factory) Timeout() time.Duration {
	if s, err := f.Settings(); err == nil {
		return s.Timeout
	}
	return config.DefaultTimeout
}

// UserAgent is what HTTP clients send.
func (f *Factory) UserAgent() string { return "oxyctl/" + build.Get().Version }

type errorString string

func (e errorString) Error() string { return string(e) }
