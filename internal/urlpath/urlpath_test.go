package urlpath

import "testing"

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
