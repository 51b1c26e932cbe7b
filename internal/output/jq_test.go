package output

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

func jqRun(t *testing.T, expr string, indent bool, writes ...string) (string, error) {
	t.Helper()
	q, err := CompileJQ(expr)
	if err != nil {
		t.Fatalf("compile %q: %v", expr, err)
	}
	var out bytes.Buffer
	w := NewJQWriter(q, &out, indent)
	for _, s := range writes {
		if _, err := w.Write([]byte(s)); err != nil {
			return out.String(), err
		}
	}
	return out.String(), w.Close()
}

func isUsage(err error) bool {
	var ue *apperr.UsageError
	return errors.As(err, &ue)
}

func TestJQResults(t *testing.T) {
	doc := "{\n  \"clients\": [\n    {\n      \"client\": \"203.0.113.7\",\n      \"hits\": 151,\n      \"ratio\": 0.25,\n      \"blocked\": true,\n      \"big\": 9007199254740993,\n      \"html\": \"<a&b>\"\n    }\n  ],\n  \"none\": null\n}\n"
	cases := []struct {
		name, expr string
		indent     bool
		want       string
	}{
		{"string raw", ".clients[0].client", false, "203.0.113.7\n"},
		{"html not escaped", ".clients[0].html", false, "<a&b>\n"},
		{"integer", ".clients[0].hits", false, "151\n"},
		{"big integer exact", ".clients[0].big", false, "9007199254740993\n"},
		{"float", ".clients[0].ratio", false, "0.25\n"},
		{"bool", ".clients[0].blocked", false, "true\n"},
		{"null", ".none", false, "null\n"},
		{"object compact off a terminal", ".clients[0] | {client, hits}", false, "{\"client\":\"203.0.113.7\",\"hits\":151}\n"},
		{"object indented on a terminal", ".clients[0] | {client, hits}", true, "{\n  \"client\": \"203.0.113.7\",\n  \"hits\": 151\n}\n"},
		{"array compact", "[.clients[].hits]", false, "[151]\n"},
		{"scalar not indented", ".clients[0].hits", true, "151\n"},
		{"multiple results", ".clients[0] | .client, .hits", false, "203.0.113.7\n151\n"},
		{"no result", ".clients[] | select(.hits > 1000)", false, ""},
		{"halt", "halt", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jqRun(t, tc.expr, tc.indent, doc)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestJQBadExpressionIsUsage(t *testing.T) {
	for _, expr := range []string{".[", "", "  ", "nosuchfunc(1)", "$undefined"} {
		if _, err := CompileJQ(expr); !isUsage(err) {
			t.Errorf("%q: %v, want a UsageError", expr, err)
		}
	}
}

// A runtime error of the expression ends the output with a one-line
// UsageError (exit 2): the expression does not fit the output.
func TestJQRuntimeError(t *testing.T) {
	for _, expr := range []string{".[0]", `error("boom")`, ".a | keys"} {
		got, err := jqRun(t, expr, false, `{"a":1}`+"\n", `{"a":2}`+"\n")
		if !isUsage(err) || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "--jq: ") {
			t.Fatalf("%q: %v, want a one-line UsageError", expr, err)
		}
		if got != "" {
			t.Fatalf("%q: output %q", expr, got)
		}
	}
}

// A stream (JSON lines) is filtered line by line, as each line completes,
// whatever the writes' boundaries.
func TestJQStream(t *testing.T) {
	q, err := CompileJQ(`select(.kind == "broadcast") | .event`)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := NewJQWriter(q, &out, false)
	write := func(s string) {
		t.Helper()
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"kind":"broadcast","event":"one"}` + "\n" + `{"kind":"gap"}` + "\n" + `{"kind":"broad`)
	if out.String() != "one\n" {
		t.Fatalf("after the first lines: %q", out.String())
	}
	write(`cast","event":"two"}`)
	if out.String() != "one\n" {
		t.Fatalf("a line filtered before its end: %q", out.String())
	}
	write("\n")
	if out.String() != "one\ntwo\n" {
		t.Fatalf("after the second line: %q", out.String())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// An indented document written in pieces is one input.
func TestJQDocumentInPieces(t *testing.T) {
	got, err := jqRun(t, ".a.b", false, "{\n  \"a\": {\n", "    \"b\": [1, 2]\n", "  }\n}\n")
	if err != nil || got != "[1,2]\n" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestJQOutputNotJSON(t *testing.T) {
	_, err := jqRun(t, ".", false, "/home/u/.config/oxyctl/config.yaml\n")
	if err == nil || isUsage(err) {
		t.Fatalf("got %v, want a runtime error", err)
	}
	_, err = jqRun(t, ".", false, `{"a":`)
	if err == nil {
		t.Fatal("an unfinished document passed")
	}
}
