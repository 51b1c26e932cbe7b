package e2e

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/testutil/hostile"
)

// FuzzCommandReplies runs whole commands against a server whose replies to
// one command are fuzzed bytes: whatever they are, the command ends within
// its timeout with a documented exit code and no internal error.
func FuzzCommandReplies(f *testing.F) {
	for _, bad := range hostile.Malformed {
		if bad != hostile.Flood {
			f.Add(uint8(0), []byte(bad))
		}
	}
	f.Add(uint8(1), []byte("*2\r\n$1\r\n0\r\n*1\r\n$4\r\nrl:x\r\n"))
	f.Add(uint8(2), []byte("*3\r\n$6\r\nsocket\r\n:1\r\n"))
	f.Add(uint8(3), []byte("$10\r\nrole:master\r\n"))
	// A reply to no command (valkey-go panicked on one in its reader
	// goroutine), to the batched reads of clients and the ratelimit check.
	for _, which := range []uint8{3, 7, 8} {
		f.Add(which, []byte("$6\r\nsocket\r\n:1\r\n"))
	}
	targets := []struct {
		name string
		args []string
	}{
		{"GET", []string{"limits", "get", "203.0.113.7"}},
		{"SCAN", []string{"limits", "list"}},
		{"PUBSUB", []string{"pubsub", "channels"}},
		{"INFO", []string{"health", "--check", "valkey"}},
		{"PTTL", []string{"limits", "get", "203.0.113.7"}},
		{"TYPE", []string{"limits", "reset", "203.0.113.7", "--yes"}},
		{"PSUBSCRIBE", []string{"pubsub", "tail", "--count", "1", "--duration", "1s"}},
		{"CLIENT", []string{"clients"}},
		{"SCRIPT", []string{"health", "--check", "ratelimit"}},
	}
	f.Fuzz(func(t *testing.T, which uint8, reply []byte) {
		tc := targets[int(which)%len(targets)]
		s := hostile.Start(t, func(args []string) string {
			if args[0] == tc.name {
				return string(reply)
			}
			return ""
		})
		// A command that never returns would only stall the fuzzer until its
		// -fuzztime ran out (reported as a bare "context deadline exceeded",
		// no input kept): crash the worker instead, so the input is saved.
		hang := time.AfterFunc(10*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("%v answered %q: still running after 10 s\n%s", tc.args, reply, buf[:runtime.Stack(buf, true)]))
		})
		r := oxyctl(t, map[string]string{"OXYCTL_REDIS_URL": "redis://" + s.Addr, "OXYCTL_TIMEOUT": "1s"}, tc.args...)
		hang.Stop()
		if r.code != 0 && r.code != 1 && r.code != 3 {
			t.Fatalf("%v answered %q: exit %d\n%s", tc.args, reply, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "internal error") || strings.Contains(r.stderr, "panic") {
			t.Fatalf("%v answered %q: %s", tc.args, reply, r.stderr)
		}
		if r.elapsed > 4*time.Second {
			t.Fatalf("%v answered %q: took %s", tc.args, reply, r.elapsed)
		}
	})
}
