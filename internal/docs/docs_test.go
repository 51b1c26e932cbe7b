package docs

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestCommittedDocsAreCurrent regenerates completions and man pages and
// fails when the committed ones differ: run `make docs` and commit.
func TestCommittedDocsAreCurrent(t *testing.T) {
	tmp := t.TempDir()
	if err := Generate(tmp); err != nil {
		t.Fatal(err)
	}
	again := t.TempDir()
	if err := Generate(again); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"completions", "man"} {
		fresh := files(t, filepath.Join(tmp, sub))
		if other := files(t, filepath.Join(again, sub)); !equal(fresh, other) {
			t.Fatalf("%s: two runs differ: generation is not reproducible", sub)
		}
		committed := files(t, filepath.Join("..", "..", sub))
		if !equal(fresh, committed) {
			var diff []string
			for name := range union(fresh, committed) {
				if !bytes.Equal(fresh[name], committed[name]) {
					diff = append(diff, name)
				}
			}
			sort.Strings(diff)
			t.Fatalf("%s/ is stale (run `make docs` and commit): %s", sub, strings.Join(diff, ", "))
		}
	}
	man := files(t, filepath.Join(tmp, "man"))
	if len(man) < 5 {
		t.Fatalf("only %d man pages", len(man))
	}
	for name, b := range man {
		if !bytes.Contains(b, []byte("EXIT STATUS")) {
			t.Errorf("%s has no EXIT STATUS section", name)
		}
	}
}

func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func equal(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func union(a, b map[string][]byte) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

// TestManKeepsAsterisks: md2man read `characters like *, ? and [` and
// `reset "*"` as emphasis and printed neither asterisk; code stays as it is.
func TestManKeepsAsterisks(t *testing.T) {
	tmp := t.TempDir()
	if err := Generate(tmp); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(tmp, "man", "oxyctl-limits-reset.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`characters like *, ? and [`, `'reset "*"' deletes the key rl:*`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("oxyctl-limits-reset.1 lacks %q", want)
		}
	}
	for in, want := range map[string]string{
		"a *b* c":           `a \*b\* c`,
		"`<key>#*` and *":   "`<key>#*` and \\*",
		"    rm -rf x*\nx*": "    rm -rf x*\nx\\*",
		"\tglob *\n":        "\tglob *\n",
	} {
		if got := escapeAsterisks(in); got != want {
			t.Errorf("escapeAsterisks(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGzipMan: one .gz per page, reproducible, and it unpacks to the page.
func TestGzipMan(t *testing.T) {
	out1, out2 := t.TempDir(), t.TempDir()
	for _, out := range []string{out1, out2} {
		if err := GzipMan(filepath.Join("..", ".."), out); err != nil {
			t.Fatal(err)
		}
	}
	pages := files(t, filepath.Join("..", "..", "man"))
	gz := files(t, out1)
	if !equal(gz, files(t, out2)) {
		t.Fatal("two runs differ: the gzip copies are not reproducible")
	}
	if len(gz) != len(pages) {
		t.Fatalf("%d .gz for %d pages", len(gz), len(pages))
	}
	for name, page := range pages {
		zr, err := gzip.NewReader(bytes.NewReader(gz[name+".gz"]))
		if err != nil {
			t.Fatalf("%s.gz: %v", name, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, page) {
			t.Fatalf("%s.gz does not unpack to %s (%v)", name, name, err)
		}
	}
}
