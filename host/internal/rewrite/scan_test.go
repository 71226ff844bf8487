package rewrite

import (
	"bytes"
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
