package ratelimit

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
	"github.com/valkey-io/valkey-go"
)

// topo is a running Valkey deployment as the domain code sees it.
type topo struct {
	name      string
	client    valkey.Client       // routes per key (cluster-aware)
	primaries []valkeyclient.Node // one per primary, for SCAN
	server    *valkeytest.Server  // the standalone server
}

func startStandalone(t testing.TB) topo {
	t.Helper()
	s := valkeytest.Start(t, valkeytest.Options{})
	tp := connect(t, "standalone", valkeyclient.Options{URL: s.URL})
	tp.server = s
	return tp
}

func startCluster(t testing.TB) topo {
	t.Helper()
	cl := valkeytest.StartCluster(t, valkeytest.Options{})
	tp := connect(t, "cluster", valkeyclient.Options{URL: cl.URL})
	if len(tp.primaries) != len(cl.Nodes) {
		t.Fatalf("%d primaries for a cluster of %d", len(tp.primaries), len(cl.Nodes))
	}
	return tp
}

// connect connects as the commands do (valkeyclient), so the scan gets its
// connections of its own from the same code as in production.
func connect(t testing.TB, name string, o valkeyclient.Options) topo {
	t.Helper()
	o.Timeout = 10 * time.Second
	conn, err := valkeyclient.Connect(context.Background(), o)
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	t.Cleanup(conn.Close)
	prims, err := conn.Primaries(context.Background())
	if err != nil {
		t.Fatalf("primaries of %s: %v", name, err)
	}
	return topo{name: name, client: conn.Client, primaries: prims}
}

// bothTopologies runs fn against a standalone server and a 3-primary cluster.
func bothTopologies(t *testing.T, fn func(t *testing.T, tp topo)) {
	t.Run("standalone", func(t *testing.T) { fn(t, startStandalone(t)) })
	t.Run("cluster", func(t *testing.T) { fn(t, startCluster(t)) })
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// do runs commands (pipelined, in chunks) and fails the test on any error.
func do(t testing.TB, c valkey.Client, cmds valkey.Commands) {
	t.Helper()
	for len(cmds) > 0 {
		n := min(len(cmds), 1000)
		for i, r := range c.DoMulti(ctxT(t), cmds[:n]...) {
			if err := r.Error(); err != nil {
				t.Fatalf("seed command %d: %v", i, err)
			}
		}
		cmds = cmds[n:]
	}
}

// counter builds the SET a rate-limit-redis increment leaves behind.
func setCounter(c valkey.Client, key string, hits int64, pttl time.Duration) valkey.Completed {
	return c.B().Set().Key(key).Value(fmt.Sprint(hits)).Px(pttl).Build()
}

// allKeys lists every key of every primary with a plain SCAN (no pattern),
// independently of the code under test.
func allKeys(t testing.TB, tp topo) map[string]string {
	t.Helper()
	out := make(map[string]string)
	for _, n := range tp.primaries {
		p := n.Client
		var cursor uint64
		for {
			e, err := p.Do(ctxT(t), p.B().Scan().Cursor(cursor).Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Fatalf("SCAN: %v", err)
			}
			for _, k := range e.Elements {
				out[k] = ""
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	// Record each key's type, so a key replaced by another type is noticed too.
	keys := sortedKeys(out)
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		cmds := make(valkey.Commands, n)
		for i, k := range keys[:n] {
			cmds[i] = tp.client.B().Type().Key(k).Build()
		}
		for i, r := range tp.client.DoMulti(ctxT(t), cmds...) {
			typ, err := r.ToString()
			if err != nil {
				t.Fatalf("TYPE: %v", err)
			}
			out[keys[i]] = typ
		}
		keys = keys[n:]
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// diffKeys describes the difference between two key sets, for test failures.
func diffKeys(before, after map[string]string) (gone, added []string) {
	for k := range before {
		if _, ok := after[k]; !ok {
			gone = append(gone, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			added = append(added, k)
		}
	}
	sort.Strings(gone)
	sort.Strings(added)
	return gone, added
}

func quoteAll(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	if len(q) > 20 {
		q = append(q[:20], fmt.Sprintf("... %d more", len(q)-20))
	}
	return strings.Join(q, " ")
}

func fixedNow() time.Time { return time.Date(2026, 11, 30, 14, 45, 0, 0, time.UTC) }
