package repo

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// copies are the files this repository copies from the team's shelf, the
// reference folder that sits beside the repository as ../shared during
// development and in CI: repository path -> shelf path. A directory stands
// for every file under it.
var copies = []struct{ repo, shelf string }{
	{"internal/standin/dospec/digitalocean-openapi-subset.yaml", "specs/digitalocean-openapi-subset.yaml"},
	{"internal/standin/dospec/digitalocean-openapi-LICENSE", "specs/digitalocean-openapi-LICENSE"},
	{"testdata/fixtures/socketio-redis-adapter", "fixtures/socketio-redis-adapter"},
	{"testdata/fixtures/rate-limit-redis", "fixtures/rate-limit-redis"},
}

// TestCopiesMatchShelf fails when a copied file differs from the shelf's,
// naming each file that differs, is missing, or is not on the shelf. Without
// ../shared (a bare clone) there is nothing to compare with, and it skips.
func TestCopiesMatchShelf(t *testing.T) {
	root := MustRoot(t)
	shelf := filepath.Join(root, "..", "shared")
	if fi, err := os.Stat(shelf); err != nil || !fi.IsDir() {
		t.Skip("no ../shared beside the repository: nothing to compare the copies with")
	}
	for _, c := range copies {
		mine, theirs := filepath.Join(root, filepath.FromSlash(c.repo)), filepath.Join(shelf, filepath.FromSlash(c.shelf))
		a, b := files(t, mine), files(t, theirs)
		for _, name := range union(a, b) {
			repoPath, shelfPath := filepath.ToSlash(filepath.Join(c.repo, name)), filepath.ToSlash(filepath.Join("../shared", c.shelf, name))
			switch {
			case !a[name]:
				t.Errorf("%s is on the shelf but not copied to %s", shelfPath, repoPath)
			case !b[name]:
				t.Errorf("%s is not on the shelf (%s)", repoPath, shelfPath)
			default:
				x, err := os.ReadFile(filepath.Join(mine, name))
				if err != nil {
					t.Fatal(err)
				}
				y, err := os.ReadFile(filepath.Join(theirs, name))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(x, y) {
					t.Errorf("%s differs from %s (%d bytes, shelf %d): copy the shelf's file", repoPath, shelfPath, len(x), len(y))
				}
			}
		}
	}
}

// files lists the regular files under path by their slash-separated path
// relative to it ("." when path is a file).
func files(t *testing.T, path string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(path, p)
			if err != nil {
				return err
			}
			out[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func union(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if !a[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
