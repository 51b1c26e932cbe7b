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
	path, err := backup.SaveBefore(c.BackupDir, &backup.File{Kind: backup.Firewall, Command: command,
		Cluster: backup.Cluster{ID: st.cluster.ID, Name: st.cluster.Name}, Time: c.Now(), Rules: st.rules})
	if err != nil {
		return "", nil, err
	}
	fmt.Fprintf(c.IO.ErrOut, "backup: the %s of %s as they were are saved in %s\n", plural(len(st.rules), "rule"), st.cluster.Name, path)
	if err := st.api.PutFirewall(ctx, st.cluster.ID, final); err != nil {
		return path, nil, backup.FailedAfter(err, path, restoreCmd)
	}
	after, err := st.api.Firewall(ctx, st.cluster.ID)
	if err != nil {
		return path, nil, backup.FailedAfter(fmt.Errorf("the firewall was written but could not be read back: %w", err), path, restoreCmd)
	}
	if diffs := policy.Verify(final, after); len(diffs) > 0 {
		return path, after, backup.FailedAfter(&apperr.RuntimeError{Kind: apperr.KindAPI,
			Err:  fmt.Errorf("the firewall was written but reads back differently: %s", strings.Join(diffs, "; ")),
			Hint: "run `oxyctl firewall audit` to see the rules as they are now"}, path, restoreCmd)
	}
	return path, after, nil
}

const restoreCmd = "oxyctl firewall restore"
