package ratelimit

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/testutil/repo"
)

type fixtureFile struct {
	Runs []struct {
		Versions map[string]string `json:"versions"`
		Keys     []struct {
			Key        string `json:"key"`
			Value      string `json:"value"`
			PTTL       int64  `json:"pttl"`
			ProducedBy []struct {
				Client        string  `json:"client"`
				XForwardedFor *string `json:"xForwardedFor"`
				ConnectFrom   *string `json:"connectFrom"`
				ReqIP         *string `json:"reqIp"`
			} `json:"producedBy"`
		} `json:"keys"`
	} `json:"runs"`
	History map[string]json.RawMessage `json:"keyFormatHistory8x"`
}

func loadFixture(t *testing.T) fixtureFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo.Fixtures(t, "rate-limit-redis"), "keys.json"))
	if err != nil {
		t.Fatalf("read keys.json: %v", err)
	}
	var f fixtureFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("parse keys.json: %v", err)
	}
	return f
}

// TestKeyForFixtures checks KeyFor against every key the real libraries
// wrote, in both captured runs (erl 8.7.5 + rlr 6.0.1, erl 7.5.1 + rlr 4.3.1).
func TestKeyForFixtures(t *testing.T) {
	f := loadFixture(t)
	if len(f.Runs) != 2 {
		t.Fatalf("keys.json has %d runs, want 2", len(f.Runs))
	}
	checked := 0
	for _, run := range f.Runs {
		major, err := strconv.Atoi(strings.SplitN(run.Versions["express-rate-limit"], ".", 2)[0])
		if err != nil {
			t.Fatalf("bad erl version %q", run.Versions["express-rate-limit"])
		}
		for _, k := range run.Keys {
			// The store prefix is everything up to the first ':' (rl:, rl-std:, rl-reset:).
			i := strings.IndexByte(k.Key, ':')
			if i < 0 {
				t.Fatalf("key %q has no prefix", k.Key)
			}
			l := DefaultLimiter()
			l.Prefix, l.ERLVersion = k.Key[:i+1], major
			for _, p := range k.ProducedBy {
				// The client address is req.ip as Express computed it; for the
				// entries that did not record it, the leftmost X-Forwarded-For.
				var addr string
				switch {
				case p.ReqIP != nil:
					addr = *p.ReqIP
				case p.XForwardedFor != nil:
					addr = strings.TrimSpace(strings.Split(*p.XForwardedFor, ",")[0])
				default:
					t.Fatalf("%s: no client address", k.Key)
				}
				if got := KeyFor(l, addr); got != k.Key {
					t.Errorf("erl %d: KeyFor(%q) = %q, want %q (%s)", major, addr, got, k.Key, p.Client)
				}
				checked++
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d fixture entries", checked)
	}
}

// TestKeyForHistory checks the current 8.x key format (8.6.2-8.7.5) on the
// inputs every 8.x release was probed with.
func TestKeyForHistory(t *testing.T) {
	f := loadFixture(t)
	var inputs, want []string
	if err := json.Unmarshal(f.History["probedInputs"], &inputs); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(f.History["8.6.2-8.7.5"], &want); err != nil {
		t.Fatal(err)
	}
	if len(inputs) != len(want) || len(inputs) == 0 {
		t.Fatalf("history: %d inputs, %d outputs", len(inputs), len(want))
	}
	for i, in := range inputs {
		if got := ClientKey(DefaultLimiter(), in); got != want[i] {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want[i])
		}
	}
}

func TestKeyFor(t *testing.T) {
	v8, v7 := DefaultLimiter(), DefaultLimiter()
	v7.ERLVersion = 7
	v8at48 := DefaultLimiter()
	v8at48.IPv6Subnet = 48
	tests := []struct {
		l      Limiter
		client string
		want   string
	}{
		{v8, "203.0.113.7", "rl:203.0.113.7"},
		{v8, "2001:db8:abcd:12ff::1", "rl:2001:db8:abcd:1200::/56"},
		{v8, "2001:DB8:ABCD:1234:5678::9", "rl:2001:db8:abcd:1200::/56"},
		{v8at48, "2001:db8:abcd:12ff::1", "rl:2001:db8:abcd::/48"},
		{v8, "::1", "rl:::/56"},
		{v8, "::", "rl:::/56"},
		{v8, "::ffff:192.0.2.10", "rl:192.0.2.10"},
		{v8, "::ffff:c000:20b", "rl:192.0.2.11"},
		{v8, "::FFFF:C000:20B", "rl:192.0.2.11"},
		{v8, "::203.0.113.7", "rl:203.0.113.7"},   // IPv4-compatible, dotted: unmapped (erl >= 8.6.2)
		{v8, "::cb00:7107", "rl:::/56"},           // the same address in hex is ordinary IPv6
		{v8, "::ffff:0:203.0.113.7", "rl:::/56"},  // not mapped, not compatible
		{v8, "fe80::1%eth0", "rl:fe80::/56"},      // zone dropped
		{v8, "::ffff:1.2.3.4%eth0", "rl:1.2.3.4"}, // mapped with a zone
		{v8, "2001:db8::/56", "rl:2001:db8::/56"}, // already a subnet key
		{v8, "198.51.100.77:4321", "rl:198.51.100.77:4321"},
		{v8, "[2001:db8::1]:80", "rl:[2001:db8::1]:80"},
		{v8, "user-42", "rl:user-42"},
		{v8, "*", "rl:*"},
		{v8, " 203.0.113.7", "rl: 203.0.113.7"}, // not an IP as written: kept
		{v8, "\xff\x00bin", "rl:\xff\x00bin"},
		{v8, "", "rl:"},
		{v7, "2001:DB8:ABCD:1234:5678::9", "rl:2001:DB8:ABCD:1234:5678::9"},
		{v7, "::ffff:192.0.2.10", "rl:::ffff:192.0.2.10"},
		{v7, "fe80::1%eth0", "rl:fe80::1%eth0"},
	}
	for _, tt := range tests {
		if got := KeyFor(tt.l, tt.client); got != tt.want {
			t.Errorf("v%d /%d KeyFor(%q) = %q, want %q", tt.l.ERLVersion, tt.l.IPv6Subnet, tt.client, got, tt.want)
		}
	}
}

func TestEscapeGlob(t *testing.T) {
	tests := map[string]string{
		"rl:":        "rl:",
		"rl*":        `rl\*`,
		"a?b[c]d\\e": `a\?b\[c\]d\\e`,
		"":           "",
		"\xff":       "\xff",
	}
	for in, want := range tests {
		if got := EscapeGlob(in); got != want {
			t.Errorf("EscapeGlob(%q) = %q, want %q", in, got, want)
		}
	}
	l := DefaultLimiter()
	l.Prefix = "rl[1]:"
	if got := l.Pattern(); got != `rl\[1\]:*` {
		t.Errorf("Pattern() = %q", got)
	}
}

func TestValidate(t *testing.T) {
	ok := DefaultLimiter()
	if err := ok.Validate(); err != nil {
		t.Fatalf("default limiter: %v", err)
	}
	bad := []func(*Limiter){
		func(l *Limiter) { l.Prefix = "" },
		func(l *Limiter) { l.Limit = 0 },
		func(l *Limiter) { l.Window = 0 },
		func(l *Limiter) { l.ERLVersion = 6 },
		func(l *Limiter) { l.IPv6Subnet = 65 },
	}
	for i, mutate := range bad {
		l := DefaultLimiter()
		mutate(&l)
		err := l.Validate()
		var ce *apperr.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("case %d: err = %v, want ConfigError", i, err)
		}
	}
	if got := (Limiter{Prefix: "x:"}).WithDefaults(); got.Limit != 150 || got.ERLVersion != 8 || got.IPv6Subnet != 56 || got.Name != "api" {
		t.Errorf("WithDefaults = %+v", got)
	}
}

func TestPrintable(t *testing.T) {
	tests := map[string]string{
		"203.0.113.7": "203.0.113.7",
		"héllo":       "héllo",
		"\xff":        `"\xff"`,
		"a\nb":        `"a\nb"`,
		`a"b`:         `"a\"b"`,
		"":            `""`,
	}
	for in, want := range tests {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %s, want %s", in, got, want)
		}
	}
}
