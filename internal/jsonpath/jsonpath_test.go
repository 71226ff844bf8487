package jsonpath

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	key := func(name string) Step { return Step{Kind: Key, Name: name, Index: -1} }
	idx := func(name string, i int) Step { return Step{Kind: Key, Name: name, Index: i} }
	wild := func(name string) Step { return Step{Kind: Key, Name: name, Wild: true, Index: -1} }
	query := func(q string) Step { return Step{Kind: Query, Query: q, Index: -1} }
	tests := []struct {
		path string
		want []Step
	}{
		{"@this", nil},
		{"items", []Step{key("items")}},
		{"banner.title", []Step{key("banner"), key("title")}},
		{"items.0", []Step{key("items"), idx("0", 0)}},
		{"items.12.id", []Step{key("items"), idx("12", 12), key("id")}},
		// gjson reads a leading zero as its number: items.01 is items.1.
		{"items.012", []Step{key("items"), idx("012", 12)}},
		{"items.0000000001", []Step{key("items"), idx("0000000001", 1)}},
		{"items.1000000000", []Step{key("items"), key("1000000000")}},
		{"items.-1", []Step{key("items"), key("-1")}},
		{"a|b", []Step{key("a"), key("b")}},
		{`a\.b`, []Step{key("a.b")}},
		{`\#tag`, []Step{key("#tag")}},
		{`\@type.x`, []Step{key("@type"), key("x")}},
		{`a\\b`, []Step{key(`a\b`)}},
		{"item*", []Step{wild("item*")}},
		{"i?ems.x", []Step{wild("i?ems"), key("x")}},
		{`a\*b`, []Step{key("a*b")}},
		{`a\*b*`, []Step{wild(`a\*b*`)}},
		{"price#", []Step{key("price#")}},
		{"a@b", []Step{key("a@b")}},
		{`items.#(id=="sku-1")`, []Step{key("items"), query(`id=="sku-1"`)}},
		{`items.#(id=="a)b").price`, []Step{key("items"), query(`id=="a)b"`), key("price")}},
		{`items.#(tags.#(=="x"))|name`, []Step{key("items"), query(`tags.#(=="x")`), key("name")}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.path)
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", tt.path, got, tt.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		path   string
		offset int
		says   string
	}{
		{"", 0, "empty"},
		{"items.#", 6, "length"},
		{"items.#.id", 6, "length"},
		{"#", 0, "length"},
		{`items.#(id=="a")#`, 6, "every match"},
		{`items.#(id=="a"`, 6, "closing parenthesis"},
		{`items.#()`, 6, "empty"},
		{`items.#(a==1)x`, 13, "followed by"},
		{"@reverse", 0, "modifier"},
		{"items.@reverse", 6, "modifier"},
		{"@this.items", 0, "whole path"},
		{"items.@this", 6, "whole path"},
		{"[a,b]", 0, "multipath"},
		{"{a,b}", 0, "multipath"},
		{"!true", 0, "literal"},
		{"a.!b", 2, "cannot start"},
		{"..0", 0, "JSON Lines"},
		{"a..b", 2, "empty key"},
		{".a", 0, "empty key"},
		{"a.", 1, "ends with a separator"},
		{`a\`, 1, "lone"},
		{`items.#(a|@pretty=="x").b`, 6, "@pretty in a query costs more"},
		{`#(@dig:id=="x")`, 0, "@dig in a query"},
		{`items.#(a|@fromstr|b==1)`, 6, "@fromstr in a query"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.path)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: error %v, want an *Error", tt.path, err)
			continue
		}
		if e.Offset != tt.offset || !strings.Contains(e.Msg, tt.says) {
			t.Errorf("%q: at %d %q; want at %d, saying %q", tt.path, e.Offset, e.Msg, tt.offset, tt.says)
		}
		if !errors.Is(err, ErrNotEditable) {
			t.Errorf("%q: not ErrNotEditable", tt.path)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		key, pattern string
		want         bool
	}{
		{"items", "item*", true},
		{"item", "item*", true},
		{"items", "*s", true},
		{"items", "i*m*s", true},
		{"items", "i?ems", true},
		{"iTems", "i?ems", true},
		{"iéems", "i?ems", true},
		{"ims", "i?ems", false},
		{"abc", "a*d", false},
		{"a*b", `a\*b`, true},
		{"axb", `a\*b`, false},
		{"a*bc", `a\**`, true},
		{"", "*", true},
		{"", "?", false},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*c", false},
	}
	for _, tt := range tests {
		if got := Match(tt.key, tt.pattern); got != tt.want {
			t.Errorf("Match(%q, %q) = %v", tt.key, tt.pattern, got)
		}
	}
}

func TestModifiers(t *testing.T) {
	tests := []struct {
		path      string
		want      []string
		unbounded string
	}{
		{"tier", nil, ""},
		{"@reverse|0", []string{"reverse"}, ""},
		{"a|@fromstr|@pretty", []string{"fromstr", "pretty"}, "@pretty"},
		{`@pretty:{"sortKeys":true}`, []string{"pretty"}, "@pretty"},
		{"items.#.@dig:a", []string{"dig"}, "@dig"},
		{`[a,@keys]`, []string{"keys"}, ""},
		{`#(m=="a@pretty.com").m`, nil, ""}, // an @ inside a word
		{`#(m=="@dig").m`, []string{"dig"}, "@dig"},
		{`a"b|@pretty|c"d`, []string{"pretty"}, "@pretty"}, // a quote in keys
		{`\@pretty`, nil, ""},                              // a key
		{"mail@dig", nil, ""},                              // an @ inside a key
		{"@", nil, ""},
	}
	for _, tt := range tests {
		if got := Modifiers(tt.path); !slices.Equal(got, tt.want) {
			t.Errorf("Modifiers(%q) = %q, want %q", tt.path, got, tt.want)
		}
		if got := Unbounded(tt.path); got != tt.unbounded {
			t.Errorf("Unbounded(%q) = %q, want %q", tt.path, got, tt.unbounded)
		}
	}
}

func TestAppendParseDoesNotAllocate(t *testing.T) {
	var buf [8]Step
	n := testing.AllocsPerRun(100, func() {
		if _, err := AppendParse(buf[:0], `data.items.#(id=="a").price`); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations a parse", n)
	}
}

// FuzzParse: any path either parses into non-empty steps or is refused
// with an offset inside it; never a panic.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"a.b", "@this", `items.#(id=="x").y`, `a\.b*`, "#", "[a]", `x.#(a)#`} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		steps, err := Parse(path)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(path) {
				t.Fatalf("%q: %v", path, err)
			}
			return
		}
		if path != This && len(steps) == 0 {
			t.Fatalf("%q: no steps", path)
		}
		for _, s := range steps {
			if s.Kind == Key && s.Name == "" || s.Kind == Query && s.Query == "" {
				t.Fatalf("%q: empty step %+v", path, s)
			}
		}
		if !strings.ContainsAny(path, `*?\`) && !Match(path, path) {
			t.Fatalf("%q does not match itself", path)
		}
	})
}
