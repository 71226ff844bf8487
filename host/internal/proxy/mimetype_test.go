package proxy

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// mimeCase is a Content-Type of testdata/mimesniff and what the MIME
// Sniffing Standard's parser makes of it.
type mimeCase struct {
	// input is the header's bytes.
	input string
	// parsed is false where the parser fails; essence is the lower-cased
	// type/subtype.
	parsed  bool
	essence string
	// charset is the charset parameter the parser keeps (hasCharset);
	// the standard's own cases give it only as the encoding of the
	// text/html ones (wpt).
	charset    string
	hasCharset bool
	wpt        bool
	// encoding is the WHATWG name of the encoding a browser reads a page
	// of this type in, from its charset ("" for none); known is false
	// where the data does not say.
	encoding string
	known    bool
}

// mimeCases reads the standard's own cases (mime-types.json, from
// web-platform-tests) and the generated ones (generated.json): see
// testdata/mimesniff/README.md.
func mimeCases(t testing.TB) []mimeCase {
	t.Helper()
	var out []mimeCase
	type entry struct {
		Input     string  `json:"input"`
		Output    *string `json:"output"`
		Charset   *string `json:"charset"`
		Encoding  *string `json:"encoding"`
		Navigable bool    `json:"navigable"`
	}
	for _, name := range []string{"mime-types.json", "generated.json"} {
		b, err := os.ReadFile("../../../testdata/mimesniff/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		for _, r := range raw {
			var e entry
			if json.Unmarshal(r, &e) != nil {
				continue // a comment: the standard's cases are grouped under strings
			}
			c := mimeCase{input: latin1(e.Input), parsed: e.Output != nil, wpt: name == "mime-types.json"}
			if c.parsed {
				c.essence, _, _ = strings.Cut(*e.Output, ";")
			}
			switch {
			case c.wpt && e.Navigable:
				c.known = true
				if e.Encoding != nil {
					c.encoding = strings.ToLower(*e.Encoding)
				}
			case !c.wpt:
				c.known = true
				if e.Charset != nil {
					c.charset, c.hasCharset = latin1(*e.Charset), true
					if cs, ok := charsetFromLabel(c.charset); ok {
						c.encoding = cs.name
					}
					if e.Encoding != nil && *e.Encoding != c.encoding {
						t.Errorf("%q: the label %q is %s in the Encoding standard as Node has it, %q in bespoke's table", e.Input, *e.Charset, *e.Encoding, c.encoding)
					}
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// latin1 is the bytes of s, a string of code points up to U+00FF, one a
// byte: the header a browser reads s from. A string with code points
// past U+00FF, which no header holds, is written as UTF-8, whose bytes
// the parser reads as it reads the code point (neither space, token nor
// quote).
func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			return s
		}
		b = append(b, byte(r))
	}
	return string(b)
}

// TestParseContentType: the parser reads every Content-Type of
// testdata/mimesniff as the standard does: whether it is a MIME type,
// its type and subtype, and its charset.
func TestParseContentType(t *testing.T) {
	cases := mimeCases(t)
	for _, c := range cases {
		ct, ok := parseContentType(c.input)
		if ok != c.parsed {
			t.Errorf("%q: parsed %v, want %v", c.input, ok, c.parsed)
			continue
		}
		if !ok {
			continue
		}
		if got := strings.ToLower(ct.typ + "/" + ct.sub); got != c.essence {
			t.Errorf("%q: essence %q, want %q", c.input, got, c.essence)
		}
		if c.known && !c.wpt && (ct.hasCharset != c.hasCharset || ct.charset != c.charset) {
			t.Errorf("%q: charset %q %v, want %q %v", c.input, ct.charset, ct.hasCharset, c.charset, c.hasCharset)
		}
	}
	t.Logf("%d Content-Types", len(cases))
}

// TestContentTypesAsBrowsers: the proxy takes a response for a page, an
// XHTML page (see isXHTML) or JSON (the WHATWG's "JSON MIME type":
// application/json, text/json, any +json subtype) as browsers do from
// its Content-Type, and
// reads a page in the encoding its charset names for them, on every
// Content-Type of testdata/mimesniff. A type taken for text/html that
// browsers do not read as one would have the page's markup edited where
// the browser shows no page; a charset of MIME's reading but not the
// browser's (`charset =gbk`) had what is inserted written in GBK into a
// page the browser reads as UTF-8, and selectors compare values read as
// GBK. The charsets Chromium reads otherwise than the standard
// (headerCharset) are left alone, and counted.
func TestContentTypesAsBrowsers(t *testing.T) {
	unreadable := 0
	for _, c := range mimeCases(t) {
		if c.parsed && c.essence == "text/html" && c.known {
			got, ok := headerCharset(c.input)
			switch {
			case got == unreadableCharset:
				unreadable++
			case got.name != c.encoding || ok != (c.encoding != ""):
				t.Errorf("headerCharset(%q) = %q %v, want %q", c.input, got.name, ok, c.encoding)
			}
		}
		if got, want := isHTML(c.input), c.parsed && c.essence == "text/html"; got != want {
			t.Errorf("isHTML(%q) = %v, want %v", c.input, got, want)
		}
		if got, want := isXHTML(c.input), c.parsed && c.essence == "application/xhtml+xml"; got != want {
			t.Errorf("isXHTML(%q) = %v, want %v", c.input, got, want)
		}
		_, sub, _ := strings.Cut(c.essence, "/")
		if got, want := isJSON(c.input), c.parsed && (c.essence == "application/json" || c.essence == "text/json" || strings.HasSuffix(sub, "+json")); got != want {
			t.Errorf("isJSON(%q) = %v, want %v", c.input, got, want)
		}
	}
	t.Logf("%d Content-Types whose charset Chromium reads otherwise than the standard: left alone", unreadable)
}
