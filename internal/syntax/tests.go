package syntax

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Test is a test case written next to the rules.
type Test struct {
	Name string
	Pos  diag.Pos
	// Context gives attribute values directly, by attribute as written
	// (geo.country, cookie(plan), variant(hero-test), now).
	Context []ContextValue
	// Request describes a request to build the context from instead.
	Request *TestRequest
	// Seen are the items the visitor was already shown, for seen("item"),
	// hide_seen and json_hide_seen.
	Seen []*Text
	// Shown says how many times rules with at_most already applied to the
	// visitor within their window.
	Shown []Count
	// Page is what the origin answers; nil means the page of the request's
	// URL under the file's `pages:`.
	Page *TestPage
	// Match and NoMatch name rules that must, and must not, match.
	Match   []*Text
	NoMatch []*Text
	// Expect holds what the visitor must get: variants, the page, headers,
	// cookies, a redirect, JSON values.
	Expect Expect
	// Incomplete is set when part of the test could not be read (a YAML
	// error, reported): what is missing is not reported again.
	Incomplete bool
	// Then are the visitor's next page views, one after another, each
	// with what the views before it left (items seen, caps counted, the
	// rules' cookies). A view of Then has only URL, Page and what it
	// expects.
	Then []*Test
	// URL is the path a view of Then asks for; nil means the same as the
	// view before it.
	URL *Text
}

// ContextValue is one attribute value of a test's context.
type ContextValue struct {
	Attr  *Text // as written: "geo.country", "cookie(plan)", "cookie.plan"
	Value *Text
}

// Count is a name and a number: a rule and how often it applied.
type Count struct {
	Name *Text
	N    int
	NPos diag.Pos
}

// TestRequest is a request a test builds its context from.
type TestRequest struct {
	Method  string
	URL     string
	Headers [][2]string
	Cookies [][2]string
	// CookiePos and HeaderPos are where each cookie's and header's value is
	// written, CookieNamePos and HeaderNamePos where its name is.
	CookiePos     []diag.Pos
	HeaderPos     []diag.Pos
	CookieNamePos []diag.Pos
	HeaderNamePos []diag.Pos
	// At is the time of the request (RFC 3339); nil means now.
	At  *Text
	Pos diag.Pos
}

// TestPage is the origin's answer to a test's request: a file, relative to
// the rule file, or a body written in the test.
type TestPage struct {
	File *Text
	Body *Text
	// Type is "html" or "json"; empty means from the file's extension,
	// else html.
	Type *Text
	Pos  diag.Pos
}

// Expect is what a test expects the visitor to get, beyond which rules
// match. Nil and empty fields expect nothing.
type Expect struct {
	// Variants names the variant expected in each experiment; a nil Value
	// expects the visitor not to be enrolled.
	Variants []NameValue
	// Page checks elements of the rewritten page.
	Page []PageCheck
	// Headers and RequestHeaders are response headers and headers sent to
	// the origin; Cookies are cookies set. A nil Value expects none.
	Headers        []NameValue
	RequestHeaders []NameValue
	Cookies        []NameValue
	// Redirect, when not nil, expects a redirect (or none).
	Redirect *RedirectCheck
	// JSON checks values of the rewritten JSON response by gjson path; a
	// nil Value expects the path to be missing.
	JSON []NameValue
}

// Written reports whether e holds any expectation as the file wrote it,
// before any is checked: a test whose only expectation was an error is
// not also one that expects nothing.
func (e *Expect) Written() bool {
	return len(e.Variants)+len(e.Page)+len(e.Headers)+len(e.RequestHeaders)+len(e.Cookies)+len(e.JSON) > 0 || e.Redirect != nil
}

// NameValue is a name and an expected value; Value is nil when the thing
// named is expected to be absent.
type NameValue struct {
	Name  *Text
	Value *Text
}

// RedirectCheck expects a redirect to To (with Status when not 0), or no
// redirect when None is set.
type RedirectCheck struct {
	To     *Text
	Status int
	None   bool
	Pos    diag.Pos
}

// PageCheck checks the first element a selector matches in the rewritten
// page, or how many it matches.
type PageCheck struct {
	Select *Text
	// Text expects the element's text (spaces collapsed) to be this;
	// Contains expects it to contain this.
	Text     *Text
	Contains *Text
	// Attrs expects attribute values; a nil Value expects the attribute
	// to be absent.
	Attrs []NameValue
	// Classes expects the element to have these classes.
	Classes []*Text
	// Count, when HasCount, is how many elements must match; Gone is
	// Count 0.
	Count    int
	HasCount bool
	Pos      diag.Pos
}

var testFields = []string{"name", "context", "seen", "shown", "request", "page", "expect", "then"}
var thenFields = []string{"url", "page", "expect"}
var requestFields = []string{"method", "url", "headers", "cookies", "at"}
var pageFields = []string{"file", "body", "type"}
var expectFields = []string{"match", "no_match", "variants", "page", "headers", "request_headers", "cookies", "redirect", "json"}
var pageCheckFields = []string{"text", "contains", "attr", "class", "count", "gone"}

func (d *decoder) tests(f *File, n *yaml.Node) {
	for _, item := range d.sequence(n, "tests") {
		t := &Test{Pos: d.pos(item), Incomplete: d.incomplete(item)}
		swallowed := d.swallowed
		_, meant := d.mappingMeant(item, "a test", testFields, func(key string, k, v *yaml.Node) {
			switch key {
			case "name":
				t.Name, _ = d.scalar(v, "a test's name")
			case "context":
				d.mapping(v, "a test's context", nil, func(key string, k, v *yaml.Node) {
					val, ok := d.text(v, "an attribute value")
					if ok {
						t.Context = append(t.Context, ContextValue{Attr: &Text{Value: key, Pos: d.pos(k), Map: d.mapper(k)}, Value: val})
					}
				})
			case "seen":
				t.Seen = d.texts(v, "seen", "an item id")
			case "shown":
				d.mapping(v, "shown", nil, func(name string, k, cv *yaml.Node) {
					hint := fmt.Sprintf("write how many times the rule already applied in its window, 0 or more: shown: { %s: 2 }", name)
					if n, ok := d.int(cv, hint); ok {
						if n < 0 {
							d.errorf(cv, "a count cannot be negative").WithHint("%s", hint)
							return
						}
						t.Shown = append(t.Shown, Count{Name: &Text{Value: name, Pos: d.pos(k)}, N: n, NPos: d.pos(cv)})
					}
				})
			case "request":
				t.Request = d.request(v)
			case "page":
				t.Page = d.testPage(v)
			case "expect":
				d.testExpect(t, v)
			case "then":
				t.Then = d.thenViews(v)
			}
		})
		if d.swallowed > swallowed || meant["expect"] {
			t.Incomplete = true
		}
		if t.Name == "" && !t.Incomplete && !meant["name"] {
			d.errorf(item, "this test has no name").WithHint("add `name:` saying what the test shows")
		}
		f.Tests = append(f.Tests, t)
	}
}

// testExpect reads what a test, or one of its next views, expects.
func (d *decoder) testExpect(t *Test, v *yaml.Node) {
	before := len(d.errs)
	d.expect(t, v)
	if len(d.errs) > before {
		// What the test expects is not all read: it is not reported as
		// expecting nothing.
		t.Incomplete = true
	}
}

// thenViews reads a test's next views: `then: [ { url, page, expect } ]`.
func (d *decoder) thenViews(n *yaml.Node) []*Test {
	var out []*Test
	for _, item := range d.sequence(n, "then") {
		t := &Test{Pos: d.pos(item), Incomplete: d.incomplete(item)}
		swallowed := d.swallowed
		_, meant := d.mappingMeant(item, "a next view", nil, func(key string, k, v *yaml.Node) {
			switch key {
			default:
				e := d.errorf(k, "unknown field %q in a next view", key)
				switch {
				case contains(expectFields, key):
					e.WithHint("what a view expects goes under expect: (expect: { %s: ... })", key)
					t.Incomplete = true
				case contains(testFields, key) || contains(requestFields, key):
					e.WithHint("a next view is the same visitor's next request: it takes url, page and expect, and keeps the test's headers, cookies and time")
				default:
					if near := diag.Nearest(key, thenFields); near != "" {
						e.WithHint("did you mean %q?", near)
						t.Incomplete = t.Incomplete || near == "expect"
					} else {
						e.WithHint("expected one of: %s", strings.Join(thenFields, ", "))
					}
				}
			case "url":
				if u, ok := d.text(v, "a URL"); ok {
					if !strings.HasPrefix(u.Value, "/") {
						d.errorf(v, "the URL of a next view is a path, found %q", u.Value).WithHint("write url: /path?query")
					} else {
						t.URL = u
					}
				}
			case "page":
				t.Page = d.testPage(v)
			case "expect":
				d.testExpect(t, v)
			}
		})
		if d.swallowed > swallowed || meant["expect"] {
			t.Incomplete = true
		}
		out = append(out, t)
	}
	return out
}

// texts reads one text or a list of texts.
func (d *decoder) texts(v *yaml.Node, what, each string) []*Text {
	var out []*Text
	if v.Kind == yaml.ScalarNode {
		if v.Tag == "!!null" {
			return nil
		}
		if s, ok := d.text(v, each); ok {
			out = append(out, s)
		}
		return out
	}
	for _, e := range d.sequence(v, what) {
		if s, ok := d.text(e, each); ok {
			out = append(out, s)
		}
	}
	return out
}

func (d *decoder) request(v *yaml.Node) *TestRequest {
	r := &TestRequest{Method: "GET", URL: "/", Pos: d.pos(v)}
	d.mapping(v, "a test's request", requestFields, func(key string, k, v *yaml.Node) {
		switch key {
		case "method":
			r.Method, _ = d.scalar(v, "a method")
		case "url":
			r.URL, _ = d.scalar(v, "a URL")
			if r.URL != "" && !strings.HasPrefix(r.URL, "/") {
				d.errorf(v, "the URL of a test's request is a path, found %q", r.URL).WithHint("write url: /path?query; the host comes from a Host header")
			}
		case "at":
			r.At, _ = d.text(v, "a time")
		case "headers", "cookies":
			d.mapping(v, key, nil, func(name string, k, hv *yaml.Node) {
				s, ok := d.scalar(hv, "a value")
				if !ok {
					return
				}
				if key == "headers" {
					r.Headers = append(r.Headers, [2]string{name, s})
					r.HeaderPos, r.HeaderNamePos = append(r.HeaderPos, d.pos(hv)), append(r.HeaderNamePos, d.pos(k))
				} else {
					r.Cookies = append(r.Cookies, [2]string{name, s})
					r.CookiePos, r.CookieNamePos = append(r.CookiePos, d.pos(hv)), append(r.CookieNamePos, d.pos(k))
				}
			})
		}
	})
	return r
}

// testPage reads `page: file.html` or `page: { file | body, type }`.
func (d *decoder) testPage(v *yaml.Node) *TestPage {
	p := &TestPage{Pos: d.pos(v)}
	if v.Kind == yaml.ScalarNode {
		p.File, _ = d.text(v, "a page file")
		return p
	}
	_, meant := d.mappingMeant(v, "a test's page", pageFields, func(key string, k, v *yaml.Node) {
		switch key {
		case "file":
			p.File, _ = d.text(v, "a page file")
		case "body":
			p.Body, _ = d.text(v, "a page body")
		case "type":
			if t, ok := d.text(v, "a page type"); ok {
				switch strings.ToLower(t.Value) {
				case "html", "json":
					t.Value = strings.ToLower(t.Value)
					p.Type = t
				default:
					d.errorf(v, "page type %q is not html or json", t.Value).WithHint("%s", diag.DidYouMean(t.Value, []string{"html", "json"}))
				}
			}
		}
	})
	if (p.File == nil) == (p.Body == nil) && !(p.File == nil && (meant["file"] || meant["body"])) {
		d.errorf(v, "a test's page needs one of `file` or `body`").WithHint("write page: home.html, or page: { body: '<h1>Hello</h1>' }")
	}
	return p
}

func (d *decoder) expect(t *Test, v *yaml.Node) {
	d.mapping(v, "a test's expectations", expectFields, func(key string, k, v *yaml.Node) {
		switch key {
		case "match":
			t.Match = d.texts(v, key, "a rule name")
		case "no_match":
			t.NoMatch = d.texts(v, key, "a rule name")
		case "variants":
			t.Expect.Variants = d.nameValues(v, "variants")
		case "headers":
			t.Expect.Headers = d.nameValues(v, "headers")
		case "request_headers":
			t.Expect.RequestHeaders = d.nameValues(v, "request_headers")
		case "cookies":
			t.Expect.Cookies = d.nameValues(v, "cookies")
		case "json":
			t.Expect.JSON = d.nameValues(v, "json")
		case "redirect":
			t.Expect.Redirect = d.redirectCheck(v)
		case "page":
			d.mapping(v, "page expectations", nil, func(sel string, sk, cv *yaml.Node) {
				if c, ok := d.pageCheck(&Text{Value: sel, Pos: d.pos(sk), Map: d.mapper(sk)}, cv); ok {
					t.Expect.Page = append(t.Expect.Page, c)
				}
			})
			d.commentedChecks(k, v)
		}
	})
}

// nameValues reads a mapping of names to expected values; a null value
// (~, or nothing) expects absence. A value YAML took for a comment
// (X-Theme: #dark) is an error, not nothing: it would expect the header
// absent, the opposite of what is written.
func (d *decoder) nameValues(v *yaml.Node, what string) []NameValue {
	var out []NameValue
	d.mapping(v, what, nil, func(name string, k, nv *yaml.Node) {
		if nv.Kind == yaml.ScalarNode && nv.Tag == "!!null" && nv.Value == "" && d.commentTrap(nv) {
			return
		}
		nvp := NameValue{Name: &Text{Value: name, Pos: d.pos(k), Map: d.mapper(k)}}
		if !isNull(nv) {
			val, ok := d.text(nv, "an expected value")
			if !ok {
				return
			}
			nvp.Value = val
		}
		out = append(out, nvp)
	})
	return out
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// redirectCheck reads `redirect: /to`, `redirect: { to, status }` or
// `redirect: none`.
func (d *decoder) redirectCheck(v *yaml.Node) *RedirectCheck {
	r := &RedirectCheck{Pos: d.pos(v)}
	if v.Kind == yaml.ScalarNode {
		if isNull(v) || v.Value == "none" || v.Value == "false" {
			r.None = true
			return r
		}
		r.To, _ = d.text(v, "a redirect target")
		return r
	}
	_, meant := d.mappingMeant(v, "a redirect expectation", []string{"to", "status"}, func(key string, k, fv *yaml.Node) {
		switch key {
		case "to":
			r.To, _ = d.text(fv, "a redirect target")
		case "status":
			r.Status, _ = d.int(fv, redirectStatusHint)
		}
	})
	if r.To == nil && !meant["to"] {
		d.errorf(v, "a redirect expectation needs `to`").WithHint("write redirect: /new-path, or redirect: none")
	}
	return r
}

// pageCheck reads what a page expectation says of its selector: a text, or
// a mapping of checks.
func (d *decoder) pageCheck(sel *Text, v *yaml.Node) (PageCheck, bool) {
	c := PageCheck{Select: sel, Pos: sel.Pos}
	if v.Kind == yaml.ScalarNode {
		if isNull(v) {
			d.errorf(v, "expected a text or checks for %q, found nothing", sel.Value).
				WithHint(`write "%s": "expected text", or "%s": { gone: true }`, sel.Value, sel.Value)
			return c, false
		}
		t, ok := d.text(v, "an expected text")
		c.Text = t
		return c, ok
	}
	before := len(d.errs)
	d.mapping(v, "checks of "+strconv.Quote(sel.Value), pageCheckFields, func(key string, k, fv *yaml.Node) {
		switch key {
		case "text":
			c.Text, _ = d.text(fv, "an expected text")
		case "contains":
			c.Contains, _ = d.text(fv, "an expected text")
		case "attr":
			c.Attrs = d.nameValues(fv, "attr")
		case "class":
			c.Classes = d.texts(fv, "class", "a class")
		case "count":
			const hint = "write how many elements must match, 0 or more: count: 2, or gone: true for none"
			if n, ok := d.int(fv, hint); ok {
				if n < 0 {
					d.errorf(fv, "a count cannot be negative").WithHint("%s", hint)
				}
				c.Count, c.HasCount = n, true
			}
		case "gone":
			if g, ok := d.bool(fv, "gone"); ok && g {
				c.Count, c.HasCount = 0, true
			}
		}
	})
	if c.HasCount && c.Count == 0 && (c.Text != nil || c.Contains != nil || len(c.Attrs) > 0 || len(c.Classes) > 0) {
		d.errorf(v, "%q is expected gone, and to have content: it cannot be both", sel.Value).WithHint("keep gone: true, or the checks of what it holds")
	}
	return c, len(d.errs) == before
}

// commentedChecks reports the lines under `page:` (its key k, its value
// v) that YAML read as comments but that are written as checks: an
// unquoted selector that starts with # (#promo: { gone: true }) makes
// its whole line a comment, and the check was left out without a word,
// the test passing on the checks around it.
func (d *decoder) commentedChecks(k, v *yaml.Node) {
	col := 0 // the column of the checks, when there are any
	switch {
	case v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0:
		col = v.Content[0].Column
	case isNull(v):
	default:
		return
	}
	indent := k.Column - 1 // lines under page: are indented more
	for line := k.Line + 1; line <= len(d.lines); line++ {
		start, end := d.lines[line-1], len(d.src)
		if line < len(d.lines) {
			end = d.lines[line]
		}
		s := strings.TrimRight(d.str(start, end), "\r\n")
		t := strings.TrimLeft(s, " ")
		at := len(s) - len(t)
		switch {
		case t == "":
			continue
		case t[0] != '#':
			if at <= indent {
				return
			}
			continue
		case col != 0 && at+1 != col || col == 0 && at <= indent:
			continue
		case len(t) < 2 || t[1] == ' ' || t[1] == '\t' || t[1] == '#':
			// A comment written as one starts with "# ".
			continue
		}
		i := strings.Index(t, ": ")
		if i < 0 && strings.HasSuffix(t, ":") {
			i = len(t) - 1
		}
		if i < 0 {
			continue
		}
		sel := t[:i]
		d.errs.Add(diag.Errorf(d.posAt(start+at), "%q is read as a YAML comment: a # at the start of a line starts one, so this check of the page is left out", sel).
			WithHint("quote the selector: \"%s\"%s", sel, t[i:]).WithCode("yaml-comment"))
	}
}
