package geo

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// DefaultTrusted is the trusted-proxy setting a deployment starts from, in
// ParsePrefixes syntax: the loopback and private ranges, where a load
// balancer or sidecar in the same network sits. Public addresses are left
// out on purpose: a proxy reachable from the internet must not believe
// X-Forwarded-For, Forwarded or CDN geo headers, which any visitor can send.
// Behind a CDN, add the CDN's published address ranges.
const DefaultTrusted = "loopback,private"

// namedSets are the names ParsePrefixes accepts besides addresses and
// prefixes. "private" is exactly what netip.Addr.IsPrivate reports (RFC 1918
// and IPv6 unique local addresses); link-local addresses are a separate set
// because a visitor on the same link as the proxy is rarely another proxy.
var namedSets = []struct {
	name     string
	prefixes []netip.Prefix
}{
	{"loopback", mustPrefixes("127.0.0.0/8", "::1/128")},
	{"private", mustPrefixes("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")},
	{"linklocal", mustPrefixes("169.254.0.0/16", "fe80::/10")},
	{"any", mustPrefixes("0.0.0.0/0", "::/0")},
}

func mustPrefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// ParsePrefixes parses a comma-separated list of trusted proxies: IP
// addresses ("192.168.1.5", "::1"), CIDR prefixes ("10.0.0.0/8",
// "2001:db8::/32") and the named sets loopback (127.0.0.0/8, ::1), private
// (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7), linklocal
// (169.254.0.0/16, fe80::/10) and any (every address: only for a proxy that
// no visitor can reach directly). "none", alone, or an empty string trusts
// nothing and returns a nil slice. IPv4-mapped IPv6 forms are stored as
// IPv4, host bits are cleared, and duplicates are dropped.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	none := false
	items := 0
	for item := range strings.SplitSeq(s, ",") {
		item = trimOWS(item)
		if item == "" {
			continue
		}
		items++
		if strings.EqualFold(item, "none") {
			none = true
			continue
		}
		ps, err := parsePrefixItem(item)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	if none && items > 1 {
		return nil, fmt.Errorf("trusted proxies %q: \"none\" cannot be combined with other entries", s)
	}
	return out, nil
}

func parsePrefixItem(item string) ([]netip.Prefix, error) {
	for _, set := range namedSets {
		if strings.EqualFold(item, set.name) {
			return set.prefixes, nil
		}
	}
	if strings.Contains(item, "/") {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %s", item, parseReason(err))
		}
		return []netip.Prefix{normPrefix(p)}, nil
	}
	a, err := netip.ParseAddr(item)
	if err != nil {
		if looksLikeName(item) {
			names := make([]string, 0, len(namedSets)+1)
			for _, set := range namedSets {
				names = append(names, set.name)
			}
			names = append(names, "none")
			return nil, fmt.Errorf("trusted proxy %q is not an address, a CIDR prefix or a known set%s (known: %s)",
				item, suggest(item, names), strings.Join(names, ", "))
		}
		return nil, fmt.Errorf("trusted proxy %q: %s", item, parseReason(err))
	}
	if a.Zone() != "" {
		return nil, fmt.Errorf("trusted proxy %q: an address with a zone cannot be matched; drop %%%s", item, a.Zone())
	}
	a = a.Unmap()
	return []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}, nil
}

// parseReason returns netip's explanation without the call it prefixes
// ("ParseAddr(\"x\"): "), which would repeat the item already quoted.
func parseReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "): "); i >= 0 {
		return msg[i+3:]
	}
	return msg
}

// normPrefix clears host bits and turns an IPv4-mapped IPv6 prefix into the
// IPv4 prefix it stands for, since addresses are unmapped before matching.
func normPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// looksLikeName reports whether s is a word rather than a mistyped address,
// to choose between "did you mean" and the parser's own error.
func looksLikeName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// trustSet answers "is this peer one of ours?". Addresses are matched after
// Unmap and without zone, so ::ffff:10.0.0.1 is 10.0.0.1.
type trustSet struct {
	prefixes []netip.Prefix
}

func newTrustSet(ps []netip.Prefix) trustSet {
	var t trustSet
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		p = normPrefix(p)
		if !slices.Contains(t.prefixes, p) {
			t.prefixes = append(t.prefixes, p)
		}
	}
	return t
}

func (t *trustSet) contains(a netip.Addr) bool {
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
