package rewrite

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"testing"
)

// TestIndexByte checks indexByte's word-at-a-time paths against
// bytes.IndexByte: every length to past its 64-byte first loop, the byte
// at every place or absent, with and without look-alikes around it (the
// bytes one above and below, which a borrow could flag).
func TestIndexByte(t *testing.T) {
	for n := 0; n <= 80; n++ {
		for at := -1; at < n; at++ {
			for _, fill := range []byte{'a', '=' - 1, '=' + 1, 0x80 | '=', 0} {
				b := bytes.Repeat([]byte{fill}, n)
				if at >= 0 {
					b[at] = '='
					if at+1 < n {
						b[at+1] = '='
					}
				}
				if got, want := indexByte(b, '='), bytes.IndexByte(b, '='); got != want {
					t.Fatalf("indexByte(%q, '=') = %d, want %d", b, got, want)
				}
			}
		}
	}
}

// TestHasWord checks class-list matching, word by word.
func TestHasWord(t *testing.T) {
	tests := []struct {
		list, word string
		want       bool
	}{
		{"x", "x", true}, {"xx", "x", false}, {"a x", "x", true}, {"ax x", "x", true}, {"xa", "x", false},
		{"ax", "x", false}, {"a\tx\nb", "x", true}, {"xy yx", "x", false}, {"card card-lg", "card-lg", true},
		{"card-lg", "card", false}, {"", "x", false}, {"x", "", false}, {"a b c", "b", true},
	}
	for _, tt := range tests {
		if got := hasWord([]byte(tt.list), tt.word); got != tt.want {
			t.Errorf("hasWord(%q, %q) = %v", tt.list, tt.word, got)
		}
	}
}

// containsFold is mayHave's reference: whether name is in b, comparing
// as findAttr does (b's ASCII letters lower-cased).
func containsFold(b []byte, name string) bool {
	for k := 0; k+len(name) <= len(b); k++ {
		if equalFold(b[k:k+len(name)], name) {
			return true
		}
	}
	return false
}

// TestMayHave checks mayHave against containsFold: names of two bytes
// and more at every place of attribute lists of every length to past
// three words, in either case, among bytes that look alike once
// 0x20 is set ('@' and '`', '[' and '{') and the bytes a borrow could
// flag; and that whatever findAttr finds in a tag, mayHave says it may
// have.
func TestMayHave(t *testing.T) {
	names := []string{"id", "data-x", "data-slot", "href", "x-y", "@a", "{b", "aria-label"}
	for _, name := range names {
		for n := 0; n <= 30; n++ {
			for at := -1; at < n; at++ {
				for _, fill := range []byte{' ', 'd', 'D', '@', '`', 0, 1, 0x80 | 'd'} {
					b := bytes.Repeat([]byte{fill}, n)
					if at >= 0 {
						k := copy(b[at:], name)
						if at%2 == 1 {
							copy(b[at:at+k], bytes.ToUpper([]byte(name[:k])))
						}
					}
					if got, want := mayHave(b, name), containsFold(b, name); got != want {
						t.Fatalf("mayHave(%q, %q) = %v, want %v", b, name, got, want)
					}
				}
			}
		}
	}
	for _, tag := range []string{
		`<div data-x=1>`, `<div DATA-X="1">`, `<div a="data-x" b>`, `<div data-xy=1 data-x>`,
		`<p title='x' Data-Slot="hero">`, `<a href=/x id=y>`, `<svg viewBox="0 0 1 1" aria-label=z>`,
	} {
		for _, name := range names {
			r := &Rewriter{}
			r.tag = []byte(tag)
			r.nameEnd, _ = scanName(r.tag, 1)
			if r.findAttr(name) >= 0 && !mayHave(r.tag[r.nameEnd:], name) {
				t.Errorf("%s has %s, and mayHave says it cannot", tag, name)
			}
		}
	}
}

// FuzzMayHave holds mayHave to containsFold on any bytes.
func FuzzMayHave(f *testing.F) {
	f.Add([]byte(` class="a" data-x=1`), "data-x")
	f.Add([]byte(` DATA-SLOT=hero`), "data-slot")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		if len(name) < 2 {
			return
		}
		name = strings.ToLower(name)
		if got, want := mayHave(b, name), containsFold(b, name); got != want {
			t.Fatalf("mayHave(%q, %q) = %v, want %v", b, name, got, want)
		}
	})
}

// TestSpaceEnd checks where text stops being space once its character
// references are decoded, against the standard library's decoder, and
// which ends of a write may still become a reference of a space.
func TestSpaceEnd(t *testing.T) {
	tests := []struct {
		text string
		end  int // spaceEnd
		cut  int // spaceRefCut
	}{
		{"", 0, -1}, {" \t\n\r\f", 5, -1}, {"x", 0, -1}, {" x", 1, -1},
		{"&#32;", 5, -1}, {"&#32", 4, 0}, {"&#32x", 4, -1}, {"&#x20;x", 6, -1}, {"&#X9;", 5, -1},
		{"&#0032;", 7, -1}, {"&#x0000A;", 9, -1}, {"&#13;&#12;&#10;&#9;", 19, -1},
		{"&Tab;&NewLine;", 14, -1}, {"&Tab", 0, 0}, {"&NewLi", 0, 0}, {"&tab;", 0, -1}, {"&Tabs", 0, -1},
		{"&#3;", 0, -1}, {"&#3", 0, 0}, {"&#x", 0, 0}, {"&#", 0, 0}, {"&", 0, 0}, {" &#x2", 1, 1},
		{"&#;", 0, -1}, {"&#x;", 0, -1}, {"&#0;", 0, -1}, {"&#x0;", 0, -1}, {"&#160;", 0, -1},
		{"&nbsp;", 0, -1}, {"&amp;", 0, -1}, {"&#4294967328;", 0, -1}, {"&#x100000020;", 0, -1},
		{"x&#3", 0, -1}, {"&#32;x &", 5, -1}, {"&#32;&", 5, 5}, {"\x00", 0, -1},
	}
	for _, tt := range tests {
		if got := spaceEnd([]byte(tt.text)); got != tt.end {
			t.Errorf("spaceEnd(%q) = %d, want %d", tt.text, got, tt.end)
		}
		if got := spaceRefCut([]byte(tt.text)); got != tt.cut {
			t.Errorf("spaceRefCut(%q) = %d, want %d", tt.text, got, tt.cut)
		}
	}
}

// unescapeQuirk finds the numeric character references that the standard
// library's decoder, and x/net/html's, which is the same code, read
// otherwise than the HTML standard and browsers: one decimal digit without
// its ';' (left as text), and a value past 2^31 (which wraps around where
// browsers make it U+FFFD).
var unescapeQuirk = regexp.MustCompile(`&#([0-9]([^0-9;]|$)|0*[1-9][0-9]{9,}|[xX]0*[1-9a-fA-F][0-9a-fA-F]{7,})`)

// FuzzSpaceEnd holds spaceEnd to html.UnescapeString (text is all space
// as decoded exactly when spaceEnd says so, and what follows the space
// does not start with space), and spaceRefCut to what it promises: a
// write that ends where it finds no cut has said whether its text is
// space, whatever comes next, and the text before a cut is space.
func FuzzSpaceEnd(f *testing.F) {
	for _, s := range []string{"&#32;x", "&#x0020", "&Tab;&NewLine; &#13", "&#3", " &#x", "&#00000000009;y", "&Tab"} {
		f.Add(s, "2;")
	}
	const ws = " \t\n\r\f"
	f.Fuzz(func(t *testing.T, text, next string) {
		b := []byte(text)
		end := spaceEnd(b)
		if end < 0 || end > len(b) {
			t.Fatalf("spaceEnd(%q) = %d", text, end)
		}
		if unescapeQuirk.MatchString(text) {
			t.Skip("the library decodes this reference as browsers do not")
		}
		if d := html.UnescapeString(text[:end]); strings.Trim(d, ws) != "" {
			t.Fatalf("spaceEnd(%q) = %d, but %q decodes to %q", text, end, text[:end], d)
		}
		if rest := html.UnescapeString(text[end:]); rest != "" && strings.ContainsRune(ws, []rune(rest)[0]) {
			t.Fatalf("spaceEnd(%q) = %d, but %q decodes to %q, which starts with space", text, end, text[end:], rest)
		}
		cut := spaceRefCut(b)
		if cut >= 0 {
			if spaceEnd(b[:cut]) != cut {
				t.Fatalf("spaceRefCut(%q) = %d after text that is not space", text, cut)
			}
			return
		}
		whole := spaceEnd([]byte(text + next))
		if end < len(b) && whole != end || end == len(b) && whole < end {
			t.Fatalf("spaceRefCut(%q) = -1, but %q after it moves spaceEnd from %d to %d", text, next, end, whole)
		}
	})
}

// TestDoctypeQuirks: which doctypes put a page in quirks mode, as the
// standard's tokenizer and "initial" insertion mode decide (a public or
// system keyword without its identifier sets the force-quirks flag).
func TestDoctypeQuirks(t *testing.T) {
	for _, c := range []struct {
		doctype string
		quirks  bool
	}{
		{"html", false},
		{"HTML", false},
		{"", true},
		{"svg", true},
		{"html PUBLIC", true},
		{"html SYSTEM", true},
		{`html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd"`, false},
		{`html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"`, true},
		{`html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd"`, false},
		{`html SYSTEM "about:legacy-compat"`, false},
		{`html PUBLIC "-//W3C//DTD HTML 3.2 Final//EN"`, true},
		{`html PUBLIC "-//W3C//DTD HTML 4.01//EN`, true},
		// A public identifier alone, of none of the listed families.
		{`html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"`, false},
		{`html PUBLIC ""`, false},
		// The keyword ends after six characters, whatever follows.
		{"html PUBLIC\n  \"-//W3C//DTD XHTML 1.0 Strict//EN\"\n  \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\"", false},
		{"html PUBLIC\t\"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\"", false},
		{`html PUBLIC"-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd"`, false},
		{`html PUBLICX "-//W3C//DTD XHTML 1.0 Strict//EN"`, true},
		// After the system identifier, the rest is ignored; after the
		// public one, it is a missing quote, which sets force-quirks.
		{`html SYSTEM "about:legacy-compat" junk`, false},
		{`html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" junk`, true},
	} {
		if got := doctypeQuirks([]byte(c.doctype)); got != c.quirks {
			t.Errorf("<!DOCTYPE %s>: quirks %v, want %v", c.doctype, got, c.quirks)
		}
	}
}
