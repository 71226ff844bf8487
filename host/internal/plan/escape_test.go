package plan_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/escape"
	"github.com/bespoke-edge/bespoke/internal/escape/escapetest"
	"github.com/bespoke-edge/bespoke/plugin"
)

// page is where the page-edit tables write.
const page = `<html><head></head><body><div id=t>old</div><a id=a href=/x title=>link</a><img id=i src=/a.png></body></html>`

// compiled compiles one rule with action and returns its manifest and
// program.
func compiled(t *testing.T, action string) (*plugin.Manifest, *plan.Program) {
	t.Helper()
	res, err := compiler.Compile("escape.yaml", []byte("rules:\n  - name: r\n    actions:\n      - "+action+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return res.Artifact.Manifest, plan.Compile(res.Artifact.Manifest)
}

// planFor builds the plan of the compiled rule with cookie("v") = v.
func planFor(m *plugin.Manifest, prog *plan.Program, v string) *plan.Plan {
	vals := make([]plugin.Value, len(m.Slots))
	for i, s := range m.Slots {
		if s.Attr == "cookie" && s.Arg == "v" {
			vals[i] = plugin.Value{Str: v, Present: true}
		}
	}
	d := plugin.Decision{Matched: []uint64{1}}
	var p plan.Plan
	prog.Build(&d, vals, plan.Options{}, &p)
	return &p
}

// rewritten applies a plan's page edits to page and parses the result as
// a browser does.
func rewritten(t *testing.T, m *plugin.Manifest, p *plan.Plan) (string, *html.Node) {
	t.Helper()
	prog, err := rewrite.CompileStrings(m.Selectors)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rw := prog.NewRewriter(&out, p.Edits, rewrite.Options{})
	if _, err := rw.Write([]byte(page)); err != nil {
		t.Fatal(err)
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	rw.Release()
	doc, err := html.Parse(strings.NewReader(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), doc
}

// shape lists the document's elements and their attribute names: a
// value may change text and attribute values, never this.
func shape(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			b.WriteString("<" + n.Data)
			for _, a := range n.Attr {
				b.WriteString(" " + a.Key)
			}
			b.WriteString(">")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func byID(n *html.Node, id string) *html.Node {
	if n.Type == html.ElementNode {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				return n
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := byID(c, id); f != nil {
			return f
		}
	}
	return nil
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// asParsed is what a browser's parser makes of v as text or an attribute
// value, once the proxy has dropped the control characters of the
// request's values but tab, line feed, form feed and carriage return:
// line breaks normalized.
func asParsed(v string, inAttr bool) string {
	v = controlsDropped(v)
	v = strings.ReplaceAll(v, "\r\n", "\n")
	return strings.ReplaceAll(v, "\r", "\n")
}

// controlsDropped is v as the proxy uses it: without the control
// characters but tab, line feed, form feed and carriage return.
func controlsDropped(v string) string {
	var b []byte
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 0x20 || c == '\t' || c == '\n' || c == '\f' || c == '\r' {
			b = append(b, c)
		}
	}
	return string(b)
}

// checkPage runs every hostile value through action and the rewriter,
// checks the document keeps its shape (no new element or attribute),
// and hands the parsed document to check.
func checkPage(t *testing.T, action string, check func(t *testing.T, v string, doc *html.Node, p *plan.Plan)) {
	t.Helper()
	m, prog := compiled(t, action)
	_, base := rewritten(t, m, planFor(m, prog, "plain"))
	want := shape(base)
	for _, v := range escapetest.Values {
		p := planFor(m, prog, v)
		out, doc := rewritten(t, m, p)
		if got := shape(doc); got != want {
			t.Errorf("%q: the document's shape changed:\n got  %s\n want %s\n page %s", v, got, want, out)
			continue
		}
		check(t, v, doc, p)
	}
}

func TestTextContext(t *testing.T) {
	checkPage(t, `set_inner: { select: "#t", text: 'Hi {{ cookie("v") }}!' }`, func(t *testing.T, v string, doc *html.Node, _ *plan.Plan) {
		if got, want := text(byID(doc, "t")), "Hi "+asParsed(v, false)+"!"; got != want {
			t.Errorf("%q: text %q, want %q", v, got, want)
		}
	})
}

func TestHTMLContentContext(t *testing.T) {
	checkPage(t, `set_inner: { select: "#t", html: '<b title="{{ cookie("v") }}">{{ cookie("v") }}</b><a href="/s/{{ cookie("v") }}?q={{ cookie("v") }}">go</a>' }`,
		func(t *testing.T, v string, doc *html.Node, _ *plan.Plan) {
			div := byID(doc, "t")
			b, a := div.FirstChild, div.LastChild
			if got := text(b); got != asParsed(v, false) {
				t.Errorf("%q: text %q", v, got)
			}
			if got, _ := attr(b, "title"); got != asParsed(v, true) {
				t.Errorf("%q: title %q", v, got)
			}
			href, _ := attr(a, "href")
			checkRelativeURL(t, v, href, "/s/", "q")
		})
}

// checkRelativeURL checks href is prefix + v as one path segment, then
// ?q= + v as one query parameter, on the page's own site.
func checkRelativeURL(t *testing.T, v, href, prefix, q string) {
	t.Helper()
	if o := escape.OriginOf(href); o != (escape.Origin{}) {
		t.Errorf("%q: %q has origin %+v", v, href, o)
	}
	u, err := url.Parse(href)
	if err != nil {
		t.Errorf("%q: %q: %v", v, href, err)
		return
	}
	seg := strings.TrimPrefix(u.EscapedPath(), prefix)
	if strings.Contains(seg, "/") || !strings.HasPrefix(u.EscapedPath(), prefix) {
		t.Errorf("%q: path %q is not %s + one segment", v, u.EscapedPath(), prefix)
	}
	if got, _ := url.PathUnescape(seg); got != controlsDropped(v) {
		t.Errorf("%q: the segment decodes to %q", v, got)
	}
	if q != "" {
		qs, err := url.ParseQuery(u.RawQuery)
		if err != nil || len(qs) != 1 || len(qs[q]) != 1 || qs[q][0] != controlsDropped(v) {
			t.Errorf("%q: query %q parses as %v (%v)", v, u.RawQuery, qs, err)
		}
	}
}

func TestOrdinaryAttributeContext(t *testing.T) {
	checkPage(t, `set_attr: { select: "#a", name: data-geo, value: 'Paris {{ cookie("v") }}' }`, func(t *testing.T, v string, doc *html.Node, _ *plan.Plan) {
		if got, _ := attr(byID(doc, "a"), "data-geo"); got != "Paris "+asParsed(v, true) {
			t.Errorf("%q: data-geo %q", v, got)
		}
	})
}

func TestURLAttributeContext(t *testing.T) {
	checkPage(t, `set_attr: { select: "#a", name: href, value: '/s/{{ cookie("v") }}?q={{ cookie("v") }}' }`, func(t *testing.T, v string, doc *html.Node, _ *plan.Plan) {
		href, _ := attr(byID(doc, "a"), "href")
		checkRelativeURL(t, v, href, "/s/", "q")
	})
	checkPage(t, `set_attr: { select: "#a", name: href, value: 'https://shop.example/p#{{ cookie("v") }}' }`, func(t *testing.T, v string, doc *html.Node, _ *plan.Plan) {
		href, _ := attr(byID(doc, "a"), "href")
		u, err := url.Parse(href)
		if err != nil || u.Scheme != "https" || u.Host != "shop.example" || u.Path != "/p" || u.Fragment != controlsDropped(v) {
			t.Errorf("%q: %q parses as %+v (%v)", v, href, u, err)
		}
	})
}

// TestURLAttributeAllowList: with schemes, a value may be the whole URL,
// but only with a scheme on the list; any other falls back to the
// default, and is listed in the plan (which the proxy counts).
func TestURLAttributeAllowList(t *testing.T) {
	refusals := 0
	checkPage(t, `set_attr: { select: "#a", name: href, value: '{{ cookie("v") or "/buy" }}', schemes: [https, relative] }`, func(t *testing.T, v string, doc *html.Node, p *plan.Plan) {
		href, _ := attr(byID(doc, "a"), "href")
		o := escape.OriginOf(href)
		if o.Scheme != "" && o.Scheme != "https" || o.Scheme == "" && o.HasAuthority {
			t.Errorf("%q: href %q, origin %+v", v, href, o)
		}
		if len(p.Refused) > 0 {
			refusals++
			if href != "/buy" {
				t.Errorf("%q: refused, yet href is %q, not the default", v, href)
			}
		}
	})
	if refusals == 0 {
		t.Error("no value refused")
	}
}

func TestSrcsetContext(t *testing.T) {
	checkPage(t, `set_attr: { select: "#i", name: srcset, value: '/img/{{ cookie("v") }}.png 1x, /b.png 2x' }`, func(t *testing.T, v string, doc *html.Node, _ *plan.Plan) {
		set, _ := attr(byID(doc, "i"), "srcset")
		parts := strings.Split(set, ", ")
		if len(parts) != 2 || !strings.HasPrefix(parts[0], "/img/") || !strings.HasSuffix(parts[0], ".png 1x") || parts[1] != "/b.png 2x" ||
			strings.ContainsAny(strings.TrimSuffix(parts[0], " 1x"), " ,") {
			t.Errorf("%q: srcset %q", v, set)
		}
	})
}

func TestClassContext(t *testing.T) {
	checkPage(t, `add_class: { select: "#a", class: 'x-{{ cookie("v") }}' }`, func(t *testing.T, v string, doc *html.Node, _ *plan.Plan) {
		class, _ := attr(byID(doc, "a"), "class")
		if words := strings.FieldsFunc(class, func(r rune) bool { return strings.ContainsRune(" \t\n\f\r", r) }); len(words) != 1 {
			t.Errorf("%q: class %q is not one word", v, class)
		}
	})
}

func TestRedirectContext(t *testing.T) {
	m, prog := compiled(t, `redirect: '/p/{{ cookie("v") }}?q={{ cookie("v") }}'`)
	for _, v := range escapetest.Values {
		p := planFor(m, prog, v)
		if p.Redirect == nil {
			t.Errorf("%q: no redirect", v)
			continue
		}
		loc := p.Redirect.Location
		if strings.ContainsAny(loc, "\r\n\x00\\ ") {
			t.Errorf("%q: Location %q", v, loc)
		}
		checkRelativeURL(t, v, loc, "/p/", "q")
	}
}

// TestRedirectBackslash: a manifest that starts a redirect target with
// /\ and a value (which the checker refuses) never redirects to a host.
func TestRedirectBackslash(t *testing.T) {
	m := &plugin.Manifest{ABI: plugin.ABIVersion, Slots: []plugin.Slot{{Attr: "cookie", Arg: "v"}}, Rules: []plugin.Rule{{Name: "r", Actions: []plugin.Action{
		{Op: plugin.OpRedirect, Select: -1, Status: 302, Value: plugin.Template{{Text: `/\`, Slot: -1}, {Slot: 0}}},
	}}}}
	p := planFor(m, plan.Compile(m), "evil.example")
	if p.Redirect != nil {
		t.Fatalf("Location: %s", p.Redirect.Location)
	}
	if len(p.Refused) != 1 || !p.Refused[0].Dropped {
		t.Errorf("refused %+v", p.Refused)
	}
}

func TestHeaderContext(t *testing.T) {
	m, prog := compiled(t, `set_header: { name: X-V, value: 'v={{ cookie("v") }}' }`)
	for _, v := range escapetest.Values {
		h := planFor(m, prog, v).ResponseHeaders[0].Value
		if strings.ContainsFunc(h, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			t.Errorf("%q: header value %q", v, h)
		}
		var buf bytes.Buffer
		(http.Header{"X-V": {h}}).Write(&buf)
		if strings.Count(buf.String(), "\r\n") != 1 {
			t.Errorf("%q: the header writes as %q", v, buf.String())
		}
	}
}

func TestCookieContext(t *testing.T) {
	m, prog := compiled(t, `set_cookie: { name: c, value: '{{ cookie("v") }}' }`)
	for _, v := range escapetest.Values {
		c := planFor(m, prog, v).Cookies[0]
		if err := c.Valid(); err != nil {
			t.Errorf("%q: cookie %q: %v", v, c.Value, err)
		}
		if got, err := url.PathUnescape(c.Value); err != nil || got != controlsDropped(v) {
			t.Errorf("%q: cookie value %q decodes to %q (%v)", v, c.Value, got, err)
		}
		r := http.Request{Header: http.Header{"Cookie": {c.Name + "=" + c.Value}}}
		if got := r.Cookies(); len(got) != 1 || got[0].Value != c.Value {
			t.Errorf("%q: a browser sending the cookie back sends %v", v, got)
		}
	}
}

func TestJSONContext(t *testing.T) {
	m, prog := compiled(t, `json_set: { path: a, value: 'Hi {{ cookie("v") }}' }`)
	for _, v := range escapetest.Values {
		raw := planFor(m, prog, v).JSONEdits[0].Value
		var got string
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Errorf("%q: %s: %v", v, raw, err)
			continue
		}
		want := "Hi " + strings.ToValidUTF8(controlsDropped(v), "\ufffd")
		if got != want && !(!utf8.ValidString(v) && utf8.ValidString(got)) {
			t.Errorf("%q: decodes to %q", v, got)
		}
		if bytes.ContainsAny(raw, "<>&\u2028\u2029") {
			t.Errorf("%q: %s holds bytes that end a script in a page", v, raw)
		}
	}
}

// TestDefaultsAreText: a default is the rule author's text, written as
// such in a URL ("/buy" stays /buy), not escaped as a value would be.
func TestDefaultsAreText(t *testing.T) {
	m, prog := compiled(t, `set_attr: { select: a, name: href, value: '{{ query("u") or "/buy" }}', schemes: [https, relative] }`)
	p := planFor(m, prog, "")
	if got := p.Edits[0].Value; got != "/buy" {
		t.Errorf("href %q, want /buy", got)
	}
	m, prog = compiled(t, `redirect: '/p/{{ query("u") or "a/b?c=d" }}'`)
	if got := planFor(m, prog, "").Redirect.Location; got != "/p/a/b?c=d" {
		t.Errorf("Location %q, want /p/a/b?c=d", got)
	}
}

// TestEmptyValueMakesNoHost: "/{{ v }}/b" with an empty value would be
// "//b", a host: the action falls back to its default, or is dropped.
func TestEmptyValueMakesNoHost(t *testing.T) {
	m, prog := compiled(t, `set_attr: { select: a, name: href, value: '/{{ cookie("v") }}/evil.example' }`)
	p := planFor(m, prog, "")
	for _, e := range p.Edits {
		if o := escape.OriginOf(e.Value); o.HasAuthority {
			t.Errorf("href %q has host %q", e.Value, o.Authority)
		}
	}
	if len(p.Refused) != 1 {
		t.Errorf("refused %+v", p.Refused)
	}
	if p := planFor(m, prog, "fr"); len(p.Edits) != 1 || p.Edits[0].Value != "/fr/evil.example" {
		t.Errorf("edits %+v", p.Edits)
	}
}
