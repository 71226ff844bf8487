package reqctx_test

import (
	"encoding/base64"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestBase64Text: both alphabets of RFC 4648, padded or not, white space
// around ignored; anything else, and bytes that are not UTF-8, is no
// value.
func TestBase64Text(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"standard, padded", "Wm/Dqw==", "Zoë", true},
		{"standard, unpadded", "Wm/Dqw", "Zoë", true},
		{"URL-safe, unpadded (a JWT segment)", "Wm_Dqz8-", "Zoë?>", true},
		{"URL-safe, padded", "Wm_Dqw==", "Zoë", true},
		{"standard, + and /", "Wm/Dqz8+", "Zoë?>", true},
		{"one = of padding", "QUI=", "AB", true},
		{"no padding needed", "QUJD", "ABC", true},
		{"spaces around", " \tQUJD \r\n", "ABC", true},
		{"JSON", "eyJ0aWVyIjoiZ29sZCJ9", `{"tier":"gold"}`, true},
		{"empty", "", "", true},
		{"white space only", "  ", "", true},
		{"a NUL, which separates list items", "YQBi", "a\uFFFDb", true},

		{"the two alphabets mixed", "Wm/Dqz8-", "", false},
		{"a space inside", "QUJD REVG", "", false},
		{"a line break inside", "QUJD\nREVG", "", false},
		{"a CR inside", "QUJD\rREVG", "", false},
		{"a character outside the alphabet", "QUJD*", "", false},
		{"a whole JWT (dots)", "eyJhbGciOiJub25lIn0.eyJ0aWVyIjoiZ29sZCJ9.", "", false},
		{"percent-encoded padding", "QUI%3D", "", false},
		{"a length no encoding gives", "QUJDR", "", false},
		{"too short padding", "QQ=", "", false},
		{"padding on a full group", "QUJD=", "", false},
		{"three =", "Q===", "", false},
		{"padding alone", "==", "", false},
		{"= inside", "QQ=A", "", false},
		{"trailing bits not zero", "QR==", "", false},
		{"trailing bits not zero, unpadded", "QUJ", "", false},
		{"not UTF-8", "//4=", "", false},
		{"a lone surrogate's UTF-8", "7aCA", "", false},
		{"plain text", "theme=dark", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := reqctx.Base64Text(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Base64Text(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestBase64Values: base64(...) through the builder, as the proxy
// computes it: a text, a number when it reads as one, read by json() and
// semver(), and no value where the source has none or does not decode.
func TestBase64Values(t *testing.T) {
	header := &plugin.Slot{Attr: "header", Arg: "X-Userinfo"}
	decoded := &plugin.Slot{Attr: "base64", From: header}
	cookie := &plugin.Slot{Attr: "base64", From: &plugin.Slot{Attr: "cookie", Arg: "v"}}
	query := &plugin.Slot{Attr: "base64", From: &plugin.Slot{Attr: "query", Arg: "t"}}
	slots := []plugin.Slot{
		*decoded,
		{Attr: "json", Arg: "tier", From: decoded},
		{Attr: "json", Arg: "n", From: decoded},
		{Attr: "semver", From: cookie},
		*query,
	}
	b := reqctx.NewBuilder(reqctx.Config{}, slots)
	tests := []struct {
		name, userinfo, cookie, url string
		want                        []string // per slot; "-" is no value
		number                      float64  // of json "n"
	}{
		{"JSON in base64", "eyJ0aWVyIjoiZ29sZCIsIm4iOjd9", "", "/", []string{`{"tier":"gold","n":7}`, "gold", "7", "-", "-"}, 7},
		{"URL-safe, unpadded, with spaces around", " eyJ0aWVyIjoic2lsdmVyIn0 ", "", "/", []string{`{"tier":"silver"}`, "silver", "-", "-", "-"}, 0},
		{"not base64", `{"tier":"gold"}`, "", "/", []string{"-", "-", "-", "-", "-"}, 0},
		// A cookie's percent-encoding comes off first (%3D is =).
		{"a version in a cookie", "", "v=My4xMA%3D%3D", "/", []string{"-", "-", "-", "3.10", "-"}, 0},
		{"a query parameter, URL-safe", "", "", "/?t=Wm_Dqw", []string{"-", "-", "-", "-", "Zoë"}, 0},
		// A query's "+" reads as a space, which base64(...) reads as
		// the "+" it was: trimmed, it left "Zoë?".
		{"a query parameter with +", "", "", "/?t=Wm/Dqz8+", []string{"-", "-", "-", "-", "Zoë?>"}, 0},
		{"a query parameter with + inside", "", "", "/?t=YT4+Yg", []string{"-", "-", "-", "-", "a>>b"}, 0},
		{"a query parameter with %2B", "", "", "/?t=Wm/Dqz8%2B", []string{"-", "-", "-", "-", "Zoë?>"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.url, nil)
			if tt.userinfo != "" {
				r.Header.Set("X-Userinfo", tt.userinfo)
			}
			if tt.cookie != "" {
				r.Header.Set("Cookie", tt.cookie)
			}
			vals := b.Build(r, reqctx.Visitor{}, nil)
			for i, want := range tt.want {
				got := vals[i]
				if want == "-" {
					if got.Present {
						t.Errorf("%s = %q, want no value", slots[i], got.Str)
					}
					continue
				}
				if !got.Present || got.Str != want {
					t.Errorf("%s = %q (present %v), want %q", slots[i], got.Str, got.Present, want)
				}
			}
			if tt.number != 0 && (!vals[2].Number || vals[2].Num != tt.number) {
				t.Errorf("%s = %+v, want the number %v", slots[2], vals[2], tt.number)
			}
		})
	}
}

// TestBase64Number: a decoded text that reads as a number is one, as a
// cookie's is.
func TestBase64Number(t *testing.T) {
	b := reqctx.NewBuilder(reqctx.Config{}, []plugin.Slot{{Attr: "base64", From: &plugin.Slot{Attr: "header", Arg: "X-N"}}})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-N", "NDI=") // "42"
	v := b.Build(r, reqctx.Visitor{}, nil)[0]
	if v.Str != "42" || !v.Number || v.Num != 42 {
		t.Errorf("base64 of \"42\" = %+v, want the text 42, a number", v)
	}
}

// TestBase64CostLinear: decoding a value costs a few times its size,
// whatever it holds: far more than the 64 KiB of headers the proxy
// reads, valid or failing at its last byte, allocates at most the
// decoded bytes and their string.
func TestBase64CostLinear(t *testing.T) {
	const n = 4 << 20
	valid := strings.Repeat("QUJD", n/4)
	for _, in := range []string{valid, valid[:n-1] + "*", valid[:n-1] + "=", " " + valid + " "} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		reqctx.Base64Text(in)
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 2*n {
			t.Errorf("decoding %d bytes allocated %d", len(in), got)
		}
	}
}

// FuzzBase64Text: any value decodes or is no value, never a panic; what
// decodes is UTF-8 without a NUL and is what the value encodes in its
// alphabet, canonically; and any UTF-8 text decodes back from each of
// its four encodings.
func FuzzBase64Text(f *testing.F) {
	for _, s := range []string{"", "Wm/Dqw==", "Wm_Dqz8-", " QUJD ", "QR==", "//4=", "YQBi", "QQ=A", "eyJ0aWVyIjoiZ29sZCJ9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := reqctx.Base64Text(s)
		if ok {
			if !utf8.ValidString(got) || strings.Contains(got, plugin.ListSep) {
				t.Fatalf("Base64Text(%q) = %q: not UTF-8, or a NUL", s, got)
			}
			body := strings.TrimRight(strings.Trim(s, " \t\n\r\f\v"), "=")
			if !strings.Contains(got, "\uFFFD") &&
				body != base64.RawStdEncoding.EncodeToString([]byte(got)) &&
				body != base64.RawURLEncoding.EncodeToString([]byte(got)) {
				t.Fatalf("Base64Text(%q) = %q, which encodes otherwise", s, got)
			}
		}
		if !utf8.ValidString(s) || strings.Contains(s, "\x00") {
			return
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if got, ok := reqctx.Base64Text(enc.EncodeToString([]byte(s))); !ok || got != s {
				t.Fatalf("Base64Text of %q encoded = %q, %v", s, got, ok)
			}
		}
	})
}
