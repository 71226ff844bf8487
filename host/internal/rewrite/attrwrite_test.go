package rewrite

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// tagShapes are start tags whose attribute boundaries are easy to get
// wrong: empty unquoted values before '>', names starting with '=',
// attributes with no whitespace between them, slashes between and after
// attributes, values with quotes in them.
var tagShapes = []string{
	`<a href=/x title=>`,
	`<a a=>`,
	`<a a= >`,
	"<a a=\n\t>",
	`<z ==>`,
	`<a b=/>`,
	`<a b=x/>`,
	`<a b/>`,
	`<a b />`,
	`<a b>`,
	`<a b="1"c>`,
	`<a b="1"c=2>`,
	`<a b='1'/c>`,
	`<a c b="1"=x>`,
	`<a b=1 c="2"/d>`,
	`<a b=1 c="2"/>`,
	"<a\nb\n=\n\"1\"\n>",
	`<a b =c>`,
	`<a =x>`,
	`<a/b>`,
	`<a title= data-x=1>`,
	`<a b="1"title=>`,
	`<a b=c"d>`,
	`<a b=&quot; c>`,
	`<a b= c=>`,
	`<a x="1"y="2"z>`,
	`<a b c d>`,
	`<a b/=c>`,
	`<a//b//c=>`,
	`<a 'b'=c "d">`,
	`<a b=1 class=x>`,
	`<a class= >`,
	`<a class="x"=>`,
	`<a b c=>`,
	`<div id=x/ class=>`,
}

// startTag tokenizes the first start tag of s as a browser does and
// returns its name, attributes (the first of each name: the tree builder
// drops later duplicates) and whether it is self-closing.
func startTag(t *testing.T, s string) (string, []html.Attribute, bool) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			t.Fatalf("no start tag in %q", s)
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			var attrs []html.Attribute
			for _, a := range tok.Attr {
				if !slices.ContainsFunc(attrs, func(b html.Attribute) bool { return b.Key == a.Key }) {
					attrs = append(attrs, a)
				}
			}
			return tok.Data, attrs, tok.Type == html.SelfClosingTagToken
		}
	}
}

// wantAttrs applies one attribute edit to attrs as its meaning says.
func wantAttrs(attrs []html.Attribute, e Edit) []html.Attribute {
	out := slices.Clone(attrs)
	i := slices.IndexFunc(out, func(a html.Attribute) bool { return a.Key == strings.ToLower(e.Attr) })
	switch e.Op {
	case SetAttr:
		if i >= 0 {
			out[i].Val = e.Value
		} else {
			out = append(out, html.Attribute{Key: strings.ToLower(e.Attr), Val: e.Value})
		}
	case RemoveAttr:
		if i >= 0 {
			out = slices.Delete(out, i, i+1)
		}
	case AddClass:
		j := slices.IndexFunc(out, func(a html.Attribute) bool { return a.Key == "class" })
		switch {
		case j < 0:
			out = append(out, html.Attribute{Key: "class", Val: e.Attr})
		case !slices.Contains(strings.Fields(out[j].Val), e.Attr):
			out[j].Val = strings.Join(append(strings.Fields(out[j].Val), e.Attr), " ")
		}
	}
	return out
}

// TestAttributeBoundaries edits every attribute of every tag shape (set
// it, remove it) and adds attributes and classes, then tokenizes the
// result with x/net/html: the tag must hold exactly the attributes the
// edit meant, with their values, and stay self-closing or not. Among
// them the injection `<a href=/x title=>` + set_attr data-geo="Paris
// onmouseover=alert(1)", which once gave the browser an onmouseover
// attribute.
func TestAttributeBoundaries(t *testing.T) {
	const hostile = `Paris onmouseover=alert(1) x="y" '/>`
	for _, shape := range tagShapes {
		name, attrs, selfClosing := startTag(t, shape)
		in := shape + "t</" + name + ">"
		var es []Edit
		for _, a := range attrs {
			if !validName(a.Key) {
				continue // a selector or rule cannot name it
			}
			es = append(es,
				Edit{Op: SetAttr, Attr: a.Key, Value: hostile},
				Edit{Op: RemoveAttr, Attr: a.Key})
		}
		es = append(es,
			Edit{Op: SetAttr, Attr: "data-geo", Value: hostile},
			Edit{Op: SetAttr, Attr: "title", Value: ""},
			Edit{Op: AddClass, Attr: "promo"})
		for _, e := range es {
			t.Run(fmt.Sprintf("%s/%s %s", shape, e.Op, e.Attr), func(t *testing.T) {
				e.Selector = 0
				out, _ := run(t, []string{name}, []Edit{e}, Options{}, in)
				gotName, got, gotSelf := startTag(t, out)
				want := wantAttrs(attrs, e)
				if gotName != name || gotSelf != selfClosing || !slices.Equal(got, want) {
					t.Errorf("%s with %s %s=%q\n out:  %q\n got:  %s %v self-closing=%v\n want: %s %v self-closing=%v",
						shape, e.Op, e.Attr, e.Value, out, gotName, got, gotSelf, name, want, selfClosing)
				}
			})
		}
	}
}

// TestInjectionThroughEmptyValue is the reported case, byte for byte.
func TestInjectionThroughEmptyValue(t *testing.T) {
	out, _ := run(t, []string{"a"}, []Edit{{Selector: 0, Op: SetAttr, Attr: "data-geo", Value: "Paris onmouseover=alert(1)"}}, Options{},
		`<a href=/x title=>link</a>`)
	if want := `<a href=/x title="" data-geo="Paris onmouseover=alert(1)">link</a>`; out != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

// TestInterpolatedCodeTargets: a value holding the visitor's values does
// not become the address of a script, style sheet or base, nor a
// refresh; the author's own text does.
func TestInterpolatedCodeTargets(t *testing.T) {
	tests := []struct {
		sel, attr, in, want string
	}{
		{"script", "src", `<script src="/a.js"></script>`, `<script src="/a.js"></script>`},
		{"link", "href", `<link rel=stylesheet href=/a.css>`, `<link rel=stylesheet href=/a.css>`},
		{"base", "href", `<base href="/">`, `<base href="/">`},
		{"svg script", "xlink:href", `<svg><script xlink:href=/a.js></script></svg>`, `<svg><script xlink:href=/a.js></script></svg>`},
		{"meta", "content", `<meta http-equiv=refresh content="5;url=/next">`, `<meta http-equiv=refresh content="5;url=/next">`},
		{"meta", "content", `<meta name=description content="x">`, `<meta name=description content="/v">`},
		{"img", "src", `<img src=/a.png>`, `<img src="/v">`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e := Edit{Op: SetAttr, Attr: tt.attr, Value: "/v", Interpolated: true}
			out, applied := run(t, []string{tt.sel}, []Edit{e}, Options{}, tt.in)
			if out != tt.want {
				t.Errorf("interpolated: got %s, want %s (applied %v)", out, tt.want, applied)
			}
			e.Interpolated = false
			out, _ = run(t, []string{tt.sel}, []Edit{e}, Options{}, tt.in)
			if !strings.Contains(out, `="/v"`) {
				t.Errorf("the author's own value was not written: %s", out)
			}
		})
	}
}

// TestInterpolatedCodeByElement: whether a value of the request may go
// in an attribute depends on the element as the edits leave it. The
// reported case: a <meta name="description"> that one edit gives
// http-equiv="refresh" and another a content from the query, in either
// order, was a refresh to any site; a <script type="text/plain"> whose
// type came from a value ran. Such an edit does not apply and is counted
// refused; the rule author's own text still applies; a Splicer writes
// and counts what the Rewriter does.
func TestInterpolatedCodeByElement(t *testing.T) {
	lit := func(name, v string) Edit { return Edit{Op: SetAttr, Attr: name, Value: v} }
	val := func(name, v string) Edit { return Edit{Op: SetAttr, Attr: name, Value: v, Interpolated: true} }
	const evil = "0;url=https://evil.example/"
	const meta = `<head><meta id="m2" name="description" content="shop"></head><p>x</p>`
	tests := []struct {
		name, page string
		edits      []Edit
		want       string
		refused    []int
	}{
		{"http-equiv, then a content from the request", meta, []Edit{lit("http-equiv", "refresh"), val("content", evil)},
			`<head><meta id="m2" name="description" content="shop" http-equiv="refresh"></head><p>x</p>`, []int{0, 1}},
		{"a content from the request, then http-equiv", meta, []Edit{val("content", evil), lit("http-equiv", "refresh")},
			`<head><meta id="m2" name="description" content="shop" http-equiv="refresh"></head><p>x</p>`, []int{1, 0}},
		{"the author's own content", meta, []Edit{val("content", evil), lit("http-equiv", "refresh"), lit("content", "5")},
			`<head><meta id="m2" name="description" content="5" http-equiv="refresh"></head><p>x</p>`, []int{1, 0, 0}},
		{"without http-equiv, the content is data", meta, []Edit{val("content", "Shop in Lyon")},
			`<head><meta id="m2" name="description" content="Shop in Lyon"></head><p>x</p>`, []int{0}},
		{"http-equiv removed", `<meta id="m2" http-equiv="refresh" content="5">`, []Edit{val("content", "Lyon"), {Op: RemoveAttr, Attr: "http-equiv"}},
			`<meta id="m2" content="Lyon">`, []int{0, 0}},
		{"the page's http-equiv in another case", `<META ID="m2" HTTP-EQUIV="Refresh" CONTENT="5">`, []Edit{val("content", evil)},
			`<META ID="m2" HTTP-EQUIV="Refresh" CONTENT="5">`, []int{1}},
		{"http-equiv from the request", meta, []Edit{val("http-equiv", "refresh"), val("content", "Lyon")},
			`<head><meta id="m2" name="description" content="Lyon"></head><p>x</p>`, []int{1, 0}},
		{"an inert script's type", `<script id="m2" type="text/plain">alert(1)</script>`, []Edit{val("type", "module")},
			`<script id="m2" type="text/plain">alert(1)</script>`, []int{1}},
		{"an inert script's language", `<script id="m2" language="x">alert(1)</script>`, []Edit{val("language", "javascript")},
			`<script id="m2" language="x">alert(1)</script>`, []int{1}},
		{"the author's script type", `<script id="m2" type="text/plain">alert(1)</script>`, []Edit{lit("type", "module")},
			`<script id="m2" type="module">alert(1)</script>`, []int{0}},
		{"an inert style sheet", `<style id="m2" type="text/plain">p{}</style>`, []Edit{val("type", "text/css")},
			`<style id="m2" type="text/plain">p{}</style>`, []int{1}},
		{"a link's rel", `<link id="m2" rel="prefetch" href="/x.css">`, []Edit{val("rel", "stylesheet")},
			`<link id="m2" rel="prefetch" href="/x.css">`, []int{1}},
		{"the page's encoding", `<meta id="m2" charset="utf-8">`, []Edit{val("charset", "iso-2022-jp")},
			`<meta id="m2" charset="utf-8">`, []int{1}},
		{"an object's type", `<object id="m2" data="/u/a.txt"></object>`, []Edit{val("type", "text/html")},
			`<object id="m2" data="/u/a.txt"></object>`, []int{1}},
		{"an input's type is data", `<input id="m2" type="text">`, []Edit{val("type", "email")},
			`<input id="m2" type="email">`, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.edits {
				tt.edits[i].Selector = 0
			}
			out, applied := run(t, []string{"#m2"}, tt.edits, Options{}, tt.page)
			if out != tt.want {
				t.Errorf("got  %s\nwant %s", out, tt.want)
			}
			p := mustCompile("#m2")
			var b strings.Builder
			rw := p.NewRewriter(&b, tt.edits, Options{})
			rw.Write([]byte(tt.page))
			rw.Close()
			refused := rw.Refused()
			if n := rw.RefusedTotal(); n != sum(refused) {
				t.Errorf("RefusedTotal %d, Refused %v", n, refused)
			}
			rw.Release()
			if !slices.Equal(refused, tt.refused) {
				t.Errorf("refused %v, want %v (applied %v)", refused, tt.refused, applied)
			}
			// A Splicer, with the page's map.
			mb := p.NewMapBuilder(1 << 20)
			mb.Write([]byte(tt.page))
			m := mb.Close()
			mb.Release()
			b.Reset()
			sp := p.NewSplicer(&b, m, tt.edits, Options{})
			sp.Write([]byte(tt.page))
			sp.Close()
			if !sp.Used() || sp.FellBack() >= 0 {
				t.Errorf("the map was not used (used %v, fell back at %d)", sp.Used(), sp.FellBack())
			}
			if got := b.String(); got != tt.want || !slices.Equal(sp.Refused(), tt.refused) || !slices.Equal(sp.Applied(), applied) {
				t.Errorf("spliced: %s, refused %v, applied %v; want %v, %v", got, sp.Refused(), sp.Applied(), tt.refused, applied)
			}
			sp.Release()
		})
	}
}

// TestInterpolatedCodeText: content holding the visitor's values does
// not go into a <script> or <style>; next to it, and the author's own
// content, does.
func TestInterpolatedCodeText(t *testing.T) {
	in := `<script id=s>var a=1</script><style>p{}</style><svg><script>x</script></svg><p>t</p>`
	for _, op := range []Op{SetInner, Prepend, Append} {
		es := []Edit{
			{Selector: 0, Op: op, Content: []byte("alert(1)"), Interpolated: true},
			{Selector: 1, Op: op, Content: []byte("v"), Interpolated: true},
			{Selector: 0, Op: InsertAfter, Content: []byte("<i>v</i>"), Interpolated: true},
		}
		out, applied := run(t, []string{"script, style", "p"}, es, Options{}, in)
		if strings.Contains(out, "alert(1)") || applied[0] != 0 || applied[1] != 1 || applied[2] != 3 {
			t.Errorf("%s: %s (applied %v)", op, out, applied)
		}
		es[0].Interpolated = false
		out, applied = run(t, []string{"script, style", "p"}, es, Options{}, in)
		if applied[0] != 3 {
			t.Errorf("%s of the author's own text: %s (applied %v)", op, out, applied)
		}
	}
}

// FuzzAttributeBoundaries: for any start tag the scanner and x/net/html
// read alike, setting, removing and adding attributes and classes gives
// a tag a browser reads as exactly the attributes meant.
func FuzzAttributeBoundaries(f *testing.F) {
	for _, s := range tagShapes {
		f.Add(s, "x\" onmouseover=alert(1) y='", uint8(0))
	}
	f.Fuzz(func(t *testing.T, tag, value string, which uint8) {
		if !strings.HasPrefix(tag, "<") || strings.Count(tag, ">") != 1 || !strings.HasSuffix(tag, ">") || strings.ContainsAny(tag, "\x00\r") {
			return
		}
		z := html.NewTokenizer(strings.NewReader(tag))
		if tt := z.Next(); tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			return
		}
		name, attrs, self := startTag(t, tag)
		if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz") != "" || rawOrSpecial(name) {
			return
		}
		// The scanner must read the same attributes (else it is its
		// business, not the writer's).
		var facts tagFacts
		var list []attr
		b := []byte(tag)
		nameEnd := 1
		for nameEnd < len(b) && byteClass[b[nameEnd]]&cNameEnd == 0 {
			nameEnd++
		}
		if scanAttrs(b, nameEnd, &facts, &list) < 0 {
			return
		}
		var scanned []string
		for _, a := range list {
			k := strings.ToLower(string(b[a.nameLo:a.nameHi]))
			if !slices.Contains(scanned, k) {
				scanned = append(scanned, k)
			}
		}
		if len(scanned) != len(attrs) {
			return
		}
		// x/net/html calls a tag self-closing whenever "/>" ends it; in
		// HTML's tokenizer, a '/' in an unquoted value is the value's
		// ("<a b=/>": b is "/", and the tag does not close itself). An
		// unquoted value, alone, runs to the '>'.
		if n := len(list); n > 0 && self {
			if last := list[n-1]; last.valLo >= 0 && int(last.valHi) == len(b)-1 {
				self = false
			}
		}
		for i := range attrs {
			if scanned[i] != attrs[i].Key {
				return
			}
		}
		var es []Edit
		for _, a := range attrs {
			if validName(a.Key) {
				es = append(es, Edit{Op: SetAttr, Attr: a.Key, Value: value}, Edit{Op: RemoveAttr, Attr: a.Key})
			}
		}
		es = append(es, Edit{Op: SetAttr, Attr: "data-geo", Value: value}, Edit{Op: AddClass, Attr: "promo"})
		e := es[int(which)%len(es)]
		e.Selector = 0
		out, _ := run(t, []string{name}, []Edit{e}, Options{}, tag+"t</"+name+">")
		gotName, got, gotSelf := startTag(t, out)
		self, gotSelf = self && !slashInValue(tag), gotSelf && !slashInValue(out)
		// What a browser reads of the value: NUL replaced, line breaks
		// normalized.
		parsed := strings.NewReplacer("\x00", "\ufffd", "\r\n", "\n", "\r", "\n").Replace
		e.Value = parsed(e.Value)
		want := wantAttrs(attrs, e)
		if gotName != name || gotSelf != self || !slices.Equal(got, want) {
			t.Fatalf("%q with %s %s=%q\n out:  %q\n got:  %v %v\n want: %v %v", tag, e.Op, e.Attr, e.Value, out, got, gotSelf, want, self)
		}
	})
}

// slashInValue reports whether the start tag that s begins with ends in
// an unquoted value, whose last byte x/net/html then takes for the '/' of
// "/>": it calls a tag self-closing whenever "/>" ends it, where HTML's
// tokenizer reads a '/' in an unquoted value as the value's ("<a b=/>":
// b is "/", and the tag does not close itself).
func slashInValue(s string) bool {
	b := []byte(s)
	nameEnd := 1
	for nameEnd < len(b) && byteClass[b[nameEnd]]&cNameEnd == 0 {
		nameEnd++
	}
	var facts tagFacts
	var list []attr
	gt := scanAttrs(b, nameEnd, &facts, &list)
	return gt >= 0 && len(list) > 0 && list[len(list)-1].valLo >= 0 && int(list[len(list)-1].valHi) == gt
}

// rawOrSpecial names elements whose start tag changes how what follows
// is read, which the comparison above does not model.
func rawOrSpecial(name string) bool {
	switch name {
	case "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext", "svg", "math", "template", "html", "head", "body", "table", "tr", "td", "th", "select", "frameset", "image":
		return true
	}
	return false
}
