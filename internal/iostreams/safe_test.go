package iostreams

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func safe(in string, sgr bool, chunk int) string {
	var b bytes.Buffer
	w := NewSafeWriter(&b, sgr)
	for len(in) > 0 {
		n := min(chunk, len(in))
		_, _ = w.Write([]byte(in[:n]))
		in = in[n:]
	}
	_ = w.Flush()
	return b.String()
}

func TestSafeWriter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text\nand\ttabs", "plain text\nand\ttabs"},
		{"rl:\u202e4.3.2.1", `rl:\u202e4.3.2.1`},
		{"\x1b]0;owned\x07title", `\x1b]0;owned\x07title`},
		{"\x1b[2J\x1b[31mred", `\x1b[2J\x1b[31mred`},
		{"cr\rover", `cr\x0dover`},
		{"del\x7f c1\u0085 nbsp\u00a0 zw\u200b bom\ufeff ls\u2028", `del\x7f c1\u0085 nbsp` + "\u00a0" + ` zw\u200b bom\ufeff ls\u2028`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
		{"ünïcødé 日本 🚀", "ünïcødé 日本 🚀"},
		{"cut \xe6\x97", `cut \xe6\x97`},
	} {
		for _, chunk := range []int{1, 2, 3, 1000} {
			if got := safe(tc.in, false, chunk); got != tc.want {
				t.Errorf("%q (chunk %d) = %q, want %q", tc.in, chunk, got, tc.want)
			}
		}
	}
	// With color, lipgloss's sequences pass and nothing else does.
	if got := safe("\x1b[1;31mFAIL\x1b[0m \x1b]8;;x\x07", true, 1000); got != "\x1b[1;31mFAIL\x1b[0m \\x1b]8;;x\\x07" {
		t.Errorf("sgr: %q", got)
	}
}

// A JSON line keeps its meaning: the escapes are JSON's.
func TestSafeWriterKeepsJSON(t *testing.T) {
	msg := "key rl:\u202e1 \u0085 \u2028 ✓"
	line, _ := json.Marshal(map[string]string{"message": msg})
	out := safe(string(line), false, 7)
	var back map[string]string
	if err := json.Unmarshal([]byte(out), &back); err != nil || back["message"] != msg {
		t.Fatalf("%q -> %q (%v)", line, out, err)
	}
	for _, r := range out {
		if unsafeRune(r) || r < 0x20 {
			t.Fatalf("raw %U in %q", r, out)
		}
	}
	if !utf8.ValidString(out) || strings.Contains(out, "\u202e") {
		t.Fatal("not escaped")
	}
}
