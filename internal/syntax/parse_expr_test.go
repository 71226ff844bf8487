package syntax

import (
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/rules/diag"
)

func TestParseExpr(t *testing.T) {
	tests := []struct {
		src  string
		want string // canonical form
	}{
		{`geo.country == "FR"`, `geo.country == "FR"`},
		{`geo.country in ["FR", 'BE']`, `geo.country in ["FR", "BE"]`},
		{`geo.country not in ["FR"]`, `geo.country not in ["FR"]`},
		{`a and b or c`, `(a and b) or c`},
		{`a or b and c`, `a or (b and c)`},
		{`not a and b`, `(not a) and b`},
		{`not (a and b)`, `not (a and b)`},
		{`cookie("plan") exists`, `cookie("plan") exists`},
		{`not cookie("plan") exists`, `not cookie("plan") exists`},
		{`cookie("n") >= -2.5`, `cookie("n") >= -2.5`},
		{`path starts_with "/shop" and path ends_with ".html"`, `path starts_with "/shop" and path ends_with ".html"`},
		{`header("x") matches "^\d+$"`, `header("x") matches "^\\d+$"`},
		{`visitor.new == true`, `visitor.new == true`},
		{`my-segment`, `my-segment`},
		{"a\n  and b", `a and b`},
		{`x contains "a\"b"`, `x contains "a\"b"`},
		// A condition where a value goes keeps its parentheses, which the
		// parser needs there (the checker then says what is wrong with it).
		{`A(((0>(0))))`, `A((0 > 0))`},
		{`cookie((a or b), "x")`, `cookie((a or b), "x")`},
		{`x in [(a exists), (not b)]`, `x in [(a exists), (not b)]`},
		{`(a > b) == c`, `(a > b) == c`},
		{`x == (y == z)`, `x == (y == z)`},
		{`(a and b) exists`, `(a and b) exists`},
		{`(a exists) exists`, `(a exists) exists`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			x, err := ParseExpr(tt.src, nil)
			if err != nil {
				t.Fatalf("ParseExpr: %v", err)
			}
			if got := x.String(); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			// The canonical form parses to the same tree.
			y, err := ParseExpr(x.String(), nil)
			if err != nil || y.String() != x.String() {
				t.Fatalf("re-parse of %s: %v, %v", x, y, err)
			}
		})
	}
}

func TestParseExprErrors(t *testing.T) {
	tests := []struct {
		src  string
		col  int
		msg  string // substring of the message
		hint string // substring of the hint
	}{
		{`geo.country = "FR"`, 13, "unexpected `=`", "=="},
		{`a && b`, 3, "`&&`", "and"},
		{`a || b`, 3, "`||`", "or"},
		{`!a`, 1, "`!`", "not"},
		{`geo.country == "FR`, 16, "string not closed", "close"},
		{`geo.country == `, 16, "ends too early", ""},
		{`geo.country in ["FR" "BE"]`, 22, "expected `,` or `]`", "commas"},
		{`(a and b`, 9, "expected `)`", ""},
		{`a b`, 3, "after a complete condition", "and"},
		{`a == b == c`, 8, "cannot be chained", "and"},
		{`a not exists`, 3, "unexpected `not`", ""},
		{``, 1, "empty condition", "when"},
		{`3px == 3`, 1, "malformed number", "quote"},
		{`cookie("a" "b")`, 12, "expected `,` or `)`", ""},
		{`a <> b`, 3, "`<>`", "!="},
		// NOT in capitals, as SQL writes it, reads as a name.
		{`NOT visitor.new`, 1, "unknown operator `NOT`", "did you mean `not`?"},
		{`geo.country == "FR" and Not cookie("a") exists`, 25, "unknown operator `Not`", "did you mean `not`?"},
		{`NOT (a or b)`, 1, "unknown operator `NOT`", "did you mean `not`?"},
		{`and`, 1, "keyword", ""},
		{`geo.country in ("FR", "BE")`, 16, "a list is written in square brackets [ ], not in parentheses", `write geo.country in ["FR", "BE"]`},
		{`geo.country not in ("FR") and a`, 20, "square brackets", `write geo.country not in ["FR"]`},
		{`geo.country in ("FR"`, 16, "square brackets", `write geo.country in ["a", "b"]`},
		{`geo.country == “FR”`, 16, "unexpected character '“': a typographic quote", `use straight quotes: geo.country == "FR"`},
		{`geo.country in [« FR », ‘BE’]`, 17, "typographic quote", `use straight quotes: geo.country in ["FR", 'BE']`},
		{`query("ref") starts_with newsletter-`, 36, "unexpected character '-': newsletter- is not quoted", `texts are quoted: query("ref") starts_with "newsletter-"`},
		{`path == /shop/x and a`, 9, "unexpected character '/': /shop/x is not quoted", `texts are quoted: path == "/shop/x" and a`},
		{`page.path == shop/x and a`, 18, "shop/x is not quoted", `texts are quoted: page.path == "shop/x" and a`},
		{`cookie(\"plan\") == "pro"`, 8, "a backslash escapes nothing here", `write it without: cookie("plan") == "pro"`},
		{`a && b ==`, 3, "`&&`", "and"},
		{`path matches ^/p/[0-9]+$`, 14, "^/p/[0-9]+$ is not quoted", `texts are quoted: path matches "^/p/[0-9]+$"`},
		{`path matches ^/(shop|sale)/ and a`, 14, "is not quoted", `texts are quoted: path matches "^/(shop|sale)/" and a`},
		{`cookie(\"plan\") == \"gold\" or path matches "^/a\.b"`, 8, "a backslash escapes nothing here", `write it without: cookie("plan") == "gold" or path matches "^/a\.b"`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := ParseExpr(tt.src, nil)
			if list, ok := err.(diag.List); ok {
				err = list[0]
			}
			e, ok := err.(*diag.Error)
			if !ok {
				t.Fatalf("err = %v (%T), want *diag.Error", err, err)
			}
			if e.Pos.Col != tt.col || !strings.Contains(e.Msg, tt.msg) || !strings.Contains(e.Hint, tt.hint) {
				t.Fatalf("got col %d %q (hint %q), want col %d containing %q (hint %q)", e.Pos.Col, e.Msg, e.Hint, tt.col, tt.msg, tt.hint)
			}
		})
	}
}

// TestParseExprGoesOn: a condition with a mistake whose meaning is plain
// (&& for and) is read on as meant, so that the next mistake is told
// too; one that ends with it ends too early only by it.
func TestParseExprGoesOn(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want []string // the messages, each at its column
	}{
		{`path begins_with "/shop" && device.type == "mobile"`, []string{"1:6: unknown operator `begins_with`", "1:26: unexpected `&&`"}},
		{`a && b || c <> d`, []string{"1:3: unexpected `&&`", "1:8: unexpected `||`", "1:13: unexpected `<>`"}},
		{`a && b == news-`, []string{"1:3: unexpected `&&`", "1:15: unexpected character '-'"}},
		{`geo.country == "FR" &&`, []string{"1:21: unexpected `&&`"}},
		{`&& path == "/"`, []string{"1:1: unexpected `&&`"}},
		{`geo.country in ["FR" || "BE"]`, []string{"1:22: unexpected `||`"}},
		{`<> "x"`, []string{"1:1: unexpected `<>`"}},
	} {
		_, err := ParseExpr(tt.src, nil)
		var got []string
		switch e := err.(type) {
		case diag.List:
			for _, x := range e {
				got = append(got, x.Error())
			}
		case *diag.Error:
			got = append(got, e.Error())
		}
		ok := len(got) == len(tt.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(got[i], tt.want[i])
		}
		if !ok {
			t.Errorf("%s: %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		src   string
		parts int
		raw   bool
	}{
		{"plain text", 1, true},
		{"Hello {{ geo.city }}!", 3, false},
		{`{{ geo.city or "there" }}`, 1, false},
		{`{{cookie("name")}} and {{ header("X") }}`, 3, false},
		{"", 0, true},
	}
	for _, tt := range tests {
		tpl, err := ParseTemplate(tt.src, nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		if len(tpl.Parts) != tt.parts {
			t.Errorf("%q: %d parts, want %d", tt.src, len(tpl.Parts), tt.parts)
		}
		if _, raw := tpl.Raw(); raw != tt.raw {
			t.Errorf("%q: raw %v, want %v", tt.src, raw, tt.raw)
		}
	}
	tpl, _ := ParseTemplate(`Hi {{ geo.city or "friend" }}`, nil)
	if p := tpl.Parts[1]; p.Default != "friend" || p.Value.String() != "geo.city" {
		t.Errorf("interpolation = %+v", p)
	}
	// A quoted text in braces is literal text: the way to write braces.
	for src, want := range map[string]string{
		`Use code {{ "{{" }}SAVE10{{ "}}" }}`: "Use code {{SAVE10}}",
		`{{ '}}' }} and {{ "a\"b" }}`:         `}} and a"b`,
		`{{"{{"}} x }}`:                       "", // the second }} has no {{
	} {
		tpl, err := ParseTemplate(src, nil)
		if want == "" {
			if err == nil {
				t.Errorf("%q: no error", src)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if raw, ok := tpl.Raw(); !ok || raw != want {
			t.Errorf("%q: %q, %v; want %q", src, raw, ok, want)
		}
	}
	for _, bad := range []string{"{{ geo.city", "{{ }}", `{{ "text" or "x" }}`, "{{ a b }}", `{{ a or b }}`, "x }}", `{{ 3 }}`} {
		if _, err := ParseTemplate(bad, nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{`geo.country in ["FR","BE"] and device.type == "mobile"`, `not (a or b)`, `cookie("x") >= 3`, `x matches "^a+$"`, `"`, `(((`, `a not in []`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		x, err := ParseExpr(src, nil)
		if err != nil {
			switch e := err.(type) {
			case *diag.Error:
			case diag.List:
				if len(e) < 2 {
					t.Fatalf("a list of %d errors", len(e))
				}
			default:
				t.Fatalf("error of type %T", err)
			}
			return
		}
		// Whatever parses prints in a form that parses to the same tree.
		y, err := ParseExpr(x.String(), nil)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", x.String(), src, err)
		}
		if y.String() != x.String() {
			t.Fatalf("canonical form not stable: %q -> %q", x.String(), y.String())
		}
	})
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{`Hi {{ geo.city or "x" }}`, `{{`, `}}`, `{{ cookie("a") }}{{ b }}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := ParseTemplate(src, nil)
		if err != nil {
			return
		}
		// Literal parts of the text outside the braces hold no
		// interpolation; those written in braces ({{ "{{" }}) may.
		for _, p := range tpl.Parts {
			if p.Value == nil && !strings.HasPrefix(src[p.Off:], "{{") && strings.Contains(p.Text, "{{") {
				t.Fatalf("literal part %q holds an interpolation", p.Text)
			}
		}
	})
}
