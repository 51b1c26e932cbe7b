package config

import (
	"strings"
	"testing"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

// FuzzParse: any bytes give a File or a one-line config error naming the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("contexts:\n  p:\n    redis:\n      urll: x\n"))
	f.Add([]byte("contexts: [\n"))
	f.Add([]byte("current_context: 3\ncontexts: {a: {timeout: [1]}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse("c.yaml", b)
		if err != nil {
			if code, _ := apperr.Classify(err); code != apperr.ExitUsage {
				t.Fatalf("code %d for %v", code, err)
			}
			if !strings.HasPrefix(err.Error(), "c.yaml") {
				t.Fatalf("error does not name the file: %q", err)
			}
			return
		}
		if file == nil {
			t.Fatal("nil file without error")
		}
	})
}
