package urlpath

import (
	"path"
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"", ""},
		{"*", "*"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b/"},
		{"/a/./b", "/a/b"},
		{"/a/../b", "/b"},
		{"/a/b/..", "/a/"},
		{"/a/b/.", "/a/b/"},
		{"/..", "/"},
		{"/../..", "/"},
		{"/a/..", "/"},
		{"//a//b//", "/a/b/"},
		{"/a/.../b", "/a/.../b"},
		{"/a/.b/..c", "/a/.b/..c"},
	}
	for _, tt := range tests {
		if got := Clean(tt.in); got != tt.want {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzClean holds Clean to path.Clean, which resolves the same dot
// segments and slashes but drops a trailing slash: on any path, Clean's
// form is one path.Clean leaves as it is (but for that slash), it is
// clean itself, and it ends in a slash when the path ends in a
// directory.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"/a/../b", "//members//x", "/blog/../members/x", "/a/b/..", "/./", "/..//../a/.", "/a/.../b/..c/", "/%2e%2e/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c := Clean(p)
		if !strings.HasPrefix(p, "/") {
			if c != p {
				t.Fatalf("Clean(%q) = %q: not a path, changed", p, c)
			}
			return
		}
		if Clean(c) != c {
			t.Fatalf("Clean(%q) = %q, Clean of which is %q", p, c, Clean(c))
		}
		if want := path.Clean(p); path.Clean(c) != want || c != want && c != want+"/" {
			t.Fatalf("Clean(%q) = %q; path.Clean gives %q", p, c, want)
		}
		last := p[strings.LastIndexByte(p, '/')+1:]
		if dir := last == "" || last == "." || last == ".."; dir != strings.HasSuffix(c, "/") && c != "/" {
			t.Fatalf("Clean(%q) = %q: the trailing slash", p, c)
		}
	})
}
