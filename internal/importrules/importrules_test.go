package importrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/oxyhq/oxyctl"

// domain packages hold the work worth a unit test; none of them may reach a
// CLI layer. A package of the module that is neither here nor in notDomain
// fails the test until someone says which it is.
var domain = []string{
	"internal/adaptertap",
	"internal/apperr",
	"internal/backoff",
	"internal/backup",
	"internal/build",
	"internal/clientlist",
	"internal/config",
	"internal/dbsettings",
	"internal/doapi",
	"internal/glob",
	"internal/human",
	"internal/policy",
	"internal/probe",
	"internal/ratelimit",
	"internal/redact",
	"internal/resp",
	"internal/socketio",
	"internal/userfile",
	"internal/valkeyclient",
}

// notDomain are the CLI layer, programs and tools, and test-only packages
// (a trailing /... takes every package below).
var notDomain = []string{
	"cmd/...",
	"internal/app",
	"internal/cmd/...",
	"internal/cmdutil",
	"internal/docs",
	"internal/e2e",
	"internal/importrules",
	"internal/iostreams",
	"internal/output",
	"internal/sandbox",
	"internal/standin/...",
	"internal/testutil/...",
	"internal/tools/...",
}

// cliLayer is what a domain package must not import, even through another package.
var cliLayer = []string{
	"github.com/spf13/cobra/...",
	"github.com/charmbracelet/lipgloss/...",
	module + "/internal/iostreams",
	module + "/internal/output",
	module + "/internal/cmdutil",
	module + "/internal/app",
	module + "/internal/cmd/...",
}

// testOnly are packages of the module that the shipped program must not
// link: test helpers and the stand-ins the sandbox runs.
var testOnly = []string{
	module + "/internal/testutil/...",
	module + "/internal/standin/...",
}

// pkg is what `go list -json` says about a package.
type pkg struct {
	ImportPath string
	Name       string
	Standard   bool
	Imports    []string
	Deps       []string
	Error      *struct{ Err string }
}

// matches reports whether path is pattern or, for pattern "p/...", p or below it.
func matches(pattern, path string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == p || strings.HasPrefix(path, p+"/")
	}
	return path == pattern
}

func matchesAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return matches(p, path) })
}

// list runs `go list -deps -json` on the module's packages (not their
// tests), so every package they link is in the map.
func list(t *testing.T) map[string]*pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-test=false", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs[p.ImportPath] = &p
	}
	if pkgs[module+"/cmd/oxyctl"] == nil {
		t.Fatalf("go list did not list %s/cmd/oxyctl", module)
	}
	return pkgs
}

// chain is the shortest import path from one package to another, for the message.
func chain(pkgs map[string]*pkg, from, to string) string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == to {
			var path []string
			for p := to; p != ""; p = prev[p] {
				path = append(path, strings.TrimPrefix(p, module+"/"))
			}
			slices.Reverse(path)
			return strings.Join(path, " -> ")
		}
		if p := pkgs[cur]; p != nil {
			for _, imp := range p.Imports {
				if _, seen := prev[imp]; !seen {
					prev[imp] = cur
					queue = append(queue, imp)
				}
			}
		}
	}
	return strings.TrimPrefix(from, module+"/") + " -> ... -> " + to
}

// testingPackage reports whether a package the program links exists for tests.
// The standard library's own internal packages (internal/synctest,
// internal/testlog) are linked by every program and are exempt.
func testingPackage(p *pkg) bool {
	if p.Standard {
		if strings.HasPrefix(p.ImportPath, "internal/") || strings.Contains(p.ImportPath, "/internal/") {
			return false
		}
		return matches("testing/...", p.ImportPath) || strings.HasSuffix(p.Name, "test")
	}
	last := p.ImportPath[strings.LastIndex(p.ImportPath, "/")+1:]
	return strings.HasSuffix(p.Name, "test") || strings.HasSuffix(last, "test") ||
		strings.HasSuffix(p.Name, "stub") || strings.HasPrefix(p.Name, "fake") || strings.HasPrefix(p.Name, "mock")
}

// TestShippedProgramLinksNoTestCode: cmd/oxyctl links no test helper,
// stand-in, fake or testing package.
func TestShippedProgramLinksNoTestCode(t *testing.T) {
	pkgs := list(t)
	main := module + "/cmd/oxyctl"
	for _, dep := range pkgs[main].Deps {
		p := pkgs[dep]
		if p == nil {
			t.Fatalf("go list did not list %s, a dependency of cmd/oxyctl", dep)
		}
		if matchesAny(testOnly, dep) || testingPackage(p) {
			t.Errorf("cmd/oxyctl links test code: %s", chain(pkgs, main, dep))
		}
	}
}

// TestDomainImportsNoCLILayer: no domain package reaches cobra, lipgloss,
// iostreams, output, cmdutil, app or a command package, directly or not;
// and every package of the module is classified.
func TestDomainImportsNoCLILayer(t *testing.T) {
	pkgs := list(t)
	for path := range pkgs {
		rel, ok := strings.CutPrefix(path, module+"/")
		if !ok {
			continue
		}
		if !slices.Contains(domain, rel) && !matchesAny(notDomain, rel) {
			t.Errorf("%s is neither a domain package nor in notDomain: add it to one list in importrules_test.go", rel)
		}
	}
	for _, rel := range domain {
		p := pkgs[module+"/"+rel]
		if p == nil {
			t.Errorf("%s is listed as a domain package but does not exist: update importrules_test.go", rel)
			continue
		}
		for _, dep := range p.Deps {
			if matchesAny(cliLayer, dep) {
				t.Errorf("domain package %s imports the CLI layer: %s", rel, chain(pkgs, p.ImportPath, dep))
			}
		}
	}
}
