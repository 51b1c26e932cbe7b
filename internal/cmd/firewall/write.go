package firewall

import (
	"context"
	"fmt"
	"strings"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/backup"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/policy"
)

// writeRules is every firewall write: save the rules it replaces, PUT final
// in one request, read back and check. It returns the backup's path (also
// when the write then fails: the error says where it is) and the rules read
// back.
func (c *clusterOptions) writeRules(ctx context.Context, st *state, final []doapi.Rule, command string) (string, []doapi.Rule, error) {
	path, err := saveBackup(c, &backup.File{Kind: backup.Firewall, Command: command,
		Cluster: backup.Cluster{ID: st.cluster.ID, Name: st.cluster.Name}, Time: c.Now(), Rules: st.rules})
	if err != nil {
		return "", nil, err
	}
	fmt.Fprintf(c.IO.ErrOut, "backup: the %s of %s as they were are saved in %s\n", plural(len(st.rules), "rule"), st.cluster.Name, path)
	if err := st.api.PutFirewall(ctx, st.cluster.ID, final); err != nil {
		return path, nil, failedAfterBackup(err, path)
	}
	after, err := st.api.Firewall(ctx, st.cluster.ID)
	if err != nil {
		return path, nil, failedAfterBackup(fmt.Errorf("the firewall was written but could not be read back: %w", err), path)
	}
	if diffs := policy.Verify(final, after); len(diffs) > 0 {
		return path, after, failedAfterBackup(&apperr.RuntimeError{Kind: apperr.KindAPI,
			Err:  fmt.Errorf("the firewall was written but reads back differently: %s", strings.Join(diffs, "; ")),
			Hint: "run `oxyctl firewall audit` to see the rules as they are now"}, path)
	}
	return path, after, nil
}

// saveBackup writes a backup file before a DigitalOcean write. A backup that
// cannot be saved stops the write.
func saveBackup(c *clusterOptions, f *backup.File) (string, error) {
	dir, err := c.BackupDir()
	if err != nil {
		return "", err
	}
	path, err := backup.Save(dir, f)
	if err != nil {
		return "", &apperr.ConfigError{Err: fmt.Errorf("refusing to write without a backup; nothing was changed: %w", err),
			Hint: "make $XDG_STATE_HOME (default ~/.local/state) writable, or point XDG_STATE_HOME at a directory that is"}
	}
	return path, nil
}

// failedAfterBackup adds where the backup is to the error of a write that
// failed, in its text and in the JSON error ("backup").
func failedAfterBackup(err error, path string) error {
	return apperr.WithFields(fmt.Errorf("%w (the previous rules are saved in %s; `oxyctl firewall restore` of that file brings them back)", err, path),
		map[string]any{"backup": path})
}
