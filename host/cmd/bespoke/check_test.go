package main

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestDiagCount(t *testing.T) {
	for _, c := range []struct {
		errs, warns int
		want        string
	}{
		{1, 5, "1 error, 5 warnings"},
		{1, 1, "1 error, 1 warning"},
		{2, 0, "2 errors"},
		{0, 3, "3 warnings"},
		{0, 1, "1 warning"},
		{0, 0, ""},
	} {
		if got := diagCount(c.errs, c.warns); got != c.want {
			t.Errorf("diagCount(%d, %d) = %q, want %q", c.errs, c.warns, got, c.want)
		}
	}
}

// TestCheckStdin: check - checks the rules read from stdin, as editors
// pipe a buffer not yet saved, naming them <stdin> (it said "open -: no
// such file or directory").
func TestCheckStdin(t *testing.T) {
	defer func(r io.Reader) { stdin = r }(stdin)
	for _, tt := range []struct {
		args []string
		src  string
		code int
		want string
	}{
		{[]string{"check", "-"}, "rules:\n  - name: fr\n    when: geo.country == \"FR\"\n    actions: [ { remove: \"#promo\" } ]\n", 0, "<stdin>: ok (1 rule, 0 segments, 0 tests)"},
		{[]string{"check", "-"}, "rules:\n  - name: fr\n    when: geo.contry == \"FR\"\n    actions: [ { remove: \"#promo\" } ]\n", 1, `<stdin>:3:11: unknown attribute or segment "geo.contry"`},
		{[]string{"check", "--format", "json", "-"}, "rules:\n  - name: fr\n    when: geo.contry == \"FR\"\n    actions: [ { remove: \"#promo\" } ]\n", 1, `"line":3,"col":11,"severity":"error"`},
		{[]string{"check", "-", "-"}, "", 2, "stdin can be read once: give - once"},
	} {
		stdin = strings.NewReader(tt.src)
		code, out, errOut := bespoke(tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("%q: exit %d, want %d with %q:\n%s%s", tt.args, code, tt.code, tt.want, out, errOut)
		}
		var d struct{ File string }
		if slices.Contains(tt.args, "json") && (json.Unmarshal([]byte(out), &d) != nil || d.File != "<stdin>") {
			t.Errorf("%q: %q names the file %q, want <stdin>", tt.args, out, d.File)
		}
	}
}
