package preview

import (
	"strings"
	"testing"
)

// TestInjectKeepsStandardsMode: the preview's <head> goes after the
// doctype and <html>, never before them, which would put the page in
// quirks mode.
func TestInjectKeepsStandardsMode(t *testing.T) {
	const add = `<head><base href="B">`
	for _, tc := range []struct{ name, in, want string }{
		{"head", `<!DOCTYPE html><html><head><title>x</title>`, `<!DOCTYPE html><html><head><base href="B">`},
		{"head with attributes", `<!doctype html><HEAD lang="fr"><title>`, `<!doctype html><HEAD lang="fr"><base href="B">`},
		{"no head", `<!DOCTYPE html><html lang="en"><body>x`, `<!DOCTYPE html><html lang="en">` + add},
		{"no head, no html", "<!DOCTYPE html>\n<body>x", "<!DOCTYPE html>\n" + add},
		{"comment and BOM first", "\uFEFF<!-- built --><!DOCTYPE html><p>x", "\uFEFF<!-- built --><!DOCTYPE html>" + add},
		{"fragment", `<p>x</p>`, add},
		{"header is not head", `<!DOCTYPE html><header>x</header>`, `<!DOCTYPE html>` + add},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(inject([]byte(tc.in), "B"))
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("inject(%q) = %q, want it to start %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestHTMLType(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"text/html; charset=iso-8859-1", "text/html; charset=iso-8859-1"},
		{"text/html;charset=\"Shift_JIS\"", "text/html; charset=Shift_JIS"},
		{"text/html", "text/html"},
		{"", "text/html"},
	} {
		if got := htmlType(tc.in); got != tc.want {
			t.Errorf("htmlType(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
