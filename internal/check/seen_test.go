package check_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/check"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// TestSeenOptions: hide_seen's demote and mark, and a cap's untracked,
// as the manifest carries them.
func TestSeenOptions(t *testing.T) {
	src := `rules:
  - name: fresh
    actions:
      - hide_seen: { select: "ul > li", id: "@data-id", demote: true, mark: { first: 12 } }
      - hide_seen: { select: "ol > li", id: "@data-id", keep_at_least: 4, mark: false }
      - json_hide_seen: { path: "@this", id: "@this", demote: true, mark: { first: 3 } }
  - name: popup
    at_most: { times: 2, per: 1d, untracked: show }
    actions:
      - remove: "#popup"
  - name: banner
    at_most: 3 per 7d
    actions:
      - remove: "#banner"
`
	p, err := checkSrc(t, src)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Rules[0].Actions
	if !a[0].Demote || a[0].MarkFirst != 12 || a[0].NoMark {
		t.Errorf("hide_seen with demote and mark.first: %+v", a[0])
	}
	if a[1].Demote || a[1].MarkFirst != 0 || !a[1].NoMark || a[1].N != 4 {
		t.Errorf("hide_seen with mark: false: %+v", a[1])
	}
	if !a[2].Demote || a[2].MarkFirst != 3 || a[2].Path != "@this" || a[2].IDAttr != "@this" {
		t.Errorf("json_hide_seen: %+v", a[2])
	}
	if c := p.Rules[1].Cap; c == nil || c.Times != 2 || c.Window != 86400 || !c.ShowUntracked {
		t.Errorf("at_most mapping: %+v", c)
	}
	if c := p.Rules[2].Cap; c == nil || c.Times != 3 || c.ShowUntracked {
		t.Errorf("at_most text: %+v", c)
	}
}

func TestSeenOptionErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line, col int
		msg       string
	}{
		{"demote with keep_at_least", rule("", `- hide_seen: { select: li, id: "@id", demote: true, keep_at_least: 3 }`), 4, 74, "does nothing with demote"},
		{"keep_at_least negative", rule("", `- hide_seen: { select: li, id: "@id", keep_at_least: -1 }`), 4, 60, "keep_at_least cannot be negative"},
		{"json keep_at_least negative", rule("", `- json_hide_seen: { path: items, id: id, keep_at_least: -1 }`), 4, 63, "keep_at_least cannot be negative"},
		{"mark first zero", rule("", `- hide_seen: { select: li, id: "@id", mark: { first: 0 } }`), 4, 60, "must be 1 or more"},
		{"mark unknown field", rule("", `- hide_seen: { select: li, id: "@id", mark: { last: 2 } }`), 4, 53, "last"},
		{"untracked value", "rules:\n  - name: r\n    at_most: { times: 2, per: 1d, untracked: maybe }\n    actions: [remove: x]\n", 3, 46, `untracked is "maybe"`},
		{"at_most without per", "rules:\n  - name: r\n    at_most: { times: 2 }\n    actions: [remove: x]\n", 3, 14, "needs `times` and `per`"},
		{"at_most times", "rules:\n  - name: r\n    at_most: { times: 0, per: 1d }\n    actions: [remove: x]\n", 3, 23, "from 1 to 250"},
		{"at_most window", "rules:\n  - name: r\n    at_most: { times: 2, per: 1s }\n    actions: [remove: x]\n", 3, 31, "a minute or more"},
		{"json path: count", rule("", `- json_limit: { path: items.#, n: 2 }`), 4, 35, "can never be edited: # is an array"},
		{"json path: modifier", rule("", `- json_hide_seen: { path: "items|@reverse", id: id }`), 4, 40, "@reverse is a modifier"},
		{"json path: every match", rule("", `- json_set: { path: 'items.#(id=="a")#', value: x }`), 4, 34, "every match"},
		{"json path: pretty in a query", rule("", `- json_set: { path: 'items.#(a|@pretty=="x").b', value: x }`), 4, 34, "@pretty in a query costs more"},
		{"json path: multipath", rule("", `- json_remove: "[a,b]"`), 4, 23, "multipath"},
		{"json id path", rule("", `- json_hide_seen: { path: items, id: "#" }`), 4, 45, "the id path"},
		{"remove the document", rule("", `- json_remove: "@this"`), 4, 23, "cannot remove the whole document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Some are the parser's errors, some the checker's.
			f, err := syntax.Parse("r.yaml", []byte(tt.src))
			if err == nil {
				_, err = check.Check(f)
			}
			var list diag.List
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("err = %v, want errors", err)
			}
			e := list[0]
			if e.Pos.Line != tt.line || e.Pos.Col != tt.col || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("%d:%d %q (hint %q); want %d:%d %q", e.Pos.Line, e.Pos.Col, e.Msg, e.Hint, tt.line, tt.col, tt.msg)
			}
		})
	}
}

// TestJSONPathForms: a path written in JSONPath, JavaScript or JSON
// Pointer form, which gjson reads as keys an API seldom has, is warned
// of at its first character, with its gjson form; gjson's own forms
// are not.
func TestJSONPathForms(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"items[0]", "write path: items.0"},
		{`items["title"]`, "write path: items.title"},
		{"$.items[0].title", "write path: items.0.title"},
		{"$", "write path: @this"},
		{"/items/0/title", "write path: items.0.title"},
		{"items.0.title", ""},
		{`items.#(id=="a").price`, ""},
		{`a\[0]`, ""},
		{"@this", ""},
		{"item*", ""},
	} {
		f, err := syntax.Parse("r.yaml", []byte(rule("", "- json_set: { path: '"+tc.path+"', value: x }")))
		if err != nil {
			t.Fatal(err)
		}
		_, list := check.Run(f)
		if errs := list.Errors(); len(errs) > 0 {
			t.Fatalf("%s: %v", tc.path, errs)
		}
		var got []string
		for _, w := range list.Warnings() {
			got = append(got, w.Error())
		}
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: warned %q", tc.path, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want) || !strings.HasPrefix(got[0], "r.yaml:4:28: warning: the JSON path")):
			t.Errorf("%s: warned %q, want one at 4:28 with %q", tc.path, got, tc.want)
		}
	}
}

// TestCapWindowPastCookieLife: a cap's window longer than browsers keep
// a cookie (400 days) is warned of at at_most; 400 days is not.
func TestCapWindowPastCookieLife(t *testing.T) {
	for _, tc := range []struct {
		per  string
		warn bool
	}{{"400d", false}, {"57w", false}, {"401d", true}, {"60w", true}} {
		src := "rules:\n  - name: r\n    at_most: 3 per " + tc.per + "\n    actions: [remove: x]\n"
		f, err := syntax.Parse("r.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		_, list := check.Run(f)
		if err := list.Err(); err != nil {
			t.Fatalf("%s: %v", tc.per, err)
		}
		var got []diag.Error
		for _, w := range list.Warnings() {
			if w.Code == "cap-window-too-long" {
				got = append(got, *w)
			}
		}
		if tc.warn != (len(got) == 1) {
			t.Errorf("per %s: warnings %v, want one: %v", tc.per, got, tc.warn)
		}
		if len(got) == 1 && (got[0].Pos.Line != 3 || got[0].Pos.Col != 14) {
			t.Errorf("per %s: warned at %d:%d, want 3:14", tc.per, got[0].Pos.Line, got[0].Pos.Col)
		}
	}
}

// TestCookieLifePastBrowsers: a set_cookie max_age longer than browsers
// keep a cookie (400 days) is warned of at max_age, as a cap's window is;
// 400 days is not.
func TestCookieLifePastBrowsers(t *testing.T) {
	for _, tc := range []struct {
		maxAge string
		warn   bool
	}{{"400d", false}, {"57w", false}, {"12h", false}, {"401d", true}, {"60w", true}, {"9600h1m", true}} {
		src := "rules:\n  - name: r\n    actions:\n      - set_cookie: { name: a, value: b, max_age: " + tc.maxAge + " }\n"
		f, err := syntax.Parse("r.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		_, list := check.Run(f)
		if err := list.Err(); err != nil {
			t.Fatalf("%s: %v", tc.maxAge, err)
		}
		var got []diag.Error
		for _, w := range list.Warnings() {
			if w.Code == "cookie-life-too-long" {
				got = append(got, *w)
			}
		}
		if tc.warn != (len(got) == 1) {
			t.Errorf("max_age %s: warnings %v, want one: %v", tc.maxAge, got, tc.warn)
		}
		if len(got) == 1 && (got[0].Pos.Line != 4 || got[0].Pos.Col != 51 || !strings.Contains(got[0].Hint, "400d")) {
			t.Errorf("max_age %s: warned %v at %d:%d, want 4:51 with a hint of 400d", tc.maxAge, got[0], got[0].Pos.Line, got[0].Pos.Col)
		}
	}
}
