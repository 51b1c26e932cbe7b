package database

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/cmdutil"
	"github.com/oxyhq/oxyctl/internal/output"
)

type caOptions struct {
	clusterOptions
	Format output.Format
	Output string
	Force  bool
}

type caResult struct {
	Cluster  clusterRef `json:"cluster"`
	Path     string     `json:"path,omitempty"`
	Subject  string     `json:"subject"`
	NotAfter string     `json:"not_after"`
	PEM      string     `json:"pem"`
}

const caLong = `The cluster's CA certificate in PEM (GET /v2/databases/{id}/ca): what
redis.ca_file (or --redis-ca) needs to verify the cluster's TLS certificate.
Without --file the PEM goes to stdout; with --file FILE it is written to FILE
(mode 0644; it is public), and an existing FILE is left alone unless --force
is given. (-o/--output stays the output format, as for every command.)

JSON: {"cluster":{"id","name"},"path","subject","not_after","pem"}.
`

// NewCmdCA builds `database ca`.
func NewCmdCA(f *cmdutil.Factory, runF func(context.Context, *caOptions) error) *cobra.Command {
	opts := &caOptions{clusterOptions: newClusterOptions(f)}
	cmd := &cobra.Command{
		Use:     "ca [--file FILE] [--force]",
		Short:   "The cluster's CA certificate in PEM, for redis.ca_file",
		Long:    caLong + exitStatus,
		Example: "$ oxyctl database ca --file ~/.config/oxyctl/do-valkey-ca.crt\n$ oxyctl database ca > ca.crt\n",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Format = f.Format()
			if cmd.Flags().Changed("file") && opts.Output == "" {
				return apperr.Usagef("--file needs a file name")
			}
			if opts.Force && opts.Output == "" {
				return apperr.Usagef("--force goes with --file")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return caRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Output, "file", "", "write the PEM to this file (mode 0644) instead of stdout")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace an existing --file")
	return cmd
}

func caRun(ctx context.Context, opts *caOptions) error {
	if opts.Output != "" && !opts.Force {
		if _, err := os.Lstat(opts.Output); err == nil {
			return &apperr.ConfigError{Err: fmt.Errorf("%s exists; nothing was written", opts.Output), Hint: "pass --force to replace it"}
		}
	}
	api, cl, err := opts.cluster(ctx)
	if err != nil {
		return err
	}
	pemBytes, err := api.CA(ctx, cl.ID)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return &apperr.RuntimeError{Kind: apperr.KindAPI, Err: errors.New("the DigitalOcean API sent a CA that is not a PEM certificate")}
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return &apperr.RuntimeError{Kind: apperr.KindAPI, Err: fmt.Errorf("the DigitalOcean API sent a CA certificate oxyctl cannot read: %w", err)}
	}
	res := caResult{Cluster: clusterRef{ID: cl.ID, Name: cl.Name}, Subject: cert.Subject.String(),
		NotAfter: cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z"), PEM: string(pemBytes)}
	if opts.Output != "" {
		if err := writeCA(opts.Output, pemBytes, opts.Force); err != nil {
			return err
		}
		res.Path = opts.Output
	}
	return output.Print(opts.IO, opts.Format, res, func(w io.Writer, th *output.Theme) error {
		if res.Path == "" {
			_, err := w.Write(pemBytes)
			return err
		}
		fmt.Fprintf(w, "%s wrote the CA of %s (%s, valid until %s) to %s\n", th.Status("ok"), cl.Name, res.Subject, res.NotAfter, res.Path)
		return nil
	})
}

// writeCA writes the PEM 0644; without force it never replaces a file.
func writeCA(path string, b []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	// The README's place, ~/.config/oxyctl/, may not exist yet.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return apperr.Configf("cannot write %s: %s", path, unwrapPath(err))
	}
	fh, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return &apperr.ConfigError{Err: fmt.Errorf("%s exists; nothing was written", path), Hint: "pass --force to replace it"}
	}
	if err != nil {
		return apperr.Configf("cannot write %s: %s", path, unwrapPath(err))
	}
	_, werr := fh.Write(b)
	cerr := fh.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return apperr.Configf("cannot write %s: %s", path, unwrapPath(err))
	}
	return os.Chmod(path, 0o644)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
