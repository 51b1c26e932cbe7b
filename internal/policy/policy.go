// Package policy is the declared database firewall: which Droplets, apps,
// Kubernetes clusters, tags and IPv4 addresses may reach the cluster.
//
// It reads the policy (a `firewall: {allow: [...]}` block, from the config
// file's context or a --policy file) keeping file and line for every entry,
// resolves entries against an inventory of the account, audits the actual
// rules against it, and plans the one PUT that makes them equal. The only I/O
// is reading the policy file.
package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/doapi"
	"github.com/oxyhq/oxyctl/internal/userfile"
)

// Kind is the kind of a policy entry, as written in the config.
type Kind string

// Entry kinds. The config says `ip`; the API says `ip_addr`.
const (
	KindDroplet Kind = "droplet"
	KindApp     Kind = "app"
	KindK8s     Kind = "k8s"
	KindTag     Kind = "tag"
	KindIP      Kind = "ip"
)

// Kinds lists the entry kinds in the order help text shows them.
var Kinds = []Kind{KindDroplet, KindApp, KindK8s, KindTag, KindIP}

// APIType is the firewall rule type the API uses for the kind.
func (k Kind) APIType() string {
	if k == KindIP {
		return doapi.TypeIP
	}
	return string(k)
}

// Entry is one `- kind: value` line of the allow list.
type Entry struct {
	Kind  Kind   `json:"kind"`
	Value string `json:"value"`
	File  string `json:"file,omitempty"`
	Line  int    `json:"line,omitempty"`
}

// Where is "file:line" (or "line N" when the file is not known).
func (e Entry) Where() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d", e.File, e.Line)
	case e.File != "":
		return e.File
	case e.Line > 0:
		return fmt.Sprintf("line %d", e.Line)
	}
	return "the policy"
}

func (e Entry) String() string { return string(e.Kind) + ": " + e.Value }

// Firewall is the `firewall:` block.
type Firewall struct {
	Allow []Entry
	// File and Line locate the block (for errors about it as a whole).
	File string
	Line int
}

// MaxRules is DigitalOcean's limit on firewall rules.
const MaxRules = doapi.MaxRules

// lineError is a policy error at a line; the file is added when known.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d: %s", e.line, e.msg)
	}
	return e.msg
}

func errAt(n *yaml.Node, format string, a ...any) error {
	return &lineError{line: n.Line, msg: fmt.Sprintf(format, a...)}
}

// UnmarshalYAML decodes the block `allow: [ {kind: value}, ... ]`. Unknown
// keys are errors. Lines are kept; set the file with SetFile.
func (f *Firewall) UnmarshalYAML(n *yaml.Node) error {
	*f = Firewall{Line: n.Line}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // `firewall:` with nothing under it: no entries
	}
	if n.Kind != yaml.MappingNode {
		return errAt(n, "firewall must be a mapping with an allow list")
	}
	seenAllow := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value != "allow" {
			return errAt(k, "unknown key %q under firewall (want allow)", k.Value)
		}
		if seenAllow {
			return errAt(k, "allow is given twice")
		}
		seenAllow = true
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.SequenceNode {
			return errAt(v, "firewall.allow must be a list of entries such as `- app: oxy-api`")
		}
		for _, item := range v.Content {
			e, err := parseEntry(item)
			if err != nil {
				return err
			}
			f.Allow = append(f.Allow, e)
		}
	}
	return nil
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func parseEntry(n *yaml.Node) (Entry, error) {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		return Entry{}, errAt(n, "an allow entry must be one `kind: value` pair (kind is one of %s)", kindList())
	}
	if len(n.Content) > 2 {
		return Entry{}, errAt(n.Content[2], "an allow entry has one key; put %q on its own `- ` line", n.Content[2].Value)
	}
	k, v := n.Content[0], n.Content[1]
	var kind Kind
	for _, kk := range Kinds {
		if k.Value == string(kk) {
			kind = kk
		}
	}
	if kind == "" {
		hint := ""
		if k.Value == "ip_addr" {
			hint = " (the config says ip)"
		}
		return Entry{}, errAt(k, "unknown key %q in an allow entry%s: want one of %s", k.Value, hint, kindList())
	}
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || strings.TrimSpace(v.Value) == "" {
		return Entry{}, errAt(v, "%s needs a value (a name or an id)", kind)
	}
	e := Entry{Kind: kind, Value: strings.TrimSpace(v.Value), Line: k.Line}
	if err := checkValue(&e); err != nil {
		return Entry{}, errAt(v, "%s", err)
	}
	return e, nil
}

// The regexps are compiled on first use, not at start-up.
var dropletIDRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+$`) })

// checkValue validates a value and puts it in canonical form.
func checkValue(e *Entry) error {
	switch e.Kind {
	case KindIP:
		v, err := NormalizeIP(e.Value)
		if err != nil {
			return err
		}
		e.Value = v
	case KindTag:
		if !doapi.ValidTagName(e.Value) {
			return fmt.Errorf("tag %q: a tag name has letters, digits, ':', '-' and '_' only", e.Value)
		}
	case KindDroplet:
		if dropletIDRe().MatchString(e.Value) {
			if n, err := strconv.Atoi(e.Value); err != nil || n < 1 {
				return fmt.Errorf("droplet %q is not a valid Droplet id", e.Value)
			}
		}
	case KindApp, KindK8s:
		if doapi.IsUUID(e.Value) {
			e.Value = strings.ToLower(e.Value)
		}
	}
	return nil
}

// NormalizeIP checks an IPv4 address or CIDR range and returns its canonical
// form: an address for a single host (a /32 too), else the masked prefix.
func NormalizeIP(v string) (string, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return "", fmt.Errorf("ip %q is not an IPv4 address or CIDR range", v)
		}
		if !p.Addr().Is4() {
			return "", fmt.Errorf("ip %q is IPv6: DigitalOcean database firewalls accept IPv4 only", v)
		}
		if p.Bits() == 32 {
			return p.Addr().String(), nil
		}
		return p.Masked().String(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return "", fmt.Errorf("ip %q is not an IPv4 address or CIDR range", v)
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if !a.Is4() {
		return "", fmt.Errorf("ip %q is IPv6: DigitalOcean database firewalls accept IPv4 only", v)
	}
	return a.String(), nil
}

// SetFile records the file the block came from, on the block and every entry.
func (f *Firewall) SetFile(path string) {
	f.File = path
	for i := range f.Allow {
		f.Allow[i].File = path
	}
}

// configError turns a decode error into a ConfigError naming the file.
func configError(file string, err error) error {
	var le *lineError
	if errors.As(err, &le) {
		if le.line > 0 {
			return apperr.Configf("%s:%d: %s", file, le.line, le.msg)
		}
		return apperr.Configf("%s: %s", file, le.msg)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return apperr.Configf("%s: %s", file, strings.TrimPrefix(te.Errors[0], "yaml: "))
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRe().FindStringSubmatch(msg); m != nil {
		return apperr.Configf("%s:%s: %s", file, m[1], m[2])
	}
	return apperr.Configf("%s: %s", file, msg)
}

var yamlLineRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^line (\d+): (.*)$`) })

// FromNode decodes a `firewall:` block the config package has kept as a
// node. file names the config file in errors.
func FromNode(n *yaml.Node, file string) (*Firewall, error) {
	if n == nil || n.Kind == 0 {
		return nil, nil
	}
	var f Firewall
	if err := f.UnmarshalYAML(n); err != nil {
		return nil, configError(file, err)
	}
	f.SetFile(file)
	return &f, nil
}

// Parse reads a policy document whose top level is `firewall:`.
func Parse(data []byte, file string) (*Firewall, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, configError(file, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, apperr.Configf("%s: the file is empty; it needs a firewall: block with an allow list", file)
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, configError(file, errAt(top, "the top level must be a mapping with a firewall: block"))
	}
	var fw *Firewall
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value != "firewall" {
			return nil, configError(file, errAt(k, "unknown key %q at the top level (want firewall)", k.Value))
		}
		if fw != nil {
			return nil, configError(file, errAt(k, "firewall is given twice"))
		}
		fw = &Firewall{}
		if err := fw.UnmarshalYAML(v); err != nil {
			return nil, configError(file, err)
		}
		fw.Line = k.Line
	}
	if fw == nil {
		return nil, apperr.Configf("%s: no firewall: block", file)
	}
	fw.SetFile(file)
	return fw, nil
}

// MaxFileSize bounds a policy file: 100 rules with comments are a few KiB.
const MaxFileSize = 1 << 20

// ParseFile reads a --policy file.
func ParseFile(path string) (*Firewall, error) {
	data, err := userfile.Read(path, MaxFileSize)
	if err != nil {
		return nil, apperr.Configf("cannot read policy file %s: %s", path, err)
	}
	return Parse(data, path)
}

func (f *Firewall) where() string {
	switch {
	case f.File != "" && f.Line > 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	case f.File != "":
		return f.File
	}
	return "the policy"
}

// Validate refuses a policy that cannot be a firewall: no entries (on
// DigitalOcean an empty list opens the database to every address), more
// entries than the API allows, or an IP range that admits most of the internet.
func (f *Firewall) Validate() error {
	if f == nil || len(f.Allow) == 0 {
		where := "the policy"
		if f != nil {
			where = f.where()
		}
		return &apperr.ConfigError{
			Err:  fmt.Errorf("%s: firewall.allow is empty: an empty trusted-sources list opens the database to every address", where),
			Hint: "declare at least one entry, e.g. `- droplet: oxy-api-backend`",
		}
	}
	if len(f.Allow) > MaxRules {
		return apperr.Configf("%s: firewall.allow has %d entries; DigitalOcean allows at most %d rules", f.where(), len(f.Allow), MaxRules)
	}
	for _, e := range f.Allow {
		if e.Kind != KindIP {
			continue
		}
		if p, ok := prefixOf(e.Value); ok && p.Bits() < MinPrefixBits {
			what := "every address"
			if p.Bits() > 0 {
				what = sizeText(p) + " addresses"
			}
			return apperr.Configf("%s: ip %s admits %s; a policy may not open the database that wide (at most a /%d)",
				e.Where(), e.Value, what, MinPrefixBits)
		}
	}
	return nil
}

// MinPrefixBits is the widest IP range a policy may declare (/8).
const MinPrefixBits = 8

func sizeText(p netip.Prefix) string { return fmt.Sprintf("2^%d", 32-p.Bits()) }
