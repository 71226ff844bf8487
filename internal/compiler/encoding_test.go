package compiler

import (
	"strings"
	"testing"
)

// TestEncoding: a file that is not UTF-8 text is named for what it is,
// at the first byte UTF-8 cannot read, instead of being read as YAML (a
// Latin-1 é gave "check the indentation and quoting"; UTF-16 "this n
// starts a quoted value").
func TestEncoding(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"version: 1\nrules:\n  - name: caf\xe9\n", "f.yaml:3:14: the byte 0xE9 is not UTF-8"},
		{"\xff\xfev\x00e\x00", "f.yaml:1:1: the file is UTF-16 text"},
		{"\xfe\xff\x00v", "f.yaml:1:1: the file is UTF-16 text"},
		{"\x00asm\x01\x00\x00\x00", "f.yaml: this is a compiled plugin"},
		{"rules:\n  - name: \"é 🙂\"\n    actions: [ { remove: \"\\xe9\" } ]\n", ""},
	} {
		_, l := Diagnose("f.yaml", []byte(tt.src))
		got := ""
		if len(l) > 0 {
			got = l[0].Error()
		}
		switch {
		case tt.want == "" && len(l) > 0 && l[0].Code == "encoding":
			t.Errorf("%q: %s", tt.src, got)
		case tt.want != "" && !strings.HasPrefix(got, tt.want):
			t.Errorf("%q: %q, want it to start %q", tt.src, got, tt.want)
		}
	}
}
