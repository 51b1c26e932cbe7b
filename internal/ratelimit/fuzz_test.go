package ratelimit

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientKey checks the client-to-key derivation on any input: v7 keeps
// the client byte for byte; v8 keeps anything that is not an IP address
// byte for byte, is idempotent (a derived key derives to itself, so `get`
// and `reset` accept keys as well as addresses), and turns IPv6 into a
// masked prefix of the limiter's width that contains the address.
func FuzzClientKey(f *testing.F) {
	for _, s := range []string{
		"203.0.113.7", "2001:db8:abcd:12ff::1", "2001:DB8:ABCD:1234:5678::9", "::1", "::ffff:192.0.2.10",
		"::ffff:c000:20b", "::203.0.113.7", "198.51.100.77:4321", "fe80::1%eth0", "2001:db8::/56", "*", "\xff\x00",
	} {
		f.Add(s, uint8(56))
	}
	f.Fuzz(func(t *testing.T, client string, bits uint8) {
		l := DefaultLimiter()
		l.IPv6Subnet = 32 + int(bits)%33
		v7 := l
		v7.ERLVersion = 7
		if got := KeyFor(v7, client); got != l.Prefix+client {
			t.Fatalf("v7 changed %q into %q", client, got)
		}
		key := ClientKey(l, client)
		if again := ClientKey(l, key); again != key {
			t.Fatalf("not idempotent: %q -> %q -> %q", client, key, again)
		}
		addr, err := netip.ParseAddr(client)
		if err != nil {
			if key != client {
				t.Fatalf("non-address %q changed into %q", client, key)
			}
			return
		}
		if addr.Is4() || addr.Is4In6() || (strings.Contains(client, ".") && isIPv4Compatible(addr)) {
			if a, err := netip.ParseAddr(key); err != nil || !a.Is4() {
				t.Fatalf("IPv4 client %q gave %q", client, key)
			}
			return
		}
		p, err := netip.ParsePrefix(key)
		if err != nil || p.Bits() != l.IPv6Subnet || p != p.Masked() || !p.Contains(addr.WithZone("")) {
			t.Fatalf("IPv6 client %q at /%d gave %q (%v)", client, l.IPv6Subnet, key, err)
		}
	})
}
