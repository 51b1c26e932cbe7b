package policy

import (
	"net/netip"
	"strings"
)

// Ranges that are not reachable from the internet: an IP rule inside one of
// them does not open the database to the public.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network"
	netip.MustParsePrefix("10.0.0.0/8"),         // private (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),      // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("127.0.0.0/8"),        // loopback
	netip.MustParsePrefix("169.254.0.0/16"),     // link-local
	netip.MustParsePrefix("172.16.0.0/12"),      // private
	netip.MustParsePrefix("192.168.0.0/16"),     // private
	netip.MustParsePrefix("224.0.0.0/4"),        // multicast
	netip.MustParsePrefix("240.0.0.0/4"),        // reserved
	netip.MustParsePrefix("255.255.255.255/32"), // broadcast
}

// prefixOf reads an ip rule value: an address (a /32) or a CIDR range.
func prefixOf(v string) (netip.Prefix, bool) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil || !p.Addr().Is4() {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	if !a.Is4() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, 32), true
}

// IPExposure says what an ip rule value admits.
type IPExposure int

// Exposures, from safest.
const (
	IPPrivate  IPExposure = iota // only private, loopback, CGNAT or similar addresses
	IPPublic                     // some addresses on the internet
	IPEveryone                   // every address (0.0.0.0/0) or nearly (wider than /8)
	IPInvalid                    // not an IPv4 address or range
)

// Exposure classifies an ip rule value. A range is private only when it lies
// wholly inside one non-public range.
func Exposure(v string) IPExposure {
	p, ok := prefixOf(v)
	if !ok {
		return IPInvalid
	}
	for _, np := range nonPublic {
		if np.Bits() <= p.Bits() && np.Contains(p.Addr()) {
			return IPPrivate
		}
	}
	if p.Bits() < MinPrefixBits {
		return IPEveryone
	}
	return IPPublic
}
