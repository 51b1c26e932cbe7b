package output

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/charmbracelet/lipgloss"

	"github.com/oxyhq/oxyctl/internal/iostreams"
)

func theme(tty bool, width int, noHeaders bool) *Theme {
	ios, _, _, _ := iostreams.Test()
	ios.SetStdoutTTY(tty)
	ios.SetTerminalWidth(width)
	ios.NoHeaders = noHeaders
	return NewTheme(ios)
}

var (
	headers = []string{"CLIENT", "HITS"}
	rows    = [][]string{{"203.0.113.7", "151"}, {"198.51.100.2", "3"}}
)

func TestTablePlain(t *testing.T) {
	want := "CLIENT        HITS\n203.0.113.7   151\n198.51.100.2  3\n"
	if got := theme(false, 80, false).Table(headers, rows); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	want = "203.0.113.7   151\n198.51.100.2  3\n"
	if got := theme(false, 80, true).Table(headers, rows); got != want {
		t.Fatalf("--no-headers: got %q, want %q", got, want)
	}
}

func maxWidth(s string) int {
	w := 0
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		w = max(w, lipgloss.Width(l))
	}
	return w
}

// On a terminal a table is as wide as its content, not the terminal, and
// shrinks to the terminal when its content is wider.
func TestTableTerminalWidth(t *testing.T) {
	got := theme(true, 200, false).Table(headers, rows)
	// │ 198.51.100.2 │ HITS │: borders, padding and the widest cells.
	want := lipgloss.Width("│ 198.51.100.2 │ HITS │")
	if w := maxWidth(got); w != want {
		t.Fatalf("width %d on a 200-column terminal, want the content's %d:\n%s", w, want, got)
	}
	long := [][]string{{strings.Repeat("x", 120), "1"}}
	if w := maxWidth(theme(true, 60, false).Table(headers, long)); w > 60 {
		t.Fatalf("width %d on a 60-column terminal", w)
	}
	got = theme(true, 200, true).Table(headers, rows)
	if strings.Contains(got, "CLIENT") || !strings.Contains(got, "203.0.113.7") {
		t.Fatalf("--no-headers on a terminal:\n%s", got)
	}
}

// Plain tables lay out as text/tabwriter does (every golden output of the
// commands was made with it): TableFunc against tabwriter, and on a terminal
// TableFunc against Table, whatever the cells (unicode, empty, wider than
// the header, an empty last column), with or without headers.
func TestTableFuncLayout(t *testing.T) {
	hdr := []string{"ID", "ADDR", "NAME", "RESOLVES TO"}
	cells := []string{"", "-", "9", "127.0.0.1:6379", "клиент✓", "api-a-sub", "droplet oxy-api-backend", "a b", "日本語の名前"}
	var body [][]string
	for i := 0; i < 40; i++ {
		r := make([]string, len(hdr))
		for j := range r {
			r[j] = cells[(i*7+j*3+i*j)%len(cells)]
		}
		body = append(body, r)
	}
	tabwriterTable := func(noHeaders bool, h []string, rows [][]string) string {
		var buf bytes.Buffer
		tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
		if !noHeaders {
			fmt.Fprintln(tw, strings.Join(h, "\t"))
		}
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		tw.Flush()
		lines := strings.Split(buf.String(), "\n")
		for i, l := range lines {
			lines[i] = strings.TrimRight(l, " ")
		}
		return strings.Join(lines, "\n")
	}
	for _, tc := range []struct {
		tty, noHeaders bool
		rows           [][]string
	}{
		{false, false, body}, {false, true, body}, {true, false, body}, {false, false, nil}, {false, true, nil}, {false, false, rows},
	} {
		th := theme(tc.tty, 200, tc.noHeaders)
		h := hdr
		if len(tc.rows) > 0 && len(tc.rows[0]) == 2 {
			h = headers
		}
		var b strings.Builder
		if err := th.TableFunc(&b, h, len(tc.rows), func(i int) []string { return tc.rows[i] }); err != nil {
			t.Fatal(err)
		}
		want := th.Table(h, tc.rows)
		if !tc.tty {
			want = tabwriterTable(tc.noHeaders, h, tc.rows)
		}
		if b.String() != want {
			t.Fatalf("tty %v, no headers %v, %d rows:\ngot\n%q\nwant\n%q", tc.tty, tc.noHeaders, len(tc.rows), b.String(), want)
		}
	}
}
