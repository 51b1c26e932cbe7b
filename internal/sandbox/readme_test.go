package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/oxyhq/oxyctl/internal/app"
	"github.com/oxyhq/oxyctl/internal/iostreams"
	"github.com/oxyhq/oxyctl/internal/testutil/repo"
	"github.com/oxyhq/oxyctl/internal/testutil/valkeytest"
)

// example is one `$ oxyctl ...` line of a README code block and the output
// printed under it there.
type example struct {
	line   int
	args   []string
	stdout string // "> FILE": where stdout goes
	sample []string
}

// readmeExamples returns every `$ oxyctl` command of the README's console
// and text blocks, with the sample output that follows it.
func readmeExamples(t *testing.T) []example {
	t.Helper()
	f, err := os.Open(filepath.Join(repo.MustRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []example
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "```console"), strings.HasPrefix(l, "```text"):
			in = true
		case strings.HasPrefix(l, "```"):
			in = false
		case in && strings.HasPrefix(l, "$ oxyctl "):
			args, err := shellWords(strings.TrimPrefix(l, "$ oxyctl "))
			if err != nil {
				t.Fatalf("README.md:%d: %v", n, err)
			}
			ex := example{line: n, args: args}
			for i, a := range args {
				if a == ">" && i+1 < len(args) {
					ex.stdout, ex.args = args[i+1], args[:i]
					break
				}
			}
			out = append(out, ex)
		case in && strings.HasPrefix(l, "$ "):
			in = false // another program's example
		case in && len(out) > 0 && strings.TrimSpace(l) != "" && strings.TrimSpace(l) != "...":
			out[len(out)-1].sample = append(out[len(out)-1].sample, l)
		}
	}
	return out
}

// shellWords splits a command line as sh does for the README's examples:
// spaces separate words; single and double quotes group.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	quote := rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '#' && !inWord:
			if quote == 0 { // a comment: the rest of the line
				goto done
			}
		case r == ' ':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
done:
	if quote != 0 {
		return nil, os.ErrInvalid
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// isHeader reports a table header: two or more words in capitals.
func isHeader(l string) bool {
	f := strings.Fields(l)
	if len(f) < 2 {
		return false
	}
	for _, w := range f {
		for _, r := range w {
			if !unicode.IsUpper(r) && r != '_' {
				return false
			}
		}
	}
	return true
}

// Every `$ oxyctl ...` example of the README runs as written against the
// sandbox (as after `make install` and `--serve`), exits 0 or 1, and prints
// output of the shape the README shows: the same table headers, lines that
// start with the same words, JSON where the README shows JSON.
//
// The sandbox runs valkey-server, as CI has it: the embedded server has no
// CLIENT LIST, which the `clients` example needs (TestTour covers the
// embedded sandbox).
func TestREADMEExamples(t *testing.T) {
	valkeytest.Binary(t) // fail under CI, skip locally when missing
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ios, _, _, _ := iostreams.Test()
	sb, err := Start(ctx, Options{Out: &strings.Builder{}, Err: &strings.Builder{}, IOS: ios})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	examples := readmeExamples(t)
	if len(examples) < 10 {
		t.Fatalf("found only %d examples in README.md", len(examples))
	}
	// Files the examples write (> firewall.yaml, ~/...) land in folders of
	// the test's own, never the developer's.
	home := t.TempDir()
	t.Chdir(t.TempDir())
	getenv := func(k string) string {
		switch k {
		case "HOME":
			return home
		case "XDG_STATE_HOME":
			return filepath.Join(home, ".local", "state")
		}
		return sb.getenv(k)
	}
	for _, ex := range examples {
		// As a person at a terminal, who answers yes to a confirmation.
		ios, in, out, errOut := iostreams.Test()
		in.WriteString("y\ny\n")
		ios.SetStdinTTY(true)
		ios.SetStderrTTY(true)
		args := append([]string(nil), ex.args...)
		for i, a := range args {
			if strings.HasPrefix(a, "~/") {
				args[i] = filepath.Join(home, a[2:])
			}
		}
		code := app.Run(ctx, args, ios, getenv)
		if ex.stdout != "" {
			if err := os.WriteFile(ex.stdout, out.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		all := out.String() + errOut.String()
		where := "README.md:" + itoa(ex.line) + " oxyctl " + strings.Join(ex.args, " ")
		if code != 0 && code != 1 {
			t.Errorf("%s: exit %d\n%s", where, code, all)
			continue
		}
		var lines []string
		for _, l := range strings.Split(all, "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		for _, s := range ex.sample {
			switch {
			case isHeader(s):
				if !hasLine(lines, func(l string) bool {
					return strings.Join(strings.Fields(l), " ") == strings.Join(strings.Fields(s), " ")
				}) {
					t.Errorf("%s: no table header %q in:\n%s", where, s, all)
				}
			case json.Valid([]byte(s)):
				var want, got any
				_ = json.Unmarshal([]byte(s), &want)
				if err := json.Unmarshal([]byte(strings.TrimSpace(out.String())), &got); err != nil && isJSONValue(s) {
					t.Errorf("%s: the README shows JSON %s, oxyctl printed %q", where, s, out.String())
				} else if err == nil && kindOf(want) != kindOf(got) {
					t.Errorf("%s: the README shows a %s, oxyctl printed a %s", where, kindOf(want), kindOf(got))
				}
			case len(strings.Fields(s)) == 1 && strings.Contains(strings.Join(ex.args, " "), "--jq"):
				// A raw string from --jq: one word, which data decides.
				if !hasLine(lines, func(l string) bool { return len(strings.Fields(l)) == 1 }) {
					t.Errorf("%s: the README shows one word (%q), oxyctl printed:\n%s", where, s, all)
				}
			default:
				first := strings.Fields(s)[0]
				same := func(a, b string) bool {
					if _, err := time.Parse(time.RFC3339, a); err == nil {
						_, err := time.Parse(time.RFC3339, b)
						return err == nil // a time: any time
					}
					return a == b
				}
				if !hasLine(lines, func(l string) bool { f := strings.Fields(l); return len(f) > 0 && same(first, f[0]) }) {
					t.Errorf("%s: no line starts with %q (README: %q) in:\n%s", where, first, s, all)
				}
			}
		}
	}
	t.Logf("README: %d examples run against the sandbox", len(examples))
}

func hasLine(lines []string, ok func(string) bool) bool {
	for _, l := range lines {
		if ok(l) {
			return true
		}
	}
	return false
}

// isJSONValue reports an object or array (a bare word such as an IP
// address is valid JSON only by accident: 1.2 is a number).
func isJSONValue(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "JSON object"
	case []any:
		return "JSON array"
	case string:
		return "string"
	case float64:
		return "number"
	}
	return "value"
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
