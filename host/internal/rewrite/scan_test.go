package rewrite

import (
	"bytes"
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
