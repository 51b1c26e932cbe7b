package docs

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
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

// TestPackageContents checks goreleaser.yaml's packages without goreleaser:
// gzipped man pages made by a before-hook, each distribution's zsh path, the
// deb's copyright file, and no hook that changes what CI tested.
func TestPackageContents(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Before struct{ Hooks []string } `yaml:"before"`
		NFPMs  []struct {
			Formats  []string `yaml:"formats"`
			Contents []struct {
				Src, Dst, Packager, Type string
			} `yaml:"contents"`
		} `yaml:"nfpms"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if want := []string{"go run ./cmd/oxyctl-docs", "go run ./cmd/oxyctl-docs -gzip-man build/man"}; !slices.Equal(cfg.Before.Hooks, want) {
		t.Errorf("before hooks %q, want %q (a release builds what CI built)", cfg.Before.Hooks, want)
	}
	if len(cfg.NFPMs) != 1 {
		t.Fatalf("%d nfpms, want 1", len(cfg.NFPMs))
	}
	dst := map[string]map[string]string{"deb": {}, "rpm": {}} // packager -> dst -> src
	for _, c := range cfg.NFPMs[0].Contents {
		for _, p := range []string{"deb", "rpm"} {
			if c.Packager == "" || c.Packager == p {
				dst[p][c.Dst] = c.Src
			}
		}
	}
	for _, tc := range []struct{ packager, dst, src string }{
		{"deb", "/usr/share/man/man1/", "./build/man/*.1.gz"},
		{"rpm", "/usr/share/man/man1/", "./build/man/*.1.gz"},
		{"deb", "/usr/share/zsh/vendor-completions/_oxyctl", "./completions/oxyctl.zsh"},
		{"rpm", "/usr/share/zsh/site-functions/_oxyctl", "./completions/oxyctl.zsh"},
		{"deb", "/usr/share/doc/oxyctl/copyright", "./.ci/packaging/copyright"},
	} {
		if got := dst[tc.packager][tc.dst]; got != tc.src {
			t.Errorf("%s: %s comes from %q, want %q", tc.packager, tc.dst, got, tc.src)
		}
	}
	if _, ok := dst["rpm"]["/usr/share/zsh/vendor-completions/_oxyctl"]; ok {
		t.Error("the rpm installs zsh completion in Debian's vendor-completions")
	}
	// the hook's output is what the man glob finds, one .gz per page
	out := t.TempDir()
	if err := GzipMan(filepath.Join("..", ".."), filepath.Join(out, "build", "man")); err != nil {
		t.Fatal(err)
	}
	gz, _ := filepath.Glob(filepath.Join(out, "build", "man", "*.1.gz"))
	pages, _ := filepath.Glob(filepath.Join("..", "..", "man", "*.1"))
	if len(gz) == 0 || len(gz) != len(pages) {
		t.Errorf("%d .gz for %d man pages", len(gz), len(pages))
	}
	if c, err := os.ReadFile(filepath.Join("..", "..", ".ci", "packaging", "copyright")); err != nil || !bytes.HasPrefix(c, []byte("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")) {
		t.Errorf(".ci/packaging/copyright is not a machine-readable Debian copyright file (%v)", err)
	}
}
