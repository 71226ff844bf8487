package selector

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"div", "div"},
		{"DIV", "div"},
		{"  div  ", "div"},
		{"*", "*"},
		{"*.a", ".a"},
		{"#hero", "#hero"},
		{".card.sale", ".card.sale"},
		{"li.card[data-item-id]", "li.card[data-item-id]"},
		{".a#b", "#b.a"}, // canonical order: type, ids, classes, attributes, pseudo-classes
		{":first-child.a[x]li", ""},
		{`a[href^="https://"]`, `a[href^="https://"]`},
		{`a[href^=https]`, `a[href^="https"]`},
		{`a[ HREF = 'x' ]`, `a[href="x"]`},
		{`input[type="TEXT" i]`, `input[type="TEXT" i]`},
		{`input[type=text I]`, `input[type="text" i]`},
		{`input[type="text"i]`, `input[type="text" i]`},
		{`input[type="text" s]`, `input[type="text" s]`},
		{`input[type="text" S]`, `input[type="text" s]`},
		{`[lang|=en]`, `[lang|="en"]`},
		{`[class~=a][title*='x y'][src$=".png"]`, `[class~="a"][title*="x y"][src$=".png"]`},
		{`[tabindex=1]`, `[tabindex="1"]`},
		{`[data-id=123abc]`, `[data-id="123abc"]`},
		{`[title="say \"hi\""]`, `[title="say \"hi\""]`},
		{`[title='it\'s']`, `[title="it's"]`},
		{`[title=""]`, `[title=""]`},
		{"#hero h1", "#hero h1"},
		{"#hero\th1\n", "#hero h1"},
		{"ul.cards>li", "ul.cards > li"},
		{"ul.cards  >  li  a", "ul.cards > li a"},
		{"h1, h2 ,h3", "h1, h2, h3"},
		{"li:first-child", "li:first-child"},
		{"li:FIRST-CHILD", "li:first-child"},
		{"li:nth-child(1)", "li:first-child"},
		{"li:nth-child(odd)", "li:nth-child(2n+1)"},
		{"li:nth-child( EVEN )", "li:nth-child(2n)"},
		{"li:nth-child(2n+3)", "li:nth-child(2n+3)"},
		{"li:nth-child(2n + 3)", "li:nth-child(2n+3)"},
		{"li:nth-child(+n-1)", "li:nth-child(n-1)"},
		{"li:nth-child(-n+3)", "li:nth-child(-n+3)"},
		{"li:nth-child(-2N- 1)", "li:nth-child(-2n-1)"},
		{"li:nth-child(0n+0)", "li:nth-child(0)"},
		{"li:nth-child(-5)", "li:nth-child(-5)"},
		{"li:nth-of-type(4)", "li:nth-of-type(4)"},
		{"p:first-of-type", "p:first-of-type"},
		{"li:not(.sold-out, [hidden])", "li:not(.sold-out, [hidden])"},
		{"li:not( .a )", "li:not(.a)"},
		{":not(ul > li)", ":not(ul > li)"},
		{":not(:not(.a))", ":not(:not(.a))"},
		{`#\31 23`, `#\31 23`},
		{`#\31 23`, `#\31 23`},
		{`.a\:b`, `.a\:b`},
		{`.\61 b`, `.ab`},
		{`.\000061`, `.a`},
		{`.a\.b`, `.a\.b`},
		{`.caf\E9`, ".café"},
		{".café", ".café"},
		{"my-widget", "my-widget"},
		{"--x", "--x"},
		{"._a-b_", "._a-b_"},
		{`.\-`, `.\-`},
		{`.\-1`, `.-\31 `},
	}
	for _, tt := range tests {
		l, err := Parse(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Parse(%q) = %v, want an error", tt.in, l)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := l.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		again, err := Parse(l.String())
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Errorf("Parse(%q): the canonical form %q does not parse back to the same: %v", tt.in, l.String(), err)
		}
	}
}

func TestParseAST(t *testing.T) {
	tests := []struct {
		in   string
		want List
	}{
		{"div", List{{Compounds: []Compound{{Type: "div"}}}}},
		{"*", List{{Compounds: []Compound{{}}}}},
		{"a b > c", List{{
			Compounds:   []Compound{{Type: "a"}, {Type: "b"}, {Type: "c"}},
			Combinators: []Combinator{Descendant, Child},
		}}},
		{"a, .b", List{
			{Compounds: []Compound{{Type: "a"}}},
			{Compounds: []Compound{{Classes: []string{"b"}}}},
		}},
		{`li#x.a.b[data-id][lang|="en" i]:nth-child(2n+1):not(.c)`, List{{Compounds: []Compound{{
			Type:    "li",
			IDs:     []string{"x"},
			Classes: []string{"a", "b"},
			Attrs:   []Attr{{Name: "data-id"}, {Name: "lang", Op: DashMatch, Value: "en", Fold: true, Flag: 'i'}},
			Pseudos: []Pseudo{
				{Kind: NthChild, Nth: Nth{2, 1}},
				{Kind: Not, Not: List{{Compounds: []Compound{{Classes: []string{"c"}}}}}},
			},
		}}}}},
		{":first-of-type", List{{Compounds: []Compound{{Pseudos: []Pseudo{{Kind: NthOfType, Nth: Nth{0, 1}}}}}}}},
		{"[a~=b][c^=d][e$=f][g*=h][i=j]", List{{Compounds: []Compound{{Attrs: []Attr{
			{Name: "a", Op: Includes, Value: "b"},
			{Name: "c", Op: Prefix, Value: "d"},
			{Name: "e", Op: Suffix, Value: "f"},
			{Name: "g", Op: Substring, Value: "h"},
			{Name: "i", Op: Equals, Value: "j"},
		}}}}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) =\n%#v\nwant\n%#v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		msg    string // a part of the message
	}{
		{"", 0, "empty selector"},
		{"   ", 3, "empty selector"},
		{"a,", 2, "missing after the comma"},
		{"a, ,b", 3, "missing before the comma"},
		{",a", 0, "missing before the comma"},
		{"a >", 2, "'>' has no selector after it"},
		{"a > , b", 2, "'>' has no selector after it"},
		{"a > > b", 4, "two combinators in a row"},
		{"> a", 0, "cannot start with the combinator '>'"},
		{"a + b", 2, "sibling combinator '+' is not supported"},
		{"a ~ b", 2, "sibling combinator '~' is not supported"},
		{"a+b", 1, "sibling combinator '+'"},
		{"li:last-child", 2, ":last-child cannot be matched while streaming: an element's later siblings are unknown"},
		{"li:last-of-type", 2, ":last-of-type cannot be matched while streaming"},
		{"li:only-child", 2, ":only-child cannot be matched while streaming"},
		{"li:nth-last-child(2)", 2, ":nth-last-child cannot be matched while streaming"},
		{"div:has(img)", 3, ":has cannot be matched while streaming: an element's content is unknown"},
		{"p:empty", 1, "content is unknown"},
		{"a:hover", 1, ":hover depends on the visitor's browser"},
		{"p::before", 1, "pseudo-elements such as ::before"},
		{"p:after", 1, "pseudo-elements such as :after"},
		{"li:frist-child", 2, "unknown pseudo-class :frist-child; did you mean :first-child?"},
		{"li:nth-chid(2)", 2, "did you mean :nth-child?"},
		{"li:nth-of-typ(2)", 2, "did you mean :nth-of-type?"},
		{"li:nto(.a)", 2, "did you mean :not?"},
		{"li:selectd", 2, "unknown pseudo-class :selectd; supported: :not, :first-child"},
		{"option:selected", 6, ":selected is jQuery's, not CSS: write [selected], which selects what the page's markup selects"},
		{"#form :checkbox", 6, ":checkbox is jQuery's, not CSS: write [type=checkbox]"},
		{"#form :input", 6, ":input is jQuery's, not CSS: write input, textarea, select, button"},
		{"a:contains(Google)", 1, ":contains is jQuery's, not CSS: it reads the element's text, unknown when the element starts"},
		{"p:parent", 1, ":parent is jQuery's, not CSS"},
		{"li:is(.a)", 2, ":is is not supported; write a selector list"},
		{"a:link", 1, ":link depends on the visitor's history, which the server cannot see; a[href] selects every link"},
		{":root .a", 0, ":root is not supported; the root of a page is its html element: write html"},
		{":scope > label", 0, ":scope is not supported; a page's selectors are scoped to its root, its html element: write html"},
		{"a:host", 1, ":host selects a shadow tree's host"},
		{":host-context(.dark) a", 0, ":host-context selects a shadow tree's host"},
		{"button:disabled", 6, "[disabled] selects"},
		{"input:checked", 5, "[checked] selects the boxes the page's markup checks"},
		{"#form option:checked", 12, "option[selected] the options it selects"},
		{"input:invalid + label", 5, ":invalid depends on what the visitor types"},
		{"li:nope", 2, "unknown pseudo-class :nope; supported: :not, :first-child"},
		{"li:first-child()", 14, ":first-child takes no argument"},
		{"li:nth-child", 12, "needs a formula in parentheses"},
		{"li:not", 6, ":not needs a selector in parentheses"},
		{"li:not()", 7, "empty selector list inside :not()"},
		{"li:not(.a", 6, "'(' of :not( is not closed"},
		{"li:not(.a,", 6, "'(' of :not( is not closed"},
		{"li:not(.a", 6, "not closed"},
		{"li:not(> a)", 7, "cannot start with the combinator"},
		{"li:nth-child(2n+1", 12, "'(' of :nth-child( is not closed"},
		{"li:nth-child()", 13, "the formula is empty"},
		{"li:nth-child(x)", 13, "write an integer, odd, even, or an+b"},
		{"li:nth-child(2x)", 14, "unexpected text after the number"},
		{"li:nth-child(2n+)", 16, "expected a number after the sign"},
		{"li:nth-child(2n 1)", 16, "expected + or - after n"},
		{"li:nth-child(- n)", 14, "no space is allowed after the sign"},
		{"li:nth-child(2n+1 of .a)", 18, `"of S" form is not supported`},
		{"li:nth-child(odd x)", 17, "unexpected text after odd"},
		{"li:nth-child(99999999999)", 13, "too large"},
		{"li:nth-child(n+99999999999)", 15, "too large"},
		{"a)", 1, "unexpected ')' without a matching '('"},
		{"a]", 1, "unexpected ']' without a matching '['"},
		{"a(b)", 1, "unexpected '('"},
		{"[data-x", 0, "the '[' is not closed"},
		{"[data-x=", 0, "the '[' is not closed"},
		{"[data-x=y", 0, "the '[' is not closed"},
		{"a[", 1, "the '[' is not closed"},
		{"[]", 1, "expected an attribute name"},
		{"[x?=y]", 2, "expected ']' or an operator"},
		{"[x!=y]", 2, "CSS has no operator != (jQuery does): :not() around [x=...] selects the elements without the value"},
		{`#form option[value!='' i].a`, 18, "CSS has no operator !="},
		{"[x=]", 3, "a value is missing after ="},
		{"[href=/a]", 6, `quote it, as in [href="/a"]`},
		// A value that starts as a name and goes on as none: a URL.
		{"a[href^=https://shop.example]", 8, `the value https://shop.example is not a name: quote it, as in [href^="https://shop.example"]`},
		{"img[src$=.png]", 9, `quote it, as in [src$=".png"]`},
		{"img[src$=hero.png]", 9, `the value hero.png is not a name: quote it, as in [src$="hero.png"]`},
		{"[data-id=12/3]", 9, `quote it, as in [data-id="12/3"]`},
		{"[x=y z]", 5, `unknown attribute flag "z"`},
		{"[x=y ii]", 5, `unknown attribute flag "ii"`},
		{"[x=y i j]", 7, "expected ']'"},
		{`[x="y]`, 3, "the string is not closed"},
		{"[x=\"a\nb\"]", 3, "not closed on its line"},
		{`*[xml:lang|="es"]`, 5, `a ':' in an attribute name is written escaped, as \:`},
		{"p[xml:lang]", 5, "attribute name is written escaped"},
		{"[ns|x]", 3, "namespace prefixes"},
		{"[|x]", 1, "namespace prefixes"},
		{"ns|x", 2, "namespace prefixes"},
		{"#", 1, "expected an id after '#', but the selector ends"},
		{"#1a", 1, `"1a" is not a valid name: a name cannot start with a digit unless it is escaped (\31 and a space for 1)`},
		{".-2x", 1, `(\32 and a space for 2)`},
		{". a", 1, "expected a class name after '.'"},
		{".a.-", 3, "'-' alone is not a name"},
		{"[x]div", 3, "a type selector must come first"},
		{".a*", 2, "the universal selector * must come first"},
		{"a/* c */", 1, "comments are not allowed"},
		{"a { color: red }", 2, "a selector has no declarations"},
		{"&.a", 0, "nesting selector"},
		{`a"b"`, 1, "unexpected quote"},
		{"a\\", 1, "escapes nothing"},
		{"a!", 1, `unexpected '!'`},
		{strings.Repeat(":not(", 40) + "a" + strings.Repeat(")", 40), 160, "nested too deeply"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q): error %v, want an *Error", tt.in, err)
			continue
		}
		if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Parse(%q): offset %d %q\nwant offset %d and a message containing %q", tt.in, se.Offset, se.Msg, tt.offset, tt.msg)
		}
		if want := map[string]string{"#1a": `#\31 a`, ".-2x": `.-\32 x`, `*[xml:lang|="es"]`: `*[xml\:lang|="es"]`, "p[xml:lang]": `p[xml\:lang]`, "[x!=y]": `:not([x=y])`, `#form option[value!='' i].a`: `#form option:not([value='' i]).a`}[tt.in]; se.Fix != want {
			t.Errorf("Parse(%q): fix %q, want %q", tt.in, se.Fix, want)
		}
		if se.Offset < 0 || se.Offset > len(tt.in) {
			t.Errorf("Parse(%q): offset %d outside the selector", tt.in, se.Offset)
		}
		if want := fmt.Sprintf("offset %d", se.Offset); !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): Error() = %q does not give the offset", tt.in, err.Error())
		}
	}
}

func TestNthMatches(t *testing.T) {
	tests := []struct {
		f    string
		want []int // positions 1..10 that match
	}{
		{"1", []int{1}},
		{"3", []int{3}},
		{"0", nil},
		{"-1", nil},
		{"odd", []int{1, 3, 5, 7, 9}},
		{"even", []int{2, 4, 6, 8, 10}},
		{"n", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"n+8", []int{8, 9, 10}},
		{"3n", []int{3, 6, 9}},
		{"3n-1", []int{2, 5, 8}},
		{"-n+3", []int{1, 2, 3}},
		{"-2n+5", []int{1, 3, 5}},
		{"-n", nil},
		{"0n+2", []int{2}},
	}
	for _, tt := range tests {
		l, err := Parse(":nth-child(" + tt.f + ")")
		if err != nil {
			t.Fatalf("%s: %v", tt.f, err)
		}
		n := l[0].Compounds[0].Pseudos[0].Nth
		var got []int
		for pos := 1; pos <= 10; pos++ {
			if n.Matches(pos) {
				got = append(got, pos)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s (%+v): matches %v, want %v", tt.f, n, got, tt.want)
		}
	}
}

func TestAttrMatches(t *testing.T) {
	tests := []struct {
		sel   string
		value string
		want  bool
	}{
		{`[a]`, "", true},
		{`[a=x]`, "x", true},
		{`[a=x]`, "X", false},
		{`[a=x i]`, "X", true},
		{`[a=""]`, "", true},
		{`[a~=b]`, "a b c", true},
		{`[a~=b]`, "abc", false},
		{`[a~=b]`, "\tb\n", true},
		{`[a~=""]`, "", false},
		{`[a~="b c"]`, "b c", false},
		{`[a^=ht]`, "http", true},
		{`[a^=HT i]`, "http", true},
		{`[a^=""]`, "x", false},
		{`[a$=".png"]`, "x.png", true},
		{`[a$=".PNG" i]`, "x.png", true},
		{`[a$=".png"]`, "png", false},
		{`[a*=mid]`, "amidst", true},
		{`[a*=MID i]`, "amidst", true},
		{`[a*=mid]`, "mi", false},
		{`[a*=""]`, "x", false},
		{`[a|=en]`, "en", true},
		{`[a|=en]`, "en-US", true},
		{`[a|=en]`, "english", false},
		{`[a|=EN i]`, "en-us", true},
		// Attributes HTML lists as case-insensitive, without a flag.
		{`[type=text]`, "Text", true},
		{`[type=text s]`, "Text", false},
		{`[rel~=nofollow]`, "NoFollow noopener", true},
		{`[lang|=en]`, "EN-gb", true},
		{`[method=post]`, "POST", true},
		{`[data-type=text]`, "Text", false},
		{`[title=text]`, "Text", false},
	}
	for _, tt := range tests {
		l := MustParse(tt.sel)
		a := l[0].Compounds[0].Attrs[0]
		if got := a.Matches(tt.value); got != tt.want {
			t.Errorf("%s on %q: %v, want %v", tt.sel, tt.value, got, tt.want)
		}
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse of a bad selector did not panic")
		}
	}()
	MustParse("a +")
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"div", "#a .b > c:nth-child(2n+1)", `[x="a\"b" i]`, ":not(.a, b > c)",
		`#\31 23`, "a, b", "li:first-of-type", "[a|=b]", "*", ".a\\:b", "a + b",
		":nth-child(-n+3)", "p::before", "x:not(:not(y))", "[data-id=123]", "\\-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): %T is not *Error", s, err)
			}
			if se.Offset < 0 || se.Offset > len(s) {
				t.Fatalf("Parse(%q): offset %d outside the selector", s, se.Offset)
			}
			return
		}
		if len(l) == 0 {
			t.Fatalf("Parse(%q): empty list without an error", s)
		}
		canon := l.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) -> %q does not parse: %v", s, canon, err)
		}
		if !reflect.DeepEqual(again, l) {
			t.Fatalf("Parse(%q) -> %q parses to a different selector:\n%#v\n%#v", s, canon, l, again)
		}
		if again.String() != canon {
			t.Fatalf("canonical form is not stable: %q -> %q", canon, again.String())
		}
	})
}

func ExampleParse() {
	l, err := Parse("UL.cards > li:not(.ad):nth-child(odd), #hero  h1")
	if err != nil {
		panic(err)
	}
	fmt.Println(l)
	fmt.Println(len(l), "selectors; the first has", len(l[0].Compounds), "compounds")

	_, err = Parse("li + li")
	fmt.Println(err)
	_, err = Parse("li:frist-child")
	fmt.Println(err)
	// Output:
	// ul.cards > li:not(.ad):nth-child(2n+1), #hero h1
	// 2 selectors; the first has 2 compounds
	// selector: offset 3: the sibling combinator '+' is not supported: the streaming rewriter matches an element at its start tag from its ancestors and the count of its earlier siblings, and keeps no record of the siblings themselves
	// selector: offset 2: unknown pseudo-class :frist-child; did you mean :first-child?
}
