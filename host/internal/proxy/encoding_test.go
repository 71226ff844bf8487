package proxy

import (
	"strings"
	"testing"
)

// TestNegotiate: the rewritten body is compressed in a coding the
// visitor's Accept-Encoding accepts: one it names at a weight above 0,
// or one it does not name that "*" accepts.
func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		accept, origin, want string
	}{
		{"gzip, deflate, br, zstd", "br", "br"},
		{"gzip, deflate, br, zstd", "gzip", "gzip"},
		{"gzip, deflate", "br", "gzip"},
		{"gzip, br", "", ""},
		{"", "gzip", ""},
		{"identity", "gzip", ""},
		{"gzip;q=0, br", "gzip", ""},
		{"gzip;q=0.5, br;q=0", "br", "gzip"},
		{"*", "gzip", "gzip"},
		{"*;q=0", "gzip", ""},
		{"x-gzip", "gzip", ""},
		{"GZIP ; Q=1", "gzip", "gzip"},
		// The weight is the "q" parameter, in any case; a coding named
		// beats "*"; a weight that does not read refuses.
		{"gzip;Q=0", "gzip", ""},
		{"gzip; q=0.000", "gzip", ""},
		{"gzip;xq=1;q=0", "gzip", ""},
		{"*, gzip;q=0", "gzip", ""},
		{"*;q=0, gzip", "gzip", "gzip"},
		{"br;q=0, *", "br", "gzip"},
		{"gzip;q=zero", "gzip", ""},
		{"gzip;q=NaN", "gzip", ""},
	} {
		if got := negotiate(c.accept, c.origin); got != c.want {
			t.Errorf("negotiate(%q, %q) = %q, want %q", c.accept, c.origin, got, c.want)
		}
	}
}

// FuzzNegotiate: whatever the visitor's Accept-Encoding, the coding
// chosen is one it does not refuse: no entry of that coding, or, without
// one, of "*", has a weight of 0.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br", "*, gzip;q=0", "gzip;Q=0", "br;q=0, *", "gzip;xq=1;q=0"} {
		f.Add(s, "br")
		f.Add(s, "gzip")
	}
	f.Fuzz(func(t *testing.T, accept, origin string) {
		got := negotiate(accept, origin)
		if got == "" {
			return
		}
		refused := func(coding string) (named, zero bool) {
			for _, part := range strings.Split(accept, ",") {
				fields := strings.Split(part, ";")
				if !strings.EqualFold(strings.TrimSpace(fields[0]), coding) {
					continue
				}
				for _, p := range fields[1:] {
					p = strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(p, " ", ""), "\t", ""))
					if strings.HasPrefix(p, "q=0") && strings.Trim(p[3:], ".0") == "" {
						return true, true
					}
				}
				return true, false
			}
			return false, false
		}
		named, zero := refused(got)
		if !named {
			_, zero = refused("*")
		}
		if zero {
			t.Fatalf("negotiate(%q, %q) = %q, which it refuses", accept, origin, got)
		}
	})
}
