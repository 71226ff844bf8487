package plan_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/plugin"
)

// build compiles src, matches every rule, fills cookie("v") with value,
// and returns the plan.
func build(t *testing.T, src, value string) *plan.Plan {
	t.Helper()
	return buildWith(t, src, &value)
}

// buildWith is build with cookie("v") missing when value is nil.
func buildWith(t *testing.T, src string, value *string) *plan.Plan {
	t.Helper()
	res, err := compiler.Compile("plan.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	m := res.Artifact.Manifest
	vals := make([]plugin.Value, len(m.Slots))
	for i, s := range m.Slots {
		if s.Attr == "cookie" && s.Arg == "v" && value != nil {
			vals[i] = plugin.Value{Str: *value, Present: true}
		}
	}
	d := plugin.Decision{Matched: make([]uint64, (len(m.Rules)+63)/64)}
	for i := range m.Rules {
		d.Matched[i/64] |= 1 << (i % 64)
	}
	var p plan.Plan
	plan.Compile(m).Build(&d, vals, plan.Options{Secure: true}, &p)
	return &p
}

func TestEscaping(t *testing.T) {
	const evil = `<script>alert(1)</script>"&`
	tests := []struct {
		name, action string
		check        func(*plan.Plan) string // returns the rendered value
		want         string
	}{
		{"text is escaped", `set_inner: { select: h1, text: 'Hi {{ cookie("v") }} & co' }`,
			func(p *plan.Plan) string { return string(p.Edits[0].Content) },
			"Hi &lt;script&gt;alert(1)&lt;/script&gt;&#34;&amp; &amp; co"},
		{"html keeps its markup, escapes values", `set_inner: { select: h1, html: '<b>{{ cookie("v") }}</b>' }`,
			func(p *plan.Plan) string { return string(p.Edits[0].Content) },
			"<b>&lt;script&gt;alert(1)&lt;/script&gt;&#34;&amp;</b>"},
		{"header drops control characters", `set_header: { name: X-V, value: 'v={{ cookie("v") }}' }`,
			func(p *plan.Plan) string { return p.ResponseHeaders[0].Value }, "v=" + evil},
		{"redirect percent-encodes values", `redirect: { to: '/p/{{ cookie("v") }}' }`,
			func(p *plan.Plan) string { return p.Redirect.Location }, "/p/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%22&"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, "rules:\n  - name: r\n    actions:\n      - "+tt.action+"\n", evil)
			if got := tt.check(p); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestHeaderInjection(t *testing.T) {
	p := build(t, "rules:\n  - name: r\n    actions:\n      - set_header: { name: X-V, value: '{{ cookie(\"v\") }}' }\n", "a\r\nSet-Cookie: x=1")
	if v := p.ResponseHeaders[0].Value; strings.ContainsAny(v, "\r\n") {
		t.Fatalf("header value %q carries a line break", v)
	}
}

func TestCookieEncoding(t *testing.T) {
	p := build(t, "rules:\n  - name: r\n    actions:\n      - set_cookie: { name: c, value: '{{ cookie(\"v\") }}', max_age: 7d }\n", "a b;c")
	c := p.Cookies[0]
	if strings.ContainsAny(c.Value, " ;") || !c.Secure || c.MaxAge != 7*24*3600 {
		t.Fatalf("cookie %+v", c.Cookie)
	}
}

// TestCookieBomb: a cookie whose value comes from the request is set
// only while it stays small: a link with a 4 KB ref would otherwise have
// the visitor's browser send it with every request for as long as
// max_age says (a cookie bomb, which ends in a 400 on every page once
// the headers outgrow the server's limit). A cookie the editor wrote
// whole is theirs to size.
func TestCookieBomb(t *testing.T) {
	rules := "rules:\n  - name: r\n    actions:\n      - set_cookie: { name: ref, value: '{{ cookie(\"v\") }}', max_age: 30d }\n"
	for _, tt := range []struct {
		value string
		set   bool
	}{
		{"newsletter", true},
		{strings.Repeat("a", plan.MaxCookieBytes-len("ref")), true},
		{strings.Repeat("a", plan.MaxCookieBytes-len("ref")+1), false},
		{strings.Repeat("a", 4000), false},
		{strings.Repeat(" ", 400), false}, // 1,200 bytes once escaped
	} {
		p := build(t, rules, tt.value)
		if set := len(p.Cookies) == 1; set != tt.set {
			t.Errorf("%d bytes: set %v, want %v", len(tt.value), set, tt.set)
		}
		if !tt.set && (len(p.Refused) != 1 || !p.Refused[0].Dropped || !strings.Contains(p.Refused[0].Reason, "past the 1024")) {
			t.Errorf("%d bytes: refused %+v", len(tt.value), p.Refused)
		}
	}
	long := strings.Repeat("b", 2000)
	p := build(t, "rules:\n  - name: r\n    actions:\n      - set_cookie: { name: big, value: "+long+" }\n", "")
	if len(p.Cookies) != 1 || p.Cookies[0].Value != long {
		t.Errorf("the editor's own 2,000-byte cookie is not set")
	}
}

// TestCookieFromMissingValue: a cookie whose value holds a value of the
// request that the request does not have, with no default, is not set:
// set, it would replace the visitor's cookie with nothing (a rule that
// keeps the ref of the link a visitor came by would erase it on their
// next page). A value sent empty, or a default, sets it; a later rule
// may then set the cookie.
func TestCookieFromMissingValue(t *testing.T) {
	empty := ""
	for _, tt := range []struct {
		name, value string
		sent        *string
		want        string // "" when not set
	}{
		{"missing", `'{{ cookie("v") }}'`, nil, ""},
		{"missing in a text", `'ref-{{ cookie("v") }}'`, nil, ""},
		{"missing with a default", `'{{ cookie("v") or "direct" }}'`, nil, "direct"},
		{"sent empty", `'{{ cookie("v") }}'`, &empty, "-"},
		{"literal", `newsletter`, nil, "newsletter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := buildWith(t, "rules:\n  - name: r\n    actions:\n      - set_cookie: { name: ref, value: "+tt.value+", max_age: 30d }\n", tt.sent)
			switch {
			case tt.want == "":
				if len(p.Cookies) != 0 || len(p.Unset) != 1 || p.Unset[0].Rule != 0 || p.Unset[0].Part.Slot < 0 {
					t.Errorf("cookies %v, unset %+v: want no cookie, one unset", p.Cookies, p.Unset)
				}
			case len(p.Cookies) != 1 || len(p.Unset) != 0:
				t.Errorf("cookies %v, unset %+v: want the cookie set", p.Cookies, p.Unset)
			case tt.want != "-" && p.Cookies[0].Value != tt.want:
				t.Errorf("cookie %q, want %q", p.Cookies[0].Value, tt.want)
			}
		})
	}
	p := buildWith(t, `rules:
  - name: from-link
    actions:
      - set_cookie: { name: ref, value: '{{ cookie("v") }}' }
  - name: fallback
    actions:
      - set_cookie: { name: ref, value: direct }
`, nil)
	if len(p.Cookies) != 1 || p.Cookies[0].Value != "direct" || p.Cookies[0].Rule != 1 || len(p.Skipped) != 0 {
		t.Errorf("cookies %v, skipped %+v: want the later rule's cookie", p.Cookies, p.Skipped)
	}
}

// TestConflicts: the earlier rule wins the headers, cookies and redirect
// two rules write, and the loser is reported; page edits are all passed
// on in rule order, and the rewriter keeps the first of those that write
// the same element (host/internal/rewrite's TestConflicts), since only it knows
// which elements two selectors share.
func TestConflicts(t *testing.T) {
	p := build(t, `rules:
  - name: first
    actions:
      - set_inner: { select: "#promo", text: "one" }
      - set_header: { name: X-A, value: "1" }
      - add_class: { select: body, class: a }
  - name: second
    actions:
      - set_inner: { select: "#promo", text: "two" }
      - set_header: { name: X-A, value: "2" }
      - add_class: { select: body, class: b }
      - redirect: /elsewhere
  - name: third
    actions:
      - redirect: /third
`, "")
	var inner []string
	classes := 0
	for _, e := range p.Edits {
		switch plan.OpName(e.Op) {
		case "set_inner":
			inner = append(inner, string(e.Content))
		case "add_class":
			classes++
		}
	}
	if len(inner) != 2 || inner[0] != "one" {
		t.Errorf("set_inner edits %q, want both in rule order", inner)
	}
	if classes != 2 {
		t.Errorf("%d add_class edits, want both", classes)
	}
	if len(p.ResponseHeaders) != 1 || p.ResponseHeaders[0].Value != "1" {
		t.Errorf("headers %+v", p.ResponseHeaders)
	}
	if p.Redirect == nil || p.Redirect.Location != "/elsewhere" {
		t.Errorf("redirect %+v, want the earlier rule's", p.Redirect)
	}
	if len(p.Skipped) != 2 {
		t.Errorf("skipped %+v, want the second rule's header and the third's redirect", p.Skipped)
	}
	for _, s := range p.Skipped {
		if s.Winner >= s.Rule {
			t.Errorf("%+v: the winner must be an earlier rule", s)
		}
	}
}

// TestJSONConflicts: a later rule's json_set or json_remove of a field
// an earlier rule sets or removes, or of one inside it or around it, is
// skipped; edits of other fields and list edits add up.
func TestJSONConflicts(t *testing.T) {
	p := build(t, `rules:
  - name: first
    actions:
      - json_set: { path: banner.title, value: "one" }
      - json_remove: debug
      - json_limit: { path: items, n: 10 }
  - name: second
    actions:
      - json_set: { path: banner.title, value: "two" }
      - json_set: { path: banner, json: '{"title": "three"}' }
      - json_set: { path: debug.level, value: "x" }
      - json_set: { path: banner.subtitle, value: "kept" }
      - json_set: { path: bannerette, value: "kept" }
      - json_limit: { path: items, n: 5 }
`, "")
	var got []string
	for _, e := range p.JSONEdits {
		got = append(got, e.Path+"="+string(e.Value))
	}
	want := []string{`banner.title="one"`, "debug=", "items=", `banner.subtitle="kept"`, `bannerette="kept"`, "items="}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("JSON edits %q\nwant %q", got, want)
	}
	if len(p.Skipped) != 3 {
		t.Errorf("skipped %+v, want the second rule's banner.title, banner and debug.level", p.Skipped)
	}
	for _, s := range p.Skipped {
		if s.Winner != 0 || s.Rule != 1 || !strings.Contains(s.Reason, "already writes") {
			t.Errorf("%+v: want the second rule skipped for the first", s)
		}
	}
}

// TestJSONConflictsAsPathsAreRead: paths that name the same field in
// another spelling (@this, '|' for '.', an escape of what needs none, a
// wildcard, an index with a leading zero) conflict as the same spelling
// does; paths of other fields do not.
func TestJSONConflictsAsPathsAreRead(t *testing.T) {
	for _, tc := range []struct {
		first, second string
		conflict      bool
	}{
		{"@this", "banner.title", true},
		{"banner.title", "@this", true},
		{"banner.title", "banner|title", true},
		{"banner.title", `\banner.title`, true},
		{"banner", "banner|title.x", true},
		{"ban*", "banner.title", true},
		{"items.1", "items.01.price", true},
		{"banner.title", "banner.subtitle", false},
		{"banner", "bannerette", false},
		{`a\.b`, "a.b", false},
		{`items.#(id=="a").price`, `items.#(id=="b").price`, false},
	} {
		p := build(t, fmt.Sprintf(`rules:
  - name: first
    actions:
      - json_set: { path: '%s', value: "one" }
  - name: second
    actions:
      - json_set: { path: '%s', value: "two" }
`, tc.first, tc.second), "")
		if got := len(p.Skipped) == 1; got != tc.conflict {
			t.Errorf("%s then %s: skipped %+v, want a conflict: %v", tc.first, tc.second, p.Skipped, tc.conflict)
		}
	}
}

// TestRedirectLoop: a redirect to the page requested is not made, and a
// later rule's redirect is.
func TestRedirectLoop(t *testing.T) {
	res, err := compiler.Compile("plan.yaml", []byte(`rules:
  - name: to-fr
    actions:
      - redirect: /fr/
  - name: to-sale
    actions:
      - redirect: /sale
`))
	if err != nil {
		t.Fatal(err)
	}
	m := res.Artifact.Manifest
	prog := plan.Compile(m)
	for _, tc := range []struct {
		path, want, loop string
		rules            uint64
	}{
		{"/", "/fr/", "", 0b11},
		{"/fr/", "/sale", "/fr/", 0b11},
		{"/fr/", "", "/fr/", 0b01},
		{"/sale", "/fr/", "", 0b11},
	} {
		var p plan.Plan
		d := plugin.Decision{Matched: []uint64{tc.rules}}
		prog.Build(&d, nil, plan.Options{URL: &url.URL{Path: tc.path}, Host: "shop.example"}, &p)
		got, loop := "", ""
		if p.Redirect != nil {
			got = p.Redirect.Location
		}
		if p.Loop != nil {
			loop = p.Loop.Location
		}
		if got != tc.want || loop != tc.loop {
			t.Errorf("%s, rules %b: redirect %q, loop %q; want %q, %q", tc.path, tc.rules, got, loop, tc.want, tc.loop)
		}
	}
}

// TestListValueRendered: a list value (languages) is inserted as its
// items joined by ", ": its separator, a control character, is decoded
// before the request's control characters are dropped.
func TestListValueRendered(t *testing.T) {
	res, err := compiler.Compile("r.yaml", []byte("rules:\n  - name: r\n    actions:\n      - set_inner: { select: h1, text: 'Langs: {{ languages }}' }\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := res.Artifact.Manifest
	vals := make([]plugin.Value, len(m.Slots))
	for i, s := range m.Slots {
		if s.Attr == "languages" {
			vals[i] = plugin.Value{Str: plugin.ListValue([]string{"fr", "en\x1b"}), Present: true}
		}
	}
	var p plan.Plan
	plan.Compile(m).Build(&plugin.Decision{Matched: []uint64{1}}, vals, plan.Options{}, &p)
	if got := string(p.Edits[0].Content); got != "Langs: fr, en" {
		t.Errorf("got %q", got)
	}
}
