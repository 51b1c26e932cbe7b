package clientlist

import (
	"fmt"
	"strings"
	"testing"
)

// A reply of valkey-server 8.0.1, as CLIENT LIST gave it.
const reply801 = `id=3 addr=127.0.0.2:43015 laddr=127.0.0.1:6379 fd=8 name=oxyctl-interop-sio-A-pub age=12 idle=2 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1928 events=r cmd=publish user=default redir=-1 resp=2 lib-name=ioredis lib-ver=5.11.1 tot-net-in=90 tot-net-out=20 tot-cmds=3
id=4 addr=127.0.0.2:40469 laddr=127.0.0.1:6379 fd=9 name=oxyctl-interop-sio-A-sub age=12 idle=12 flags=P db=0 sub=6 psub=2 ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=3 omem=5572600 tot-mem=22426 events=rw cmd=psubscribe user=default redir=-1 resp=2 lib-name=ioredis lib-ver=5.11.1
id=9 addr=[::1]:58301 laddr=[::1]:6379 fd=10 name= age=2 idle=2 flags=P db=0 sub=1 psub=0 ssub=0 omem=0 cmd=subscribe lib-name= lib-ver=
`

func TestParse(t *testing.T) {
	cs, err := Parse(reply801, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 {
		t.Fatalf("%d clients", len(cs))
	}
	want := Client{ID: 4, Addr: "127.0.0.2:40469", LAddr: "127.0.0.1:6379", Name: "oxyctl-interop-sio-A-sub", LibName: "ioredis", LibVer: "5.11.1",
		Age: 12, Idle: 12, Flags: "P", Sub: 6, PSub: 2, OMem: 5572600, Cmd: "psubscribe", User: "default"}
	if cs[1] != want {
		t.Fatalf("got  %+v\nwant %+v", cs[1], want)
	}
	if !cs[1].PubSub() || cs[1].Normal() || !cs[0].Normal() || cs[1].Host() != "127.0.0.2" || cs[1].Lib() != "ioredis 5.11.1" {
		t.Fatalf("helpers: %+v", cs[1])
	}
	if cs[2].Host() != "::1" || cs[2].Lib() != "" || cs[2].Name != "" {
		t.Fatalf("IPv6 client: %+v host %q", cs[2], cs[2].Host())
	}
	// CRLF lines, blank lines, no final newline, and dst appended to.
	cs, err = Parse("id=1 addr=1.2.3.4:5\r\n\r\nid=2 addr=1.2.3.4:6", cs[:1])
	if err != nil || len(cs) != 3 || cs[1].ID != 1 || cs[2].Addr != "1.2.3.4:6" {
		t.Fatalf("%+v %v", cs, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"id=1 addr=a:1\nid=2", "line 2: no id or addr field"},
		{"addr=a:1 name=x", "line 1: no id or addr field"},
		{"id=1 addr=a:1 oops", `line 1: "oops" is not field=value`},
		{"id=1 addr=a:1 =x", `line 1: "=x" is not field=value`},
		{"id=x addr=a:1", `line 1: id="x" is not a count`},
		{"id=1 addr=a:1 omem=-5", `line 1: omem="-5" is not a count`},
		{"id=1 addr=a:1 sub=99999999999999999999", `sub="99999999999999999999" is not a count`},
	} {
		_, err := Parse(tc.in, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// format writes clients back as CLIENT LIST lines.
func format(cs []Client) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "id=%d addr=%s laddr=%s name=%s age=%d idle=%d flags=%s db=%d sub=%d psub=%d ssub=%d omem=%d cmd=%s user=%s lib-name=%s lib-ver=%s\n",
			c.ID, c.Addr, c.LAddr, c.Name, c.Age, c.Idle, c.Flags, c.DB, c.Sub, c.PSub, c.SSub, c.OMem, c.Cmd, c.User, c.LibName, c.LibVer)
	}
	return b.String()
}

// FuzzParse: any input parses or is an error, never a panic; what parses
// reads the same once written back.
func FuzzParse(f *testing.F) {
	f.Add(reply801)
	f.Add("id=1 addr=a:1\n")
	f.Add("id=1 addr=a:1 x=\nid=")
	f.Add("id=1 addr=:1 name==== sub=0")
	f.Fuzz(func(t *testing.T, in string) {
		cs, err := Parse(in, nil)
		if err != nil {
			return
		}
		for _, c := range cs {
			for _, s := range []string{c.Addr, c.LAddr, c.Name, c.LibName, c.LibVer, c.Flags, c.Cmd, c.User} {
				if strings.ContainsAny(s, " \n") {
					t.Fatalf("a field holds a separator: %+v", c)
				}
			}
			_ = c.Host()
		}
		back, err := Parse(format(cs), nil)
		if err != nil {
			t.Fatalf("written back, %q does not parse: %v", format(cs), err)
		}
		if len(back) != len(cs) {
			t.Fatalf("%d clients, %d written back", len(cs), len(back))
		}
		for i := range cs {
			if back[i] != cs[i] {
				t.Fatalf("written back:\n%+v\n%+v", cs[i], back[i])
			}
		}
	})
}

func BenchmarkParse10000(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&sb, "id=%d addr=10.110.0.%d:%d laddr=10.110.0.2:25061 fd=%d name=api-%d age=100 idle=3 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=1928 events=r cmd=get user=default redir=-1 resp=3 lib-name=ioredis lib-ver=5.11.1\n",
			i, i%250, 30000+i, i, i%7)
	}
	s := sb.String()
	dst := make([]Client, 0, 10000)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = Parse(s, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
