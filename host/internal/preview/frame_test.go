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

// TestInjectKeepsThePagesBase: the page's own <base href>, read against
// its address at the origin, is the base of the frame, as behind the
// proxy (the browser takes the first <base>, the preview's).
func TestInjectKeepsThePagesBase(t *testing.T) {
	const page = "http://origin.test/shop/item?id=1"
	for _, tc := range []struct{ in, want string }{
		{`<head><base href="/shop/"><link href="style.css">`, `<base href="http://origin.test/shop/">`},
		{`<head><BASE target=_top HREF='../cat/'>`, `<base href="http://origin.test/cat/">`},
		{`<head><base href=https://cdn.test/x/>`, `<base href="https://cdn.test/x/">`},
		{`<head><base href="javascript:alert(1)">`, `<base href="` + page + `">`},
		{`<head><base target="_blank">`, `<base href="` + page + `">`},
		{`<head><title>no base</title>`, `<base href="` + page + `">`},
	} {
		got := string(inject([]byte(tc.in), page))
		if !strings.Contains(got, tc.want) {
			t.Errorf("inject(%q) = %q, want %q first", tc.in, got, tc.want)
		}
	}
}

// TestWrapKeepsElementsInPlace: inserted rows, cells, list items,
// options, legends, summaries and figure captions are marked with
// classes on themselves, comments and spaces before them or not, since a
// wrapper around them would be moved out of the table, break the list or
// take its parent's name away; other content is wrapped.
func TestWrapKeepsElementsInPlace(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<tr><td>XL</td></tr>`, `<tr class="bsk-ins bsk-r2"><td>XL</td></tr>`},
		{`<li class="card">a</li><li>b<b>!</b></li>`, `<li class="card bsk-ins bsk-r2">a</li><li class="bsk-ins bsk-r2">b<b>!</b></li>`},
		{` <td>1</td><td><img src=x>2</td>`, ` <td class="bsk-ins bsk-r2">1</td><td class="bsk-ins bsk-r2"><img src=x>2</td>`},
		{"<!-- winter -->\n<li>c</li>", "<!-- winter -->\n<li class=\"bsk-ins bsk-r2\">c</li>"},
		{"<!--\n a <li> -->\n<!---->  <li>c</li>", "<!--\n a <li> -->\n<!---->  <li class=\"bsk-ins bsk-r2\">c</li>"},
		{`<summary>Sizes</summary>`, `<summary class="bsk-ins bsk-r2">Sizes</summary>`},
		{`<legend>Delivery</legend>`, `<legend class="bsk-ins bsk-r2">Delivery</legend>`},
		{`<figcaption>Lyon</figcaption>`, `<figcaption class="bsk-ins bsk-r2">Lyon</figcaption>`},
		{`<div>Hi</div>`, `<bespoke-edit class="bsk-ins bsk-r2 bsk-block"><div>Hi</div></bespoke-edit>`},
		{`<!-- x --><div>Hi</div>`, `<bespoke-edit class="bsk-ins bsk-r2 bsk-block"><!-- x --><div>Hi</div></bespoke-edit>`},
		{`<!-- x --> Hi <li>`, `<bespoke-edit class="bsk-ins bsk-r2"><!-- x --> Hi <li></bespoke-edit>`},
		{`Hello`, `<bespoke-edit class="bsk-ins bsk-r2">Hello</bespoke-edit>`},
	} {
		if got := string(wrap([]byte(tc.in), 2)); got != tc.want {
			t.Errorf("wrap(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestFramesHideNoscript: the frames run no script, and show what a
// visitor's browser, which runs them, shows: no <noscript> content.
func TestFramesHideNoscript(t *testing.T) {
	got := string(inject([]byte(`<head></head><body><noscript>Enable JavaScript</noscript>`), "B"))
	if !strings.Contains(got, "noscript{display:none!important}") {
		t.Errorf("the frame's style does not hide <noscript>: %q", got)
	}
}
