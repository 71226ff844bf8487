package main

import "testing"

// TestPagesOf: the pages: line of a rule file is read as YAML reads it,
// also while the rest of the file is broken; a comment after it or a
// byte order mark before it used to make the preview refuse the file.
func TestPagesOf(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"pages: site\nrules: [", "site"},
		{"pages: testdata/demo/site   # the saved shop\n", "testdata/demo/site"},
		{"\uFEFFpages: site\n", "site"},
		{"pages: \"my site\" # quoted\r\n", "my site"},
		{"pages: 'a#b'\n", "a#b"},
		{"rules: []\n  pages: nested\n", ""},
		{"pages: [\n", ""},
		{"version: 1\n", ""},
	} {
		if got := pagesOf([]byte(tt.src)); got != tt.want {
			t.Errorf("pagesOf(%q) = %q, want %q", tt.src, got, tt.want)
		}
	}
}
