package check_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/rules/diag"
)

// TestEscapingErrors: every place a value of the request cannot go is
// refused with its position (the value's "{{", or the schemes option),
// why, and how to fix it.
func TestEscapingErrors(t *testing.T) {
	tests := []struct {
		name, action string
		col          int
		msg, hint    string
	}{
		{"url attribute starting with a value", `- set_attr: { select: a.buy, name: href, value: "{{ query('u') or '/buy' }}" }`, 56,
			"the URL in href starts with {{ }}: the value would choose its scheme and host", "schemes: [https, relative]"},
		{"host not written out", `- set_attr: { select: a, name: href, value: "https://shop.example{{ query('u') }}" }`, 72,
			"the host is not written out to its end", "https://example.com/{{ … }}"},
		{"backslash after slash", `- set_attr: { select: a, name: src, value: '/\{{ query("u") }}' }`, 53,
			"the URL starts with two slashes", ""},
		{"javascript with a value", `- set_attr: { select: a, name: href, value: "javascript:go('{{ query('u') }}')" }`, 67,
			"a javascript: URL is a script", ""},
		{"srcset candidate starting with a value", `- set_attr: { select: img, name: srcset, value: "/a.png 1x, {{ query('u') }} 2x" }`, 67,
			"the URL in srcset starts with {{ }}", ""},
		{"srcdoc", `- set_attr: { select: iframe, name: srcdoc, value: "<p>Hi {{ query('n') }}</p>" }`, 65,
			"cannot go in srcdoc: it is an HTML document", "data- attribute"},
		{"style", `- set_attr: { select: p, name: style, value: "color: {{ cookie('c') }}" }`, 60,
			"cannot go in style: it is CSS", ""},
		{"event handler", `- set_attr: { select: p, name: ONMOUSEOVER, value: "{{ cookie('c') }}" }`, 59,
			"cannot go in onmouseover: it is an event handler", ""},
		{"framework directive", `- set_attr: { select: p, name: x-on:click, value: "go('{{ cookie('c') }}')" }`, 62,
			"Alpine.js evaluates it as JavaScript", ""},
		{"script src", `- set_attr: { select: "script#app", name: src, value: "/js/{{ cookie('v') }}.js" }`, 66,
			"in the src of <script>: it would choose code the page runs", "write the value out"},
		{"script type", `- set_attr: { select: "script#tpl", name: type, value: "{{ query('t') }}" }`, 63,
			"in the type of <script>: it decides whether the script's text runs", "write the value out"},
		{"html script type", `- append: { select: body, html: "<script type='{{ query(\"t\") }}'>go()</script>" }`, 54,
			"a value in the type of <script>: it decides whether the script's text runs", ""},
		{"meta content", `- set_attr: { select: meta, name: content, value: "0;url=/{{ query('u') }}" }`, 65,
			"content of a <meta>", `meta[name="description"]`},
		{"text into a script", `- set_inner: { select: "script#config", text: "var city = {{ geo.city }}" }`, 65,
			"inside <script> would be code", ""},
		{"html script", `- append: { select: body, html: "<script>go('{{ geo.city }}')</script>" }`, 52,
			"a value inside <script> would be code", ""},
		{"html unquoted attribute", `- append: { select: body, html: "<p title={{ geo.city }}>x</p>" }`, 49,
			"not in a quoted attribute value", `title="{{ … }}"`},
		{"html url attribute", `- append: { select: body, html: "<a href='{{ query(\"u\") }}'>x</a>" }`, 49,
			"the URL attribute starts with {{ }}", ""},
		{"html event handler", `- append: { select: body, html: "<b onclick='go(&quot;{{ geo.city }}&quot;)'>x</b>" }`, 61,
			"a value in the onclick attribute: it is an event handler", ""},
		{"redirect backslash", `- redirect: '/\{{ query("next") }}'`, 22,
			"the URL starts with two slashes", ""},
		{"redirect host", `- redirect: 'https://{{ query("h") }}/'`, 20,
			"the host of a redirect target must be written out", ""},
		{"location header", `- set_header: { name: Location, value: "/{{ query('u') }}" }`, 48,
			"cannot go in the Location header", "write the value out"},
		{"content type header", `- set_header: { name: content-type, value: "text/{{ query('t') }}" }`, 56,
			"cannot go in the Content-Type header", ""},
		{"a CORS header not listed", `- set_header: { name: access-control-max-age, value: "{{ query('t') }}" }`, 61,
			"cannot go in the Access-Control-Max-Age header: it is a cross-origin policy", ""},
		{"reporting endpoints", `- set_header: { name: Reporting-Endpoints, value: "{{ query('t') }}" }`, 58,
			"cannot go in the Reporting-Endpoints header", ""},
		{"header with a line break", `- set_header: { name: X-A, value: "a\r\nb" }`, 42,
			"cannot hold a control character", ""},
		{"unvetted scheme", `- set_attr: { select: a, name: href, value: "{{ query('u') }}", schemes: [https, javascript] }`, 80,
			`"javascript" is not a scheme a value may choose: a javascript: URL is a script`, "https, http, mailto, tel, relative"},
		{"schemes without a url", `- set_attr: { select: a, name: href, value: "/x/{{ query('u') }}", schemes: [https] }`, 83,
			"schemes apply to a URL that starts with {{ }}", "remove schemes"},
		{"schemes on text", `- set_inner: { select: a, text: "{{ query('u') }}", schemes: [https] }`, 68,
			"schemes apply to URLs", ""},
		{"empty schemes", `- set_attr: { select: a, name: href, value: "{{ query('u') }}", schemes: [] }`, 80,
			"schemes is empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkSrc(t, rule("", tt.action))
			var list diag.List
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("err = %v, want errors", err)
			}
			e := list[0]
			if e.Pos.Line != 4 || e.Pos.Col != tt.col {
				t.Errorf("at %d:%d, want 4:%d: %v", e.Pos.Line, e.Pos.Col, tt.col, e)
			}
			if !strings.Contains(e.Msg, tt.msg) || !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("got %q (hint %q), want %q (hint %q)", e.Msg, e.Hint, tt.msg, tt.hint)
			}
		})
	}
}

// TestEscapingAccepted: values where escaping makes them safe, and the
// rule author's own literal text anywhere, pass.
func TestEscapingAccepted(t *testing.T) {
	for _, a := range []string{
		`- set_attr: { select: a.buy, name: href, value: "{{ query('u') or '/buy' }}", schemes: [https, relative] }`,
		`- set_attr: { select: a, name: href, value: "/stores/{{ geo.city }}?ref={{ query('r') }}#{{ cookie('c') }}" }`,
		`- set_attr: { select: a, name: href, value: "https://shop.example/{{ geo.city }}" }`,
		`- set_attr: { select: a, name: href, value: "mailto:{{ cookie('e') }}" }`,
		`- set_attr: { select: img, name: srcset, value: "/a/{{ geo.city }}.png 1x, /b/{{ geo.city }}.png {{ cookie('d') }}" }`,
		`- set_attr: { select: a, name: onclick, value: "go()" }`,
		`- set_attr: { select: a, name: href, value: "javascript:void(0)" }`,
		`- set_attr: { select: iframe, name: srcdoc, value: "<p>Hi</p>" }`,
		`- set_attr: { select: a, name: data-city, value: "{{ geo.city }}" }`,
		`- set_attr: { select: 'meta[name="description"]', name: content, value: "Shop in {{ geo.city }}" }`,
		`- set_attr: { select: script, name: src, value: "/js/app.js" }`,
		`- set_inner: { select: "script#config", text: "var a = 1" }`,
		`- set_inner: { select: "#greeting", html: "<b>{{ geo.city }}</b> <a href='/stores/{{ geo.city }}' title='{{ geo.city }}'>x</a>" }`,
		`- append: { select: body, html: "<a href='{{ query(\"u\") }}'>x</a>", schemes: [relative] }`,
		`- redirect: { to: "{{ query('next') }}", schemes: [relative] }`,
		`- redirect: '/p/{{ query("p") }}?q={{ query("q") }}'`,
		`- set_header: { name: X-City, value: "{{ geo.city }}" }`,
		`- set_header: { name: Content-Type, value: "text/{{ query('t') }}", on: request }`,
	} {
		if _, err := checkSrc(t, rule("", a)); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
}
