package config

import (
	"os"
	"strings"
	"testing"
)

// use-context changes only the current_context line; comments, order and
// layout of the rest stay byte for byte.
func TestSetCurrentContextKeepsTheFile(t *testing.T) {
	const head = "# oxyctl settings: keep this comment\n"
	body := head + strings.Replace(sample, "current_context: prod\n", "current_context: prod   # the default\n", 1) + "# trailing comment\n"
	path := writeConfig(t, body)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := SetCurrentContext(path, "staging"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := strings.Replace(body, "current_context: prod   # the default\n", "current_context: staging # the default\n", 1)
	if string(got) != want {
		t.Fatalf("file after use-context:\n%s\nwant:\n%s", got, want)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640 kept", st.Mode().Perm())
	}
	s, err := Resolve(&Flags{ConfigPath: path}, env(nil))
	if err != nil || s.Context != "staging" {
		t.Fatalf("resolved context %v, %v", s, err)
	}
}

func TestSetCurrentContextAddsTheLine(t *testing.T) {
	body := "contexts:\n  a: {}\n  'b c': {} # quoted\n"
	path := writeConfig(t, body)
	if err := SetCurrentContext(path, "b c"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := body + "current_context: b c\n"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSetCurrentContextErrors(t *testing.T) {
	path := writeConfig(t, sample)
	err := SetCurrentContext(path, "nope")
	if !isConfigErr(err) || !strings.Contains(err.Error(), `context "nope" not found`) || !strings.Contains(err.Error(), "prod, staging") {
		t.Fatalf("unknown context: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != sample {
		t.Fatal("the file changed on an error")
	}
	if err := SetCurrentContext(path+".missing", "prod"); !isConfigErr(err) {
		t.Fatalf("missing file: %v", err)
	}
	bad := writeConfig(t, "contexts:\n  a: {}\n  bogus_key: 1\nunknown: 2\n")
	if err := SetCurrentContext(bad, "a"); !isConfigErr(err) {
		t.Fatalf("invalid file: %v", err)
	}
}
