package rewrite

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"

	"github.com/bespoke-edge/bespoke/internal/selector"
)

// pageSelectors derives up to n selectors from a page's own elements, of
// the kinds editors write for it: its classes and ids (escaped as
// CSS.escape does, which the utility classes of CSS frameworks need:
// md:flex, w-1/2), attribute values with each operator, and those joined
// to a parent, an ancestor, a position or a negation. The fixed selector
// lists find how the tree is built; these find how real class lists, ids
// and values are matched. A selector cascadia cannot compile is left out
// (the reference must read it); one bespoke cannot compile fails t, as
// browsers read every selector made here.
//
// With forCascadia, the selectors are for a comparison with cascadia,
// which differs from browsers on two points, and none compares a value
// where they apply: it compares the values of the attributes HTML
// compares case-insensitively ([charset="utf-8"] selects
// charset="UTF-8") case-sensitively, it reads [href] as selecting svg's
// xlink:href, which is in a namespace, it does not fold the case of
// classes and ids in quirks mode (.content selects class="Content"), and
// it does not select class=" " with [class$=" "] or [class^=" "].
func pageSelectors(t testing.TB, page string, s uint64, n int, forCascadia bool) []string {
	doc, err := browserParse(page)
	if err != nil {
		t.Fatal(err)
	}
	var elems []*html.Node
	// Without forCascadia, the selectors are for TestRealPagesChromium,
	// which marks what they select with classes: a selector that reads
	// the class attribute's value would read the marks too.
	unsafe := map[string]bool{"space": forCascadia, "attr:class": !forCascadia}
	spellings := map[string][]string{}
	for e := range doc.Descendants() {
		if e.Type != html.ElementNode {
			continue
		}
		if e.Namespace == "" && len(e.Attr) > 0 {
			elems = append(elems, e)
		}
		for _, a := range e.Attr {
			if a.Namespace != "" || a.Val != strings.ToLower(a.Val) && folded(a.Key) {
				unsafe["attr:"+a.Key] = unsafe["attr:"+a.Key] || forCascadia
			}
			if a.Namespace == "" && (a.Key == "class" || a.Key == "id") {
				for _, w := range strings.FieldsFunc(a.Val, isHTMLSpace) {
					spellings[strings.ToLower(w)] = append(spellings[strings.ToLower(w)], w)
				}
			}
		}
	}
	for low, ws := range spellings {
		slices.Sort(ws)
		if len(slices.Compact(ws)) > 1 {
			unsafe["word:"+low] = forCascadia
		}
	}
	if len(elems) == 0 {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte(page))
	rng := rand.New(rand.NewPCG(s, h.Sum64()))
	var out []string
	for tries := 0; len(out) < n && tries < 4*n; tries++ {
		e := elems[rng.IntN(len(elems))]
		sel := derive(rng, e, unsafe)
		if sel == "" || slices.Contains(out, sel) {
			continue
		}
		if _, err := cascadia.Compile(sel); err != nil {
			continue
		}
		// Chromium reads a page without a declared charset as
		// windows-1252, where a UTF-8 value is other characters.
		if !forCascadia && strings.ContainsFunc(sel, func(r rune) bool { return r >= utf8.RuneSelf }) {
			continue
		}
		if _, err := CompileStrings([]string{sel}); err != nil {
			t.Errorf("%q, made from the page's element <%s %v>, does not compile: %v", sel, e.Data, e.Attr, err)
			continue
		}
		out = append(out, sel)
	}
	return out
}

// derive makes one selector that selects e (in a browser), or "" when e
// has nothing the form picked can use.
func derive(rng *rand.Rand, e *html.Node, unsafe map[string]bool) string {
	classes := strings.FieldsFunc(attrOf(e, "class"), isHTMLSpace)
	class := func(n *html.Node) string {
		cl := strings.FieldsFunc(attrOf(n, "class"), isHTMLSpace)
		if len(cl) == 0 {
			return ""
		}
		c := cl[rng.IntN(len(cl))]
		if unsafe["word:"+strings.ToLower(c)] {
			return ""
		}
		return "." + cssIdent(c)
	}
	// A name as the parser has it (xhtml:link, as a page may write
	// one), escaped to read as one type selector.
	tag := cssIdent(e.Data)
	own := class(e)
	if id := attrOf(e, "id"); id != "" && !unsafe["word:"+strings.ToLower(id)] && rng.IntN(3) == 0 {
		own = "#" + cssIdent(id)
	}
	a := e.Attr[rng.IntN(len(e.Attr))]
	name := cssIdent(a.Key)
	form := rng.IntN(12)
	if unsafe["attr:"+a.Key] && form >= 3 && form <= 7 || a.Key == "class" && !unsafe["space"] && form == 4 {
		return ""
	}
	// The value (or part of one) the form compares: in quotes, escaped.
	quoted := func(v string) string {
		if unsafe["space"] && strings.TrimFunc(v, isHTMLSpace) != v {
			return ""
		}
		return cssString(v)
	}
	attrSel := func(op, v string) string {
		q := quoted(v)
		if q == "" {
			return ""
		}
		return "[" + name + op + q + "]"
	}
	switch form {
	case 0, 1:
		return own
	case 2:
		if own == "" {
			return ""
		}
		return tag + own
	case 3:
		return attrSel("=", a.Val)
	case 4:
		return fmt.Sprintf("%s[%s]", tag, name)
	case 5:
		// A prefix, a suffix or a part of the value, of a few runes.
		r := []rune(a.Val)
		if len(r) == 0 {
			return ""
		}
		k := 1 + rng.IntN(min(len(r), 8))
		switch rng.IntN(3) {
		case 0:
			return attrSel("^=", string(r[:k]))
		case 1:
			return attrSel("$=", string(r[len(r)-k:]))
		default:
			i := rng.IntN(len(r) - k + 1)
			return attrSel("*=", string(r[i:i+k]))
		}
	case 6:
		words := strings.FieldsFunc(a.Val, isHTMLSpace)
		if len(words) == 0 {
			return ""
		}
		return attrSel("~=", words[rng.IntN(len(words))])
	case 7:
		first, _, _ := strings.Cut(a.Val, "-")
		return attrSel("|=", first)
	case 8:
		p := e.Parent
		if own == "" || p == nil || p.Type != html.ElementNode {
			return ""
		}
		if pc := class(p); pc != "" {
			return cssIdent(p.Data) + pc + " > " + tag + own
		}
		return cssIdent(p.Data) + " > " + own
	case 9:
		for p := e.Parent; p != nil && p.Type == html.ElementNode; p = p.Parent {
			if pc := class(p); pc != "" && rng.IntN(2) == 0 {
				return pc + " " + tag
			}
		}
		return ""
	case 10:
		if len(classes) == 0 {
			return ""
		}
		return own + []string{":first-child", ":nth-child(2)", ":first-of-type", ":nth-of-type(odd)"}[rng.IntN(4)]
	default:
		if own == "" {
			return ""
		}
		return ":not(" + own + ") > " + tag
	}
}

// folded reports whether HTML compares the values of attribute name
// case-insensitively in selectors.
func folded(name string) bool {
	l, err := selector.Parse("[" + cssIdent(name) + "=x]")
	return err == nil && l[0].Compounds[len(l[0].Compounds)-1].Attrs[0].Fold
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r'
}

// cssIdent serializes s as a CSS identifier, as CSSOM's CSS.escape does.
func cssIdent(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == 0:
			b.WriteRune(utf8.RuneError)
		case r < 0x20 || r == 0x7f,
			i == 0 && r >= '0' && r <= '9',
			i == 1 && r >= '0' && r <= '9' && s[0] == '-':
			fmt.Fprintf(&b, "\\%x ", r)
		case i == 0 && r == '-' && len(s) == 1:
			b.WriteString("\\-")
		case r >= 0x80 || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		default:
			b.WriteByte('\\')
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cssString serializes s as a CSS string, as CSSOM does.
func cssString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == 0:
			b.WriteRune(utf8.RuneError)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\%x ", r)
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestCSSIdent checks the escaping the derived selectors use, against
// what CSS.escape gives in browsers.
func TestCSSIdent(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"card", "card"}, {"md:flex", `md\:flex`}, {"w-1/2", `w-1\/2`}, {"1st", `\31 st`}, {"-2x", `-\32 x`},
		{"-", `\-`}, {"--x", "--x"}, {"a b", `a\ b`}, {"é", "é"}, {"a\x00", "a\ufffd"}, {"a\nb", `a\a b`},
		{"[x]", `\[x\]`}, {"_", "_"},
	} {
		if got := cssIdent(c.in); got != c.want {
			t.Errorf("cssIdent(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got, want := cssString(`say "hi" \ now`), `"say \"hi\" \\ now"`; got != want {
		t.Errorf("cssString = %q, want %q", got, want)
	}
}

// TestPageSelectorsEscapeNames: an element whose name the page writes
// with a colon (<xhtml:link>, which HTML parses as an element of that
// name) is named in the derived selectors escaped (xhtml\:link), not as
// a type selector followed by the pseudo-class :link, which bespoke
// refuses and cascadia reads otherwise.
func TestPageSelectorsEscapeNames(t *testing.T) {
	page := `<!DOCTYPE html><body><xhtml:link class=a id=b><div class=c id=d title=x>x</div></xhtml:link>`
	sels := pageSelectors(t, page, seed(t), 60, true)
	if !slices.ContainsFunc(sels, func(s string) bool { return strings.Contains(s, `xhtml\:link`) }) {
		t.Fatalf("no selector names the element xhtml:link: %q", sels)
	}
	checkPageWith(t, page, sels)
}
