// Package output prints a command's result as text for people or JSON for
// scripts, from the same value.
package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/muesli/termenv"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/iostreams"
)

// Format is the -o value.
type Format string

// The formats.
const (
	Text Format = "text"
	JSON Format = "json"
)

// ParseFormat checks an -o value.
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(s)) {
	case Text:
		return Text, nil
	case JSON:
		return JSON, nil
	}
	return "", apperr.Usagef("invalid output format %q: want text or json", s)
}

// Print writes result as JSON, or as text through renderText.
func Print(ios *iostreams.IOStreams, f Format, result any, renderText func(w io.Writer, th *Theme) error) error {
	if f == JSON {
		return WriteJSON(ios.Out, result)
	}
	var buf bytes.Buffer
	if err := renderText(&buf, NewTheme(ios)); err != nil {
		return err
	}
	_, err := ios.Out.Write(buf.Bytes())
	return err
}

// JSONAppender is a result that writes its own JSON, exactly as WriteJSON
// would (two-space indent, HTML characters as they are, a final newline),
// for a document too large to go through encoding/json's buffers.
type JSONAppender interface {
	AppendJSON(dst []byte) []byte
}

// WriteJSON writes v as one indented JSON document with a trailing newline.
func WriteJSON(w io.Writer, v any) error {
	if a, ok := v.(JSONAppender); ok {
		_, err := w.Write(a.AppendJSON(nil))
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return apperr.Runtime(apperr.KindInternal, fmt.Errorf("encoding JSON: %w", err), "")
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// JSONLines writes one compact JSON object per line, flushed line by line.
type JSONLines struct {
	mu sync.Mutex
	w  io.Writer
}

// NewJSONLines writes to w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: w} }

// Write writes v as one line.
func (j *JSONLines) Write(v any) error {
	b, err := MarshalLine(v)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_, err = j.w.Write(b)
	return err
}

// MarshalLine is v as compact JSON plus a newline, HTML characters unescaped.
func MarshalLine(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, apperr.Runtime(apperr.KindInternal, fmt.Errorf("encoding JSON: %w", err), "")
	}
	return buf.Bytes(), nil
}

// Theme holds every style, built on one renderer bound to stdout.
type Theme struct {
	r                                        *lipgloss.Renderer
	OK, Warn, Fail, Skip, Muted, Header, Key lipgloss.Style
	Border                                   lipgloss.Style
	Color                                    bool
	TTY                                      bool
	Width                                    int
	// NoHeaders leaves the header row out of tables (--no-headers).
	NoHeaders bool
}

// NewTheme builds the styles for ios. Color follows ios.ColorEnabled, never
// lipgloss's own detection.
func NewTheme(ios *iostreams.IOStreams) *Theme {
	r := lipgloss.NewRenderer(ios.Out)
	if ios.ColorEnabled() {
		r.SetColorProfile(termenv.ANSI)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	th := &Theme{r: r, Color: ios.ColorEnabled(), TTY: ios.IsStdoutTTY(), Width: ios.TerminalWidth(), NoHeaders: ios.NoHeaders}
	th.OK = r.NewStyle().Foreground(lipgloss.Color("2"))
	th.Warn = r.NewStyle().Foreground(lipgloss.Color("3"))
	th.Fail = r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)
	th.Skip = r.NewStyle().Foreground(lipgloss.Color("8"))
	th.Muted = r.NewStyle().Foreground(lipgloss.Color("8"))
	th.Header = r.NewStyle().Bold(true)
	th.Key = r.NewStyle().Foreground(lipgloss.Color("6"))
	th.Border = r.NewStyle().Foreground(lipgloss.Color("8"))
	return th
}

// Status renders a status word (ok, warn, FAIL, skip) in its style; the word
// itself always carries the meaning, color only helps.
func (th *Theme) Status(s string) string {
	switch s {
	case "ok":
		return th.OK.Render("ok")
	case "warn":
		return th.Warn.Render("warn")
	case "fail":
		return th.Fail.Render("FAIL")
	case "skip":
		return th.Skip.Render("skip")
	case "error":
		return th.Fail.Render("error")
	case "warning":
		return th.Warn.Render("warning")
	}
	return s
}

// Table renders rows under headers. On a terminal: a lipgloss table with
// rounded borders, as wide as its content and shrunk to the terminal's width
// when wider. Elsewhere: plain columns separated by two spaces, no borders,
// no escape codes, nothing truncated. With --no-headers there is no header
// row.
func (th *Theme) Table(headers []string, rows [][]string) string {
	if !th.TTY {
		var b strings.Builder
		_ = th.TableFunc(&b, headers, len(rows), func(i int) []string { return rows[i] })
		return b.String()
	}
	t := table.New().
		Border(lipgloss.RoundedBorder()).
		BorderStyle(th.Border).
		Rows(rows...).
		StyleFunc(func(row, col int) lipgloss.Style {
			if row == table.HeaderRow {
				return th.Header.Padding(0, 1)
			}
			return th.r.NewStyle().Padding(0, 1)
		})
	if !th.NoHeaders {
		t = t.Headers(headers...)
	}
	out := t.Render()
	if th.Width > 0 && lipgloss.Width(out) > th.Width {
		out = t.Width(th.Width).Render()
	}
	return out + "\n"
}

// TableFunc writes what Table returns for n rows that row(i) gives, without
// holding them all at once when not on a terminal: a first pass measures the
// columns (in runes, as text/tabwriter does), a second writes each line,
// every column but the last padded to its widest cell plus two spaces, no
// trailing spaces. (10,000 clients held as rows, tabwriter's cells and their
// copies were the largest part of a run's memory.) On a terminal the rows
// are gathered for lipgloss's table.
func (th *Theme) TableFunc(w io.Writer, headers []string, n int, row func(i int) []string) error {
	if th.TTY {
		rows := make([][]string, n)
		for i := range rows {
			rows[i] = append([]string(nil), row(i)...)
		}
		_, err := io.WriteString(w, th.Table(headers, rows))
		return err
	}
	// As tabwriter measures: runes; every column but the last is padded
	// to its widest cell plus two spaces.
	var widths []int
	measure := func(cells []string) {
		for j, c := range cells {
			if j >= len(widths) {
				widths = append(widths, 0)
			}
			widths[j] = max(widths[j], utf8.RuneCountInString(c))
		}
	}
	if !th.NoHeaders {
		measure(headers)
	}
	for i := 0; i < n; i++ {
		measure(row(i))
	}
	bw := bufio.NewWriter(w)
	var line []byte
	emit := func(cells []string) {
		line = line[:0]
		for j, c := range cells {
			line = append(line, c...)
			if j < len(cells)-1 {
				for pad := widths[j] - utf8.RuneCountInString(c) + 2; pad > 0; pad-- {
					line = append(line, ' ')
				}
			}
		}
		line = append(bytes.TrimRight(line, " "), '\n')
		_, _ = bw.Write(line)
	}
	if !th.NoHeaders {
		emit(headers)
	}
	for i := 0; i < n; i++ {
		emit(row(i))
	}
	return bw.Flush()
}

// Ago renders a time for people: relative on a terminal ("in 4m"), RFC 3339
// UTC elsewhere.
func (th *Theme) When(t, now time.Time) string {
	if !th.TTY {
		return t.UTC().Format(time.RFC3339)
	}
	return Relative(t.Sub(now))
}

// Relative renders a duration as "in 4m12s" or "3s ago".
func Relative(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		s = "0s"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		s = fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	if neg {
		return s + " ago"
	}
	return "in " + s
}
