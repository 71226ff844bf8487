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
