package firewall

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/policy"
	"github.com/oxyhq/oxyctl/internal/standin/dostub"
	"github.com/oxyhq/oxyctl/internal/testutil/clitest"
)

func exitCode(err error) int {
	code, _ := apperr.Classify(err)
	return code
}

// The policy the default account matches.
const oxyPolicy = `firewall:
  allow:
    - droplet: oxy-api-backend
    - app: oxy-api
    - app: mention
    - app: homiio
    - app: alia
    - app: allo
`

// env is a stand-in, streams and the shared options of the verbs.
type env struct {
	t      *testing.T
	stub   *dostub.Server
	c      clusterOptions
	ios    *iostreams.IOStreams
	in     *bytes.Buffer
	out    *bytes.Buffer
	errOut *bytes.Buffer
	logs   *logSink
	// wrap, when set, wraps the API client (to simulate odd read-backs).
	wrap func(API) API
	// policy is the context's policy (YAML of a whole firewall document).
	policy string
	// backups is the backups directory (under a temporary state home).
	backups string
	now     time.Time
}

type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func newEnv(t *testing.T, stubOpts ...dostub.Options) *env {
	t.Helper()
	e := &env{t: t, stub: dostub.Start(t, stubOpts...), logs: &logSink{}, policy: oxyPolicy,
		backups: filepath.Join(t.TempDir(), "state", "oxyctl", "backups"), now: clitest.FixedNow()}
	e.ios, e.in, e.out, e.errOut = iostreams.Test()
	e.c = clusterOptions{
		IO:        e.ios,
		Now:       func() time.Time { return e.now },
		BackupDir: func() (string, error) { return e.backups, nil },
		Client: func(ctx context.Context) (API, error) {
			c, err := doapi.New(doapi.Options{
				BaseURL: e.stub.URL, Token: e.stub.Token(), UserAgent: "oxyctl/test", Timeout: 5 * time.Second,
				RetryMax: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond, Logf: e.logs.logf,
			})
			if err != nil {
				return nil, err
			}
			if e.wrap != nil {
				return e.wrap(c), nil
			}
			return c, nil
		},
		Cluster: func() (string, error) { return dostub.OxyClusterName, nil },
		ContextPolicy: func() (*policy.Firewall, error) {
			if e.policy == "" {
				return nil, nil
			}
			return policy.Parse([]byte(e.policy), "config.yaml")
		},
	}
	t.Cleanup(func() {
		all := e.out.String() + e.errOut.String() + strings.Join(e.logs.lines, "\n")
		if strings.Contains(all, e.stub.Token()) {
			t.Errorf("the token shows in the output or the log")
		}
		for _, f := range e.backupFiles() {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), e.stub.Token()) {
				t.Errorf("the token shows in the backup %s", f)
			}
		}
	})
	return e
}

// reset clears the streams between runs in one test.
func (e *env) reset() {
	e.out.Reset()
	e.errOut.Reset()
	e.in.Reset()
}

func (e *env) tty(on bool) {
	clitest.SetTTY(e.ios, on)
}

// writePolicy writes a policy file and returns its path.
func writePolicy(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// noErr fails with the error and its hint.
func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%v (hint %q)", err, apperr.HintOf(err))
	}
}

func exitCodeKind(err error) (int, string) { return apperr.Classify(err) }

// backupFiles lists the backup files written so far, oldest first.
func (e *env) backupFiles() []string {
	var out []string
	filepath.WalkDir(e.backups, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// backupLine is what a write prints on stderr about its backup.
func (e *env) backupLine(n int) string {
	files := e.backupFiles()
	if len(files) == 0 {
		e.t.Fatal("no backup was written")
	}
	return fmt.Sprintf("backup: the %s of db-valkey-ams3-04785 as they were are saved in %s\n", plural(n, "rule"), files[len(files)-1])
}

// sameRules compares rules as oxyctl read them with the stand-in's.
func sameRules(got []doapi.Rule, want []dostub.Rule) bool {
	if len(got) != len(want) {
		return false
	}
	for i, w := range want {
		g := got[i]
		if g.UUID != w.UUID || g.Type != w.Type || g.Value != w.Value || g.Description != w.Description {
			return false
		}
	}
	return true
}
