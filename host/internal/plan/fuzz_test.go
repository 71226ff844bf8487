package plan_test

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/escape"
	"github.com/bespoke-edge/bespoke/internal/escape/escapetest"
	"github.com/bespoke-edge/bespoke/plugin"
)

// injectionActions write a visitor's value (cookie("v")) into every kind
// of place: text, markup, an ordinary attribute, URL attributes (fixed
// by their literal text, or under a scheme allow-list), a srcset, a
// class. check says what the value must have become.
var injectionActions = []struct {
	action string
	// check returns "" or what is wrong with element e (the target),
	// given the value v.
	check func(e *html.Node, v string) string
}{
	{`set_inner: { select: "#w > *", text: 'Hi {{ cookie("v") }}' }`, func(e *html.Node, v string) string {
		if got := text(e); got != "Hi "+asParsed(v, false) {
			return "text " + got
		}
		return ""
	}},
	{`set_inner: { select: "#w > *", html: '<b title="{{ cookie("v") }}">{{ cookie("v") }}</b><a href="/p/{{ cookie("v") }}">x</a>' }`, func(e *html.Node, v string) string {
		b := e.FirstChild
		if b == nil || b.Data != "b" || text(b) != asParsed(v, false) {
			return "markup text " + text(e)
		}
		if got, _ := attr(b, "title"); got != asParsed(v, true) {
			return "markup title " + got
		}
		return ""
	}},
	{`set_attr: { select: "#w > *", name: data-geo, value: '{{ cookie("v") }}' }`, func(e *html.Node, v string) string {
		if got, _ := attr(e, "data-geo"); got != asParsed(v, true) {
			return "data-geo " + got
		}
		return ""
	}},
	{`set_attr: { select: "#w > *", name: title, value: 'a {{ cookie("v") }}' }`, func(e *html.Node, v string) string {
		if got, _ := attr(e, "title"); got != "a "+asParsed(v, true) {
			return "title " + got
		}
		return ""
	}},
	{`set_attr: { select: "#w > *", name: href, value: '/p/{{ cookie("v") }}?q={{ cookie("v") }}#{{ cookie("v") }}' }`, nil},
	{`set_attr: { select: "#w > *", name: href, value: '{{ cookie("v") or "/buy" }}', schemes: [https, relative] }`, nil},
	{`set_attr: { select: "#w > *", name: srcset, value: '/i/{{ cookie("v") }}.png 1x, /j.png {{ cookie("v") }}' }`, nil},
	{`set_attr: { select: "#w > *", name: ping, value: '/a /p/{{ cookie("v") }}' }`, nil},
	{`add_class: { select: "#w > *", class: 'c-{{ cookie("v") }}' }`, nil},
}

// injectionShapes are start tags the value's element may have, among
// them those whose attribute boundaries are easy to get wrong.
var injectionShapes = []string{
	`<a href=/x title=>`, `<a a=>`, `<a a= >`, `<z ==>`, `<a b=/>`, `<a b="1"c>`, `<img src=/i.png/>`,
	`<p class= >`, `<a href="/x" class=c title='t'>`, `<div data-x=a/b>`, `<span//title=x//>`,
}

// FuzzInjection writes a value through the real plan and the real
// rewriter into an element of some start-tag shape, parses the page with
// x/net/html, and checks that the value added no element and no
// attribute (the document has the shape a plain value gives it), that
// every URL attribute points at the page's own site (or, under the
// allow-list, an https URL), and that text and attribute values read
// back as the value.
func FuzzInjection(f *testing.F) {
	for i, v := range escapetest.Values {
		f.Add(v, uint8(i), uint8(i/3))
	}
	type compiledAction struct {
		m    *plugin.Manifest
		prog *plan.Program
		sels *rewrite.Program
	}
	var cs []compiledAction
	for _, a := range injectionActions {
		res, err := compiler.Compile("fuzz.yaml", []byte("rules:\n  - name: r\n    actions:\n      - "+a.action+"\n"))
		if err != nil {
			f.Fatal(err)
		}
		sels, err := rewrite.CompileStrings(res.Artifact.Manifest.Selectors)
		if err != nil {
			f.Fatal(err)
		}
		cs = append(cs, compiledAction{res.Artifact.Manifest, plan.Compile(res.Artifact.Manifest), sels})
	}
	page := func(c compiledAction, shape, v string) (string, *html.Node) {
		p := planFor(c.m, c.prog, v)
		var out bytes.Buffer
		rw := c.sels.NewRewriter(&out, p.Edits, rewrite.Options{})
		rw.Write([]byte(`<body><div id=w>` + shape + `t</div><p id=after>after</p></body>`))
		rw.Close()
		rw.Release()
		doc, err := html.Parse(strings.NewReader(out.String()))
		if err != nil {
			panic(err)
		}
		return out.String(), doc
	}
	f.Fuzz(func(t *testing.T, v string, action, shapeIdx uint8) {
		ai := int(action) % len(cs)
		c := cs[ai]
		shape := injectionShapes[int(shapeIdx)%len(injectionShapes)]
		_, plain := page(c, shape, "plain")
		out, doc := page(c, shape, v)
		if got, want := shapeOf(doc), shapeOf(plain); got != want {
			t.Fatalf("%s\non %s, %q changed the document:\n got  %s\n want %s\n page %s", injectionActions[ai].action, shape, v, got, want, out)
		}
		if bad := urlsElsewhere(doc, strings.Contains(injectionActions[ai].action, "schemes")); bad != "" {
			t.Fatalf("%s\non %s, %q: %s\n page %s", injectionActions[ai].action, shape, v, bad, out)
		}
		if check := injectionActions[ai].check; check != nil {
			if e := byID(doc, "w").FirstChild; e != nil && !(e.Data == "img" && strings.HasPrefix(injectionActions[ai].action, "set_inner")) {
				if bad := check(e, v); bad != "" {
					t.Fatalf("%s\non %s, %q: %s\n page %s", injectionActions[ai].action, shape, v, bad, out)
				}
			}
		}
	})
}

// shapeOf is shape (elements and attribute names), without the values.
func shapeOf(n *html.Node) string { return shape(n) }

// urlsElsewhere returns "" when every URL in a URL attribute of the
// document is on the page's own site, or (allowHTTPS) an https URL.
func urlsElsewhere(n *html.Node, allowHTTPS bool) string {
	if n.Type == html.ElementNode {
		for _, a := range n.Attr {
			k, _ := escape.AttrKind(a.Key)
			if k != escape.URL && k != escape.URLs && k != escape.SrcSet {
				continue
			}
			if !escape.Allowed(a.Val, []string{"relative"}) && !(allowHTTPS && escape.Allowed(a.Val, []string{"https"})) {
				if !(k != escape.URL && allRelative(k, a.Val)) {
					return a.Key + "=" + a.Val + " points elsewhere"
				}
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if bad := urlsElsewhere(c, allowHTTPS); bad != "" {
			return bad
		}
	}
	return ""
}

// allRelative reports whether each URL of a list attribute is relative.
func allRelative(k escape.Kind, s string) bool {
	for _, u := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if o := escape.OriginOf(u); o.Scheme != "" || o.HasAuthority {
			if k == escape.SrcSet && !strings.ContainsAny(u, ":/\\") {
				continue // a descriptor
			}
			return false
		}
	}
	return true
}
