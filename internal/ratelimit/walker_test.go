package ratelimit

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/resp"
)

// scripted is a loopback server that answers each command with what reply
// returns for it (raw RESP; "" closes the connection, "hang" stops answering
// but keeps it open). It lets a test give the scan answers no healthy server
// gives: a slot that moved, a corrupt reply, a connection dropped mid-reply.
// The client's connection waits at most timeout for a reply.
func scripted(t *testing.T, timeout time.Duration, reply func(args []string) string) *resp.Conn {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := resp.NewReader(c)
		for {
			n, err := r.ReadArrayLen()
			if err != nil {
				return
			}
			args := make([]string, n)
			for i := range args {
				b, _, err := r.ReadBulk()
				if err != nil {
					return
				}
				args[i] = string(b)
			}
			out := reply(args)
			if out == "hang" {
				<-done
				return
			}
			if out == "" {
				return
			}
			if _, err := c.Write([]byte(out)); err != nil {
				return
			}
		}
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rc := resp.NewConn(nc, timeout)
	t.Cleanup(func() { rc.Close() })
	return rc
}

func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

func array(items ...string) string {
	return fmt.Sprintf("*%d\r\n", len(items)) + strings.Join(items, "")
}

// fakeKeyspace answers PING, INFO cluster, one SCAN and per-key reads from
// values (nil: no string key) and pttls; moved keys answer -MOVED.
type fakeKeyspace struct {
	cluster bool
	keys    []string
	values  map[string]*string
	types   map[string]string // keys of another type
	pttls   map[string]int64
	moved   map[string]bool
	corrupt string // when set, the reply to MGET
}

func (f *fakeKeyspace) reply(args []string) string {
	switch strings.ToUpper(args[0]) {
	case "PING":
		return "+PONG\r\n"
	case "INFO":
		return bulk(fmt.Sprintf("# Cluster\r\ncluster_enabled:%d\r\n", map[bool]int{false: 0, true: 1}[f.cluster]))
	case "SCAN":
		items := make([]string, len(f.keys))
		for i, k := range f.keys {
			items[i] = bulk(k)
		}
		return array(bulk("0"), array(items...))
	case "MGET":
		if f.corrupt != "" {
			return f.corrupt
		}
		var items []string
		for _, k := range args[1:] {
			if f.moved[k] {
				return "-MOVED 1234 127.0.0.1:1\r\n"
			}
			if v := f.values[k]; v != nil {
				items = append(items, bulk(*v))
			} else {
				items = append(items, "$-1\r\n")
			}
		}
		return array(items...)
	case "GET":
		k := args[1]
		switch {
		case f.moved[k]:
			return "-MOVED 1234 127.0.0.1:1\r\n"
		case f.types[k] != "":
			return "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
		case f.values[k] != nil:
			return bulk(*f.values[k])
		}
		return "$-1\r\n"
	case "PTTL":
		k := args[1]
		if f.moved[k] {
			return "-MOVED 1234 127.0.0.1:1\r\n"
		}
		if p, ok := f.pttls[k]; ok {
			return fmt.Sprintf(":%d\r\n", p)
		}
		return ":-2\r\n"
	}
	return "-ERR unknown command\r\n"
}

func str(s string) *string { return &s }

// scanScripted runs the scan of one primary against f and returns its
// counters and anomalies as text, sorted.
func scanScripted(t *testing.T, f *fakeKeyspace) (clients, anomalies []string, err error) {
	t.Helper()
	rc := scripted(t, 5*time.Second, f.reply)
	ctx := context.Background()
	err = scanConn(ctx, rc, "fake:1", DefaultLimiter(), ScanOptions{Now: fixedNow}.withDefaults(), func(b *scanBatch) {
		for _, c := range b.counters {
			clients = append(clients, fmt.Sprintf("%s=%d/%d", c.key, c.hits, c.pttl))
		}
		for _, a := range b.anomalies {
			anomalies = append(anomalies, a.Key+":"+a.Problem)
		}
	})
	sort.Strings(clients)
	sort.Strings(anomalies)
	return clients, anomalies, err
}

// Each reply is read in its place: values, PTTLs, a key of another type read
// again with GET + PTTL, a key gone since SCAN.
func TestWalkerReplies(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		t.Run(fmt.Sprintf("cluster=%v", cluster), func(t *testing.T) {
			f := &fakeKeyspace{
				cluster: cluster,
				keys:    []string{"rl:a", "rl:b", "rl:h", "rl:gone", "rl:text", "rl:{x}1", "rl:{x}2"},
				values:  map[string]*string{"rl:a": str("5"), "rl:b": str("151"), "rl:text": str("x"), "rl:{x}1": str("1"), "rl:{x}2": str("2")},
				types:   map[string]string{"rl:h": "hash"},
				pttls:   map[string]int64{"rl:a": 1000, "rl:b": 2000, "rl:h": 3000, "rl:text": 4000, "rl:{x}1": 5000, "rl:{x}2": 6000},
			}
			clients, anomalies, err := scanScripted(t, f)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"rl:a=5/1000", "rl:b=151/2000", "rl:{x}1=1/5000", "rl:{x}2=2/6000"}
			if fmt.Sprint(clients) != fmt.Sprint(want) {
				t.Errorf("clients = %v, want %v", clients, want)
			}
			if want := []string{"rl:h:wrong_type", "rl:text:not_integer"}; fmt.Sprint(anomalies) != fmt.Sprint(want) {
				t.Errorf("anomalies = %v, want %v", anomalies, want)
			}
		})
	}
}

// A reply that breaks the protocol, a short MGET, an error reply and a
// connection dropped mid-scan each end the scan with a one-line error of
// the right kind; none is taken for data.
func TestWalkerFailures(t *testing.T) {
	base := func() *fakeKeyspace {
		return &fakeKeyspace{keys: []string{"rl:a", "rl:b"}, values: map[string]*string{"rl:a": str("1"), "rl:b": str("2")},
			pttls: map[string]int64{"rl:a": 1000, "rl:b": 1000}}
	}
	tests := []struct {
		name    string
		corrupt string
		kind    string
		text    string
	}{
		{"corrupt integer", "*2\r\n$1\r\n1\r\n:x\r\n", apperr.KindAPI, "malformed reply"},
		{"short MGET", "*1\r\n$1\r\n1\r\n", apperr.KindAPI, "MGET of 2 keys answered 1 values"},
		{"line without CR", "*2\n", apperr.KindAPI, "malformed reply"},
		{"permission", "-NOPERM this user has no permissions to run the 'mget' command\r\n", apperr.KindAuth, "NOPERM"},
		{"dropped mid-reply", "*2\r\n$1\r\n1\r\n", apperr.KindConnect, "closed the connection"},
		{"silent", "hang", apperr.KindTimeout, "no reply within the timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base()
			f.corrupt = tt.corrupt
			reply := f.reply
			if tt.name == "dropped mid-reply" {
				reply = func(args []string) string {
					if args[0] == "PTTL" {
						return "" // close: the PTTLs never come
					}
					return f.reply(args)
				}
				f.corrupt = ""
			}
			rc := scripted(t, 300*time.Millisecond, reply)
			start := time.Now()
			delivered := 0
			err := scanConn(context.Background(), rc, "fake:1", DefaultLimiter(), ScanOptions{}.withDefaults(), func(*scanBatch) { delivered++ })
			_, kind := apperr.Classify(err)
			if err == nil || kind != tt.kind || !strings.Contains(err.Error(), tt.text) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v (kind %q), want a one-line %s error containing %q", err, kind, tt.kind, tt.text)
			}
			if delivered != 0 {
				t.Errorf("%d batches delivered from a broken reply", delivered)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("the scan took %s to fail (timeout 300ms)", d)
			}
		})
	}
}

// A slot that moves during the scan (MOVED, ASK or TRYAGAIN answered to its
// reads) ends the scan with an error: its keys are never reported absent.
// (Before: they were skipped and the list called complete.)
func TestWalkerMovedSlotFails(t *testing.T) {
	for _, reply := range []string{"-MOVED 1234 127.0.0.1:1\r\n", "-ASK 1234 127.0.0.1:1\r\n", "-TRYAGAIN Multiple keys request during rehashing of slot\r\n"} {
		for _, cmd := range []string{"MGET", "PTTL", "GET"} {
			t.Run(cmd+" "+reply[1:4], func(t *testing.T) {
				f := &fakeKeyspace{cluster: true, keys: []string{"rl:a", "rl:h"},
					values: map[string]*string{"rl:a": str("5")}, types: map[string]string{"rl:h": "hash"},
					pttls: map[string]int64{"rl:a": 1000, "rl:h": 1000}}
				rc := scripted(t, 2*time.Second, func(args []string) string {
					if strings.EqualFold(args[0], cmd) && (cmd != "GET" || args[1] == "rl:h") {
						return reply
					}
					return f.reply(args)
				})
				delivered := 0
				err := scanConn(context.Background(), rc, "fake:1", DefaultLimiter(), ScanOptions{Now: fixedNow}.withDefaults(), func(*scanBatch) { delivered++ })
				_, kind := apperr.Classify(err)
				if err == nil || kind != apperr.KindConnect || !strings.Contains(err.Error(), "slot is moving") {
					t.Fatalf("err = %v (kind %q), want a connect error saying the slot is moving", err, kind)
				}
				if delivered != 0 {
					t.Errorf("%d batches delivered", delivered)
				}
			})
		}
	}
}

// A SCAN whose cursor comes back, or that returns far more keys than DBSIZE
// said, fails instead of running forever. (Before: it never ended.)
func TestWalkerRunawayScanFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dbsize string
		scan   func(n int) string
		want   string
	}{
		{"cursor comes back", "-ERR unknown command 'dbsize'\r\n", func(n int) string {
			return array(bulk([]string{"17", "42"}[n%2]), array())
		}, "came back"},
		{"more keys than the server holds", ":3\r\n", func(n int) string {
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = bulk(fmt.Sprintf("rl:%d-%d", n, i))
			}
			return array(bulk(fmt.Sprint(n+1)), array(keys...))
		}, "holds 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scans := 0
			f := &fakeKeyspace{}
			rc := scripted(t, 2*time.Second, func(args []string) string {
				switch strings.ToUpper(args[0]) {
				case "DBSIZE":
					return tc.dbsize
				case "SCAN":
					scans++
					return tc.scan(scans)
				}
				return f.reply(args)
			})
			done := make(chan error, 1)
			go func() {
				done <- scanConn(context.Background(), rc, "fake:1", DefaultLimiter(), ScanOptions{Now: fixedNow}.withDefaults(), func(*scanBatch) {})
			}()
			select {
			case err := <-done:
				_, kind := apperr.Classify(err)
				if err == nil || kind != apperr.KindAPI || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v (kind %q), want an api error containing %q", err, kind, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the scan did not end")
			}
		})
	}
}
