package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

// SetCurrentContext makes name the current_context of the config file at
// path. Only that one line changes (or is added at the end): comments,
// order and formatting of the rest of the file stay byte for byte. The file
// is replaced atomically, with its mode kept.
func SetCurrentContext(path, name string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &apperr.ConfigError{Err: fmt.Errorf("no config file at %s", path), Hint: "create it: the README's Configuration section shows the layout"}
	}
	if err != nil {
		return &apperr.ConfigError{Err: fmt.Errorf("cannot read config file: %v", err)}
	}
	f, err := Parse(path, b)
	if err != nil {
		return err
	}
	if _, ok := f.Contexts[name]; !ok {
		return &apperr.ConfigError{Err: fmt.Errorf("context %q not found in %s (contexts: %s)", name, path, contextList(f))}
	}
	out, err := withCurrentContext(b, name)
	if err != nil {
		return &apperr.ConfigError{Err: fmt.Errorf("%s: %v", path, err)}
	}
	if f2, err := Parse(path, out); err != nil || f2.CurrentContext != name {
		return apperr.Runtime(apperr.KindInternal, fmt.Errorf("editing %s: the result does not read back (a bug)", path), "")
	}
	return writeAtomic(path, out)
}

// withCurrentContext is b with current_context set to name.
func withCurrentContext(b []byte, name string) ([]byte, error) {
	q, err := yaml.Marshal(name)
	if err != nil {
		return nil, err
	}
	value := strings.TrimSuffix(string(q), "\n")
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	var root *yaml.Node
	if len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	if root != nil && root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			if k.Value != "current_context" {
				continue
			}
			if v.Kind != yaml.ScalarNode || v.Line != k.Line || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				return nil, fmt.Errorf("line %d: current_context is not a plain one-line value", k.Line)
			}
			lines := strings.SplitAfter(string(b), "\n")
			line := lines[k.Line-1]
			nl := ""
			if strings.HasSuffix(line, "\n") {
				nl = "\n"
				line = strings.TrimSuffix(line, "\n")
			}
			if strings.HasSuffix(line, "\r") {
				nl = "\r" + nl
			}
			comment := ""
			if v.LineComment != "" {
				comment = " " + v.LineComment
			}
			lines[k.Line-1] = line[:k.Column-1] + "current_context: " + value + comment + nl
			return []byte(strings.Join(lines, "")), nil
		}
	} else if root != nil {
		return nil, fmt.Errorf("the file is not a mapping of settings")
	}
	out := append([]byte{}, b...)
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	return append(out, "current_context: "+value+"\n"...), nil
}

func writeAtomic(path string, b []byte) error {
	mode := fs.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".oxyctl-config-*")
	if err != nil {
		return &apperr.ConfigError{Err: fmt.Errorf("cannot write config file: %v", err)}
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return &apperr.ConfigError{Err: fmt.Errorf("cannot write config file: %v", err)}
	}
	return nil
}

// Names are the file's context names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Contexts))
	for n := range f.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func contextList(f *File) string {
	if len(f.Contexts) == 0 {
		return "none"
	}
	return strings.Join(f.Names(), ", ")
}
