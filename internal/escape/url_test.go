package escape

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/internal/escape/escapetest"
)

func TestOriginOf(t *testing.T) {
	tests := []struct {
		in   string
		want Origin
	}{
		{"/buy", Origin{}},
		{"buy?x=1", Origin{}},
		{"#top", Origin{}},
		{"https://shop.example/x", Origin{"https", "shop.example", true}},
		{"HTTPS://Shop.Example:8443/x", Origin{"https", "shop.example:8443", true}},
		{"https:evil.example", Origin{"https", "evil.example", true}},
		{`https:\\evil.example\x`, Origin{"https", "evil.example", true}},
		{"https:///evil.example", Origin{"https", "evil.example", true}},
		{"//evil.example/x", Origin{"", "evil.example", true}},
		{`/\evil.example`, Origin{"", "evil.example", true}},
		{`\\evil.example`, Origin{"", "evil.example", true}},
		{`\/evil.example`, Origin{"", "evil.example", true}},
		{" \x01//evil.example", Origin{"", "evil.example", true}},
		{"/\t/evil.example", Origin{"", "evil.example", true}},
		{"javascript:alert(1)", Origin{Scheme: "javascript"}},
		{"JaVaScRiPt:alert(1)", Origin{Scheme: "javascript"}},
		{"java\tscript:alert(1)", Origin{Scheme: "javascript"}},
		{"java\nscript:alert(1)", Origin{Scheme: "javascript"}},
		{"\x01javascript:alert(1)", Origin{Scheme: "javascript"}},
		{" javascript:alert(1) ", Origin{Scheme: "javascript"}},
		{"%6Aavascript:alert(1)", Origin{}},
		{"&#106;avascript:alert(1)", Origin{}},
		{"javascript&colon;alert(1)", Origin{}},
		{"\u200bjavascript:alert(1)", Origin{}},
		{"mailto:a@b.example", Origin{Scheme: "mailto"}},
		{"foo://host/x", Origin{"foo", "host", true}},
		{"data:text/html,x", Origin{Scheme: "data"}},
		{"1http://evil.example", Origin{}},
	}
	for _, tt := range tests {
		if got := OriginOf(tt.in); got != tt.want {
			t.Errorf("OriginOf(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		in, scheme string
		fixed      bool
	}{
		{"", "", false},
		{"  ", "", false},
		{"/", "", true},
		{"/stores/", "", true},
		{"stores/", "", true},
		{"./", "", true},
		{"?q=", "", true},
		{"#", "", true},
		{"https://shop.example/", "https", true},
		{"https://shop.example?q=", "https", true},
		{"https://shop.example#", "https", true},
		{"https://shop.example", "https", false},
		{"https://shop.example:", "https", false},
		{"https://", "https", false},
		{"https:", "https", false},
		{"https:/\\shop.example/", "https", true},
		{"//cdn.example/", "", true},
		{"//cdn.example", "", false},
		{`/\`, "", false},
		{`\\`, "", false},
		{`/\evil.example/`, "", true},
		{"java", "", false},
		{"java\tscript", "", false},
		{"j", "", false},
		{"a b", "", true},
		{"mailto:", "mailto", true},
		{"tel:+33", "tel", true},
		{"javascript:", "javascript", true},
		{"foo://", "foo", false},
		{"foo://h/", "foo", true},
	}
	for _, tt := range tests {
		scheme, why := Prefix(tt.in)
		if scheme != tt.scheme || (why == "") != tt.fixed {
			t.Errorf("Prefix(%q) = %q, %q; want scheme %q, fixed %v", tt.in, scheme, why, tt.scheme, tt.fixed)
		}
	}
}

// TestAppendValueHostile escapes every hostile value in every part of a
// URL and checks it stayed a value of that part: the URL's origin is
// the one its literal text decides, and the value's bytes hold no
// delimiter of the part, no whitespace or control character, no quote
// or markup, and nothing outside ASCII.
func TestAppendValueHostile(t *testing.T) {
	prefixes := []struct {
		kind   Kind
		prefix string
		bad    string // bytes the escaped value must not hold
	}{
		{URL, "/stores/", "/\\?#"},
		{URL, "https://shop.example/p/", "/\\?#"},
		{URL, "/search?q=", "&=#+;"},
		{URL, "/search?q=1&lang=", "&=#+;"},
		{URL, "/page#section-", "&=#+;"},
		{URL, "mailto:", "?#/"},
		{URLs, "/ping/", "/\\?#,"},
		{SrcSet, "/img/", "/\\?#,"},
		{SrcSet, "/a.png 1x, /img/", "/\\?#,"},
	}
	for _, p := range prefixes {
		want := OriginOf(p.prefix + "x")
		for _, v := range escapetest.Values {
			if v == "" {
				continue
			}
			b, ok := AppendValue(nil, p.kind, p.prefix, v)
			if !ok {
				t.Errorf("%q after %q: refused", v, p.prefix)
				continue
			}
			got := string(b)
			if strings.ContainsAny(got, p.bad+" \t\n\r\f\x00\"'<>`") {
				t.Errorf("%q after %q: escaped to %q, which holds a delimiter", v, p.prefix, got)
			}
			for i := 0; i < len(got); i++ {
				if got[i] >= 0x80 || got[i] < 0x21 {
					t.Errorf("%q after %q: escaped to %q, with byte %#x", v, p.prefix, got, got[i])
				}
			}
			for _, u := range urlsOf(p.kind, p.prefix+got) {
				if o := OriginOf(u); o != want && o != (Origin{}) {
					t.Errorf("%q after %q: the URL %q has origin %+v, want %+v", v, p.prefix, u, o, want)
				}
			}
			if p.kind == URL {
				if o := OriginOf(p.prefix + got); o != want {
					t.Errorf("%q after %q: origin %+v, want %+v", v, p.prefix, o, want)
				}
			}
		}
	}
}

func TestAppendValueParts(t *testing.T) {
	tests := []struct {
		kind       Kind
		prefix, v  string
		want       string
		refused    bool
		wantLocate Where
	}{
		{URL, "/p/", "a/b?c#d", "a%2Fb%3Fc%23d", false, InURL},
		{URL, "/p/", "a&b=c+d;e", "a&b=c+d;e", false, InURL},
		{URL, "/p/", "it's (x)", "it%27s%20%28x%29", false, InURL},
		{URL, "/p?q=", "a&b=c+d;e", "a%26b%3Dc%2Bd%3Be", false, InURL},
		{URL, "/p?q=", "a/b?c", "a/b?c", false, InURL},
		{URL, "/p#", "a&b=c#d", "a%26b%3Dc%23d", false, InURL},
		{URL, "/p/", "Saint-Étienne", "Saint-%C3%89tienne", false, InURL},
		{URL, "", "x", "", true, AtStart},
		{URL, " ", "x", "", true, AtStart},
		{URL, "java", "script:x", "", true, Undecided},
		{URL, "https://shop.example", "x", "", true, Undecided},
		{SrcSet, "/a.png ", "2x", "2x", false, InDescriptor},
		{SrcSet, "/a.png ", "2x, evil", "", true, InDescriptor},
		{SrcSet, "/a.png 1x, ", "x", "", true, AtStart},
		{SrcSet, "/img/", "a,b c", "a%2Cb%20c", false, InURL},
		{URLs, "/a ", "x", "", true, AtStart},
		{URLs, "/a /b/", "x y", "x%20y", false, InURL},
		{URL, Mark + "/", "x", "x", false, InURL},
	}
	for _, tt := range tests {
		if got := Locate(tt.kind, tt.prefix); got != tt.wantLocate {
			t.Errorf("Locate(%v, %q) = %v, want %v", tt.kind, tt.prefix, got, tt.wantLocate)
		}
		b, ok := AppendValue(nil, tt.kind, tt.prefix, tt.v)
		if ok == tt.refused || string(b) != tt.want {
			t.Errorf("AppendValue(%v, %q, %q) = %q, %v; want %q, refused %v", tt.kind, tt.prefix, tt.v, b, ok, tt.want, tt.refused)
		}
	}
}

// TestAppendWholeURLHostile: under schemes [https, relative], no hostile
// value passes but plain https URLs and paths.
func TestAppendWholeURLHostile(t *testing.T) {
	schemes := []string{"https", "relative"}
	for _, v := range escapetest.Values {
		b, ok := AppendWholeURL(nil, URL, v, schemes)
		if !ok {
			continue
		}
		got := string(b)
		o := OriginOf(got)
		switch {
		case o.Scheme == "" && o.HasAuthority, o.Scheme != "" && o.Scheme != "https":
			t.Errorf("%q passed as %q, origin %+v", v, got, o)
		case strings.ContainsAny(got, " \t\n\r\x00\"'<>`\\") || !utf8.ValidString(got):
			t.Errorf("%q passed as %q", v, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] >= 0x80 {
				t.Errorf("%q passed as %q, with byte %#x", v, got, got[i])
			}
		}
	}
	tests := []struct {
		v, want string
		ok      bool
	}{
		{"/buy", "/buy", true},
		{"https://shop.example/x?a=1&b=2", "https://shop.example/x?a=1&b=2", true},
		{"HTTPS://evil.example/", "HTTPS://evil.example/", true},
		{"https:evil.example", "https:evil.example", true},
		{"/é", "/%C3%A9", true},
		// A % that starts no %XX is encoded; one that does stays.
		{"!@#$%^&*()`~", "!@#$%25%5E&*()%60~", true},
		{"/50%", "/50%25", true},
		{"/a%2Fb%e9%4", "/a%2Fb%e9%254", true},
		{"", "", false},
		{"//evil.example", "", false},
		{`/\evil.example`, "", false},
		{"http://shop.example/", "", false},
		{"javascript:alert(1)", "", false},
		{"java\tscript:alert(1)", "", false},
		{" /buy", "", false},
		{"/buy\n", "", false},
		{"mailto:a@b.example", "", false},
	}
	for _, tt := range tests {
		b, ok := AppendWholeURL(nil, URL, tt.v, schemes)
		if ok != tt.ok || string(b) != tt.want {
			t.Errorf("AppendWholeURL(%q) = %q, %v; want %q, %v", tt.v, b, ok, tt.want, tt.ok)
		}
	}
	if b, ok := AppendWholeURL(nil, SrcSet, "/a,b.png", schemes); !ok || string(b) != "/a%2Cb.png" {
		t.Errorf("srcset: %q, %v", b, ok)
	}
}

func TestSameOrigins(t *testing.T) {
	tests := []struct {
		kind           Kind
		text, skeleton string
		schemes        []string
		want           bool
	}{
		{URL, "/p/shoes", "/p/x", nil, true},
		{URL, "//b", "/x/b", nil, false}, // an empty value made a host
		{URL, "https://shop.example/a", "https://shop.example/x", nil, true},
		{URL, "javascript:a", "javascript:x", nil, false},
		{URL, "javascript:void(0)", "javascript:void(0)", nil, true},
		{URL, "https://evil.example/", Mark, []string{"https"}, true},
		{URL, "http://evil.example/", Mark, []string{"https"}, false},
		{URL, "/x", Mark, []string{"https"}, false},
		{URL, "/x", Mark, []string{"relative"}, true},
		{SrcSet, "/a.png 1x, /b/c.png 2x", "/a.png 1x, /b/x.png 2x", nil, true},
		{SrcSet, "/a.png 1x, //b.png 2x", "/a.png 1x, /x/b.png 2x", nil, false},
		{SrcSet, "/a.png 1x, /b.png", "/a.png 1x", nil, false},
		{URLs, "/a /b", "/a /x", nil, true},
		{URLs, "/a //b", "/a /x/b", nil, false},
		// A value "." or ".." is a segment browsers resolve: the URL
		// climbs out of the path the rule wrote.
		{URL, "/account/../edit", "/account/x/edit", nil, false},
		{URL, "/p/.", "/p/x", nil, false},
		{URL, "/p/%2E%2e?q=1", "/p/x?q=1", nil, false},
		{URL, `/p\..`, `/p\x`, nil, false},
		{URL, "https://shop.example/p/..", "https://shop.example/p/x", nil, false},
		{URL, "/p/.x", "/p/xx", nil, true},
		{URL, "/p/...", "/p/x", nil, true},
		{URL, "/p/x?q=..", "/p/x?q=x", nil, true},
		{URL, "/p/x#..", "/p/x#x", nil, true},
		{URL, "/a/../p/x", "/a/../p/x", nil, true}, // the rule author's own
		{URL, "../x", Mark, []string{"relative"}, true},
		{SrcSet, "/a.png 1x, /b/../c.png 2x", "/a.png 1x, /b/x/c.png 2x", nil, false},
	}
	for _, tt := range tests {
		if got := SameOrigins(tt.kind, tt.text, tt.skeleton, tt.schemes); got != tt.want {
			t.Errorf("SameOrigins(%v, %q, %q, %v) = %v", tt.kind, tt.text, tt.skeleton, tt.schemes, got)
		}
	}
}

// TestListURLs: a list of URLs (ping) splits at HTML's ASCII whitespace,
// as browsers split it, and nowhere else.
func TestListURLs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"/a /b", []string{"/a", "/b"}},
		{" /a\t/b\n/c\f/d\r/e ", []string{"/a", "/b", "/c", "/d", "/e"}},
		{"0\vA:", []string{"0\vA:"}},
		{"/a\u00a0b /c\u2003d", []string{"/a\u00a0b", "/c\u2003d"}},
		{"\x85/a", []string{"\x85/a"}},
		{"", nil},
	}
	for _, tt := range tests {
		got := urlsOf(URLs, tt.in)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("urlsOf(URLs, %q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSrcsetURLs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a.png", []string{"a.png"}},
		{"a.png 1x, b.png 2x", []string{"a.png", "b.png"}},
		{" ,, a.png,b.png 2x", []string{"a.png,b.png"}},
		{" ,, a.png, b.png 2x", []string{"a.png", "b.png"}},
		{"a,b.png 1x", []string{"a,b.png"}},
		{"a.png (x, y) 1x, b.png", []string{"a.png", "b.png"}},
		{"data:image/png;base64,AAA 1x", []string{"data:image/png;base64,AAA"}},
	}
	for _, tt := range tests {
		got := urlsOf(SrcSet, tt.in)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("srcset %q: %q, want %q", tt.in, got, tt.want)
		}
	}
}
