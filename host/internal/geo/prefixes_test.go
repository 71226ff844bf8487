package geo

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		in      string
		want    string // prefixes joined by spaces
		wantErr string // substring of the error
	}{
		{in: "", want: ""},
		{in: " , ", want: ""},
		{in: "none", want: ""},
		{in: "NONE", want: ""},
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},
		{in: "192.168.1.5", want: "192.168.1.5/32"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "::ffff:10.0.0.1", want: "10.0.0.1/32"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "loopback", want: "127.0.0.0/8 ::1/128"},
		{in: "private", want: "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7"},
		{in: "linklocal", want: "169.254.0.0/16 fe80::/10"},
		{in: "any", want: "0.0.0.0/0 ::/0"},
		{in: " Loopback , PRIVATE ", want: "127.0.0.0/8 ::1/128 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7"},
		{in: DefaultTrusted, want: "127.0.0.0/8 ::1/128 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7"},
		{in: "10.0.0.0/8,10.0.0.0/8,10.9.9.9/8", want: "10.0.0.0/8"},
		{in: "10.0.0.0/8,,192.168.1.5", want: "10.0.0.0/8 192.168.1.5/32"},
		{in: "privat", wantErr: `did you mean "private"?`},
		{in: "loopbak", wantErr: `did you mean "loopback"?`},
		{in: "cloudflare", wantErr: "known: loopback, private, linklocal, any, none"},
		{in: "10.0.0.0/33", wantErr: `trusted proxy "10.0.0.0/33": prefix length out of range`},
		{in: "10.0.0", wantErr: `trusted proxy "10.0.0"`},
		{in: "fe80::1%eth0", wantErr: "zone"},
		{in: "fe80::1%eth0/64", wantErr: `trusted proxy "fe80::1%eth0/64"`},
		{in: "none,10.0.0.0/8", wantErr: `"none" cannot be combined`},
	}
	for _, tt := range tests {
		got, err := ParsePrefixes(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePrefixes(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePrefixes(%q): %v", tt.in, err)
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if strings.Join(s, " ") != tt.want {
			t.Errorf("ParsePrefixes(%q) = %v, want %s", tt.in, s, tt.want)
		}
		if tt.want == "" && got != nil {
			t.Errorf("ParsePrefixes(%q) = %#v, want nil", tt.in, got)
		}
	}
}

// TestPrivateMatchesNetip pins "private" to the standard library's notion,
// so the set and its documentation cannot drift apart.
func TestPrivateMatchesNetip(t *testing.T) {
	ps, err := ParsePrefixes("private")
	if err != nil {
		t.Fatal(err)
	}
	set := newTrustSet(ps)
	for _, s := range []string{
		"10.0.0.0", "10.255.255.255", "9.255.255.255", "11.0.0.0",
		"172.16.0.0", "172.31.255.255", "172.15.255.255", "172.32.0.0",
		"192.168.0.0", "192.168.255.255", "192.167.255.255", "192.169.0.0",
		"fc00::", "fdff:ffff::1", "fbff::1", "fe00::1",
		"100.64.0.1", "169.254.1.1", "fe80::1", "127.0.0.1", "::1", "8.8.8.8",
	} {
		a := netip.MustParseAddr(s)
		if got := set.contains(a); got != a.IsPrivate() {
			t.Errorf("private contains %s = %v, netip IsPrivate = %v", s, got, a.IsPrivate())
		}
	}
}

func TestTrustSet(t *testing.T) {
	set := newTrustSet([]netip.Prefix{
		netip.MustParsePrefix("10.1.2.3/8"),             // host bits cleared
		netip.MustParsePrefix("::ffff:192.168.0.0/112"), // mapped form
		{}, // invalid: ignored
		netip.MustParsePrefix("2001:db8::/32"),
	})
	for s, want := range map[string]bool{
		"10.200.0.1":      true,
		"11.0.0.1":        false,
		"192.168.4.4":     true,
		"192.169.0.1":     false,
		"2001:db8:5::1":   true,
		"2001:db9::1":     false,
		"::ffff:10.0.0.1": false, // callers unmap first
	} {
		if got := set.contains(netip.MustParseAddr(s)); got != want {
			t.Errorf("contains(%s) = %v, want %v", s, got, want)
		}
	}
	if !slices.Contains(set.prefixes, netip.MustParsePrefix("192.168.0.0/16")) {
		t.Errorf("mapped prefix not normalised: %v", set.prefixes)
	}
	var empty trustSet
	if empty.contains(netip.MustParseAddr("127.0.0.1")) {
		t.Error("empty set trusts loopback")
	}
}
