// Package backup saves what a write to the DigitalOcean API replaces, and
// reads it back for `restore`: one JSON file per write under
// $XDG_STATE_HOME/oxyctl/backups/<cluster>/<UTC time>-<kind>.json
// (default ~/.local/state), directory 0700, file 0600.
//
// A file holds its format, kind, cluster, time and the firewall rules or the
// settings, never a token. Load refuses a file that is not an oxyctl backup
// of the kind asked for, as a ConfigError (exit 2).
package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/userfile"
)

// Format is the value of the "format" field of every backup file.
const Format = "oxyctl-backup/1"

// Kind is what a backup holds.
type Kind string

// Kinds of backups.
const (
	Firewall Kind = "firewall"
	Settings Kind = "settings"
)

// Cluster names the cluster a backup was taken from.
type Cluster struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// File is one backup.
type File struct {
	Format  string    `json:"format"`
	Kind    Kind      `json:"kind"`
	Cluster Cluster   `json:"cluster"`
	Time    time.Time `json:"time"`
	// Command is the oxyctl command that was about to write, e.g. "firewall allow".
	Command string `json:"command"`
	// Rules are the firewall rules as they were (kind firewall).
	Rules []doapi.Rule `json:"rules,omitempty"`
	// Settings are the API's configuration values as they were (kind
	// settings), with the eviction policy under "eviction_policy".
	Settings map[string]any `json:"settings,omitempty"`
}

// Dir is the backups directory: $XDG_STATE_HOME/oxyctl/backups, or
// ~/.local/state/oxyctl/backups.
func Dir(getenv func(string) string) (string, error) {
	if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "oxyctl", "backups"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", apperr.Configf("cannot find a directory for backups: set XDG_STATE_HOME or HOME")
		}
		home = h
	}
	return filepath.Join(home, ".local", "state", "oxyctl", "backups"), nil
}

var unsafeRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]`) })

// clusterDir is a file-name-safe name for the cluster's folder.
func clusterDir(c Cluster) string {
	n := c.Name
	if n == "" {
		n = c.ID
	}
	n = unsafeRe().ReplaceAllString(n, "_")
	if n == "" || n == "." || n == ".." {
		n = "cluster"
	}
	return n
}

// Save writes f under dir and returns the file's path. Directories are made
// 0700 (and tightened when they exist); the file is created 0600 and never
// overwrites another.
func Save(dir string, f *File) (string, error) {
	if f.Kind != Firewall && f.Kind != Settings {
		return "", fmt.Errorf("backup: unknown kind %q", f.Kind)
	}
	f.Format = Format
	f.Time = f.Time.UTC().Truncate(time.Second)
	folder := filepath.Join(dir, clusterDir(f.Cluster))
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return "", fmt.Errorf("cannot create the backup directory %s: %w", folder, unwrapPath(err))
	}
	for _, d := range []string{dir, folder} { // tighten folders an older run left open
		_ = os.Chmod(d, 0o700)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	b = append(b, '\n')
	stamp := f.Time.Format("20060102T150405Z")
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("%s-%s.json", stamp, f.Kind)
		if i > 0 {
			name = fmt.Sprintf("%s-%d-%s.json", stamp, i, f.Kind)
		}
		path := filepath.Join(folder, name)
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("cannot write the backup %s: %w", path, unwrapPath(err))
		}
		_, werr := fh.Write(b)
		serr := fh.Sync()
		cerr := fh.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			os.Remove(path)
			return "", fmt.Errorf("cannot write the backup %s: %w", path, unwrapPath(err))
		}
		return path, nil
	}
	return "", fmt.Errorf("cannot write the backup: too many backups at %s in %s", stamp, folder)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// MaxFileSize bounds a backup file: 100 rules or a few dozen settings.
const MaxFileSize = 1 << 20

// Load reads a backup file and checks that it is an oxyctl backup of kind.
// Anything else is a ConfigError.
func Load(path string, kind Kind) (*File, error) {
	data, err := userfile.Read(path, MaxFileSize)
	if err != nil {
		return nil, apperr.Configf("cannot read backup file %s: %s", path, err)
	}
	var f File
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	notBackup := func(why string) error {
		return &apperr.ConfigError{Err: fmt.Errorf("%s is not an oxyctl %s backup: %s", path, kind, why),
			Hint: "restore takes a file that oxyctl saved before a write; their paths are printed on stderr and under \"backup\" in JSON"}
	}
	if err := dec.Decode(&f); err != nil {
		return nil, notBackup("it does not read as one (" + apperr.OneLine(err.Error()) + ")")
	}
	if f.Format != Format {
		return nil, notBackup(fmt.Sprintf("its format is %q, want %q", f.Format, Format))
	}
	if f.Kind != kind {
		return nil, notBackup(fmt.Sprintf("it is a %s backup", f.Kind))
	}
	if !doapi.IsUUID(f.Cluster.ID) {
		return nil, notBackup("it names no cluster id")
	}
	switch kind {
	case Firewall:
		if len(f.Rules) == 0 {
			return nil, notBackup("it holds no rules (an empty firewall opens the database to every address)")
		}
		for i, r := range f.Rules {
			if r.Type == "" || r.Value == "" {
				return nil, notBackup(fmt.Sprintf("rule %d has no type or value", i+1))
			}
		}
	case Settings:
		if len(f.Settings) == 0 {
			return nil, notBackup("it holds no settings")
		}
	}
	return &f, nil
}

// SaveBefore saves f in the directory dir gives, before a write: a backup
// that cannot be saved stops the write (ConfigError, nothing changed).
func SaveBefore(dir func() (string, error), f *File) (string, error) {
	d, err := dir()
	if err != nil {
		return "", err
	}
	path, err := Save(d, f)
	if err != nil {
		return "", &apperr.ConfigError{Err: fmt.Errorf("refusing to write without a backup; nothing was changed: %w", err),
			Hint: "make $XDG_STATE_HOME (default ~/.local/state) writable, or point XDG_STATE_HOME at a directory that is"}
	}
	return path, nil
}

// FailedAfter adds where the backup is to the error of a write that failed
// after it was saved, in its text and in the JSON error ("backup"). restore
// is the command that brings the backup back, e.g. "oxyctl firewall restore".
func FailedAfter(err error, path, restore string) error {
	return apperr.WithFields(fmt.Errorf("%w (the previous state is saved in %s; `%s` of that file brings it back)", err, path, restore),
		map[string]any{"backup": path})
}
