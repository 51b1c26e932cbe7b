package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/oxyhq/oxyctl/internal/apperr"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseFile(t *testing.T) {
	p := writeFile(t, "policy.yaml", `# the Oxy firewall
firewall:
  allow:
    - droplet: oxy-api-backend   # by name
    - droplet: 549107286
    - app: oxy-api
    - app: 6B0C1F7A-2D4E-5F60-8A9B-0C1D2E3F4A5B
    - k8s: 0ad2c1d4-9c6e-5c1f-8f7e-3f7a3c2b1d0e
    - tag: oxy-workers
    - ip: 203.0.113.7
    - ip: 10.0.0.0/8
    - ip: 192.168.1.9/32
`)
	fw, err := ParseFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{KindDroplet, "oxy-api-backend", p, 4},
		{KindDroplet, "549107286", p, 5},
		{KindApp, "oxy-api", p, 6},
		{KindApp, "6b0c1f7a-2d4e-5f60-8a9b-0c1d2e3f4a5b", p, 7},
		{KindK8s, "0ad2c1d4-9c6e-5c1f-8f7e-3f7a3c2b1d0e", p, 8},
		{KindTag, "oxy-workers", p, 9},
		{KindIP, "203.0.113.7", p, 10},
		{KindIP, "10.0.0.0/8", p, 11},
		{KindIP, "192.168.1.9", p, 12},
	}
	if !reflect.DeepEqual(fw.Allow, want) {
		t.Fatalf("entries:\n%+v\nwant\n%+v", fw.Allow, want)
	}
	if fw.File != p || fw.Line != 2 {
		t.Fatalf("block at %s:%d", fw.File, fw.Line)
	}
	if err := fw.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := fw.Allow[0].Where(); got != p+":4" {
		t.Fatalf("where %s", got)
	}
	if KindIP.APIType() != "ip_addr" || KindApp.APIType() != "app" {
		t.Fatal("APIType")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"unknown top key", "firewall:\n  allow:\n    - app: x\nfirewal: {}\n", `:4: unknown key "firewal" at the top level`},
		{"unknown key in block", "firewall:\n  allowed:\n    - app: x\n", `:2: unknown key "allowed" under firewall`},
		{"unknown kind", "firewall:\n  allow:\n    - app: x\n    - vpc: y\n", `:4: unknown key "vpc" in an allow entry: want one of droplet, app, k8s, tag, ip`},
		{"api spelling", "firewall:\n  allow:\n    - ip_addr: 1.2.3.4\n", `:3: unknown key "ip_addr" in an allow entry (the config says ip)`},
		{"two keys", "firewall:\n  allow:\n    - app: x\n      tag: y\n", `:4: an allow entry has one key`},
		{"scalar entry", "firewall:\n  allow:\n    - oxy-api\n", `:3: an allow entry must be one`},
		{"no value", "firewall:\n  allow:\n    - app:\n", `:3: app needs a value`},
		{"list value", "firewall:\n  allow:\n    - app: [a, b]\n", `:3: app needs a value`},
		{"allow not a list", "firewall:\n  allow: app\n", `:2: firewall.allow must be a list`},
		{"ipv6", "firewall:\n  allow:\n    - ip: 2001:db8::1\n", `:3: ip "2001:db8::1" is IPv6`},
		{"ipv6 range", "firewall:\n  allow:\n    - ip: 2001:db8::/32\n", `:3: ip "2001:db8::/32" is IPv6`},
		{"bad ip", "firewall:\n  allow:\n    - ip: 300.1.1.1\n", `:3: ip "300.1.1.1" is not an IPv4 address`},
		{"bad tag", "firewall:\n  allow:\n    - tag: has space\n", `:3: tag "has space"`},
		{"droplet 0", "firewall:\n  allow:\n    - droplet: 0\n", `:3: droplet "0" is not a valid Droplet id`},
		{"yaml syntax", "firewall:\n  allow:\n    - app: x\n   - app: y\n", `:1: did not find expected key`},
		{"no firewall", "other: 1\n", `:1: unknown key "other"`},
		{"empty file", "", "the file is empty"},
		{"top is a list", "- app: x\n", ":1: the top level must be a mapping"},
		{"firewall twice", "firewall: {allow: [{app: x}]}\nfirewall: {allow: [{app: y}]}\n", ":2: firewall is given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "p.yaml", tc.body)
			_, err := ParseFile(p)
			if err == nil {
				t.Fatal("no error")
			}
			if code, kind := apperr.Classify(err); code != 2 || kind != "config" {
				t.Fatalf("classified %d %s", code, kind)
			}
			if !strings.HasPrefix(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to start with the file and contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
		})
	}
	_, err := ParseFile(filepath.Join(t.TempDir(), "missing.yaml"))
	if code, _ := apperr.Classify(err); code != 2 || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

// The config package keeps the context's firewall block as a yaml.Node;
// both FromNode and a plain yaml decode of Firewall keep line numbers.
func TestFromNodeAndUnmarshaler(t *testing.T) {
	cfg := `current_context: prod
contexts:
  prod:
    firewall:
      allow:
        - droplet: oxy-api-backend
        - app: oxy-api
`
	var file struct {
		Contexts map[string]struct {
			Firewall yaml.Node `yaml:"firewall"`
		} `yaml:"contexts"`
	}
	if err := yaml.Unmarshal([]byte(cfg), &file); err != nil {
		t.Fatal(err)
	}
	node := file.Contexts["prod"].Firewall
	fw, err := FromNode(&node, "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(fw.Allow) != 2 || fw.Allow[1].Where() != "config.yaml:7" || fw.Allow[0].Value != "oxy-api-backend" {
		t.Fatalf("%+v", fw.Allow)
	}
	if fw, err := FromNode(nil, "config.yaml"); fw != nil || err != nil {
		t.Fatal("nil node")
	}

	var typed struct {
		Contexts map[string]struct {
			Firewall Firewall `yaml:"firewall"`
		} `yaml:"contexts"`
	}
	if err := yaml.Unmarshal([]byte(cfg), &typed); err != nil {
		t.Fatal(err)
	}
	got := typed.Contexts["prod"].Firewall
	got.SetFile("config.yaml")
	if len(got.Allow) != 2 || got.Allow[0].Where() != "config.yaml:6" {
		t.Fatalf("%+v", got.Allow)
	}

	bad := strings.Replace(cfg, "app: oxy-api", "ap: oxy-api", 1)
	if err := yaml.Unmarshal([]byte(bad), &file); err != nil {
		t.Fatal(err)
	}
	node = file.Contexts["prod"].Firewall
	_, err = FromNode(&node, "/home/u/.config/oxyctl/config.yaml")
	if err == nil || err.Error() != `/home/u/.config/oxyctl/config.yaml:7: unknown key "ap" in an allow entry: want one of droplet, app, k8s, tag, ip` {
		t.Fatalf("%v", err)
	}
	if err := yaml.Unmarshal([]byte(bad), &typed); err == nil || !strings.Contains(err.Error(), `line 7: unknown key "ap"`) {
		t.Fatalf("unmarshaler error: %v", err)
	}
}

func TestValidate(t *testing.T) {
	empty, err := Parse([]byte("firewall:\n  allow: []\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, fw := range []*Firewall{nil, {}, empty} {
		err := fw.Validate()
		if code, _ := apperr.Classify(err); code != 2 || !strings.Contains(err.Error(), "empty") || !strings.Contains(err.Error(), "every address") {
			t.Fatalf("empty: %v", err)
		}
	}
	if err := empty.Validate(); !strings.HasPrefix(err.Error(), "p.yaml:1:") {
		t.Fatalf("where: %v", err)
	}
	if fw, _ := Parse([]byte("firewall:\n"), "p.yaml"); fw == nil || fw.Validate() == nil {
		t.Fatal("a bare firewall: block must parse and fail validation")
	}
	var b strings.Builder
	b.WriteString("firewall:\n  allow:\n")
	for i := 1; i <= 101; i++ {
		fmt.Fprintf(&b, "    - ip: 10.0.%d.%d\n", i/250, i%250)
	}
	many, err := Parse([]byte(b.String()), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := many.Validate(); err == nil || !strings.Contains(err.Error(), "101 entries") {
		t.Fatalf("101: %v", err)
	}
	for _, v := range []string{"0.0.0.0/0", "0.0.0.0/1", "64.0.0.0/7"} {
		fw, err := Parse([]byte("firewall:\n  allow:\n    - app: a\n    - ip: "+v+"\n"), "p.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if err := fw.Validate(); err == nil || !strings.HasPrefix(err.Error(), "p.yaml:4: ip ") {
			t.Fatalf("%s: %v", v, err)
		}
	}
	ok, _ := Parse([]byte("firewall:\n  allow:\n    - ip: 10.0.0.0/8\n"), "p.yaml")
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestExposure(t *testing.T) {
	for v, want := range map[string]IPExposure{
		"0.0.0.0/0":       IPEveryone,
		"128.0.0.0/1":     IPEveryone,
		"8.0.0.0/7":       IPEveryone,
		"8.0.0.0/8":       IPPublic,
		"203.0.113.7":     IPPublic,
		"146.190.20.41":   IPPublic,
		"172.32.0.1":      IPPublic,   // just outside 172.16/12
		"10.0.0.0/7":      IPEveryone, // wider than /8 (and spills over 11/8)
		"10.0.0.0/8 ":     IPInvalid,
		"100.63.255.255":  IPPublic,
		"100.64.0.1":      IPPrivate, // CGNAT
		"100.127.255.255": IPPrivate,
		"10.1.2.3":        IPPrivate,
		"10.0.0.0/8":      IPPrivate,
		"172.16.0.0/12":   IPPrivate,
		"172.31.9.9":      IPPrivate,
		"192.168.0.0/16":  IPPrivate,
		"127.0.0.1":       IPPrivate,
		"169.254.1.1":     IPPrivate,
		"2001:db8::1":     IPInvalid,
		"nonsense":        IPInvalid,
	} {
		if got := Exposure(v); got != want {
			t.Errorf("%s: %d, want %d", v, got, want)
		}
	}
}
