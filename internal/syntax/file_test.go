package syntax

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/rules/diag"
	"go.yaml.in/yaml/v3"
)

const goodFile = `version: 1
segments:
  fr: geo.country == "FR"
  long: >-
    geo.country in ["FR",
                    "BE"]
rules:
  - name: hero
    description: French hero
    when: fr and device.type == "mobile"
    actions:
      - set_inner: { select: "#hero h1", text: "Bonjour {{ geo.city or 'vous' }}" }
      - remove: "#promo"
      - redirect: /fr/
      - set_cookie: { name: seen, value: "1", max_age: 1d12h, http_only: yes }
  - name: always
    actions:
      - add_class: { select: body, class: x }
tests:
  - name: t
    context: { geo.country: FR, cookie(plan): pro }
    expect: { match: [hero], no_match: always }
`

func TestParseFile(t *testing.T) {
	f, err := Parse("rules.yaml", []byte(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Segments) != 2 || len(f.Rules) != 2 || len(f.Tests) != 1 {
		t.Fatalf("segments %d rules %d tests %d", len(f.Segments), len(f.Rules), len(f.Tests))
	}
	r := f.Rules[0]
	if r.Name != "hero" || r.NamePos.Line != 8 || r.When.String() != `fr and device.type == "mobile"` {
		t.Errorf("rule = %+v", r)
	}
	if len(r.Actions) != 4 {
		t.Fatalf("%d actions", len(r.Actions))
	}
	if a := r.Actions[0]; a.Op != "set_inner" || a.Select.Value != "#hero h1" || a.HTML || len(a.Content.Parts) != 2 {
		t.Errorf("set_inner = %+v", a)
	}
	if a := r.Actions[1]; a.Op != "remove" || a.Select.Value != "#promo" {
		t.Errorf("remove short form = %+v", a)
	}
	if a := r.Actions[2]; a.Op != "redirect" {
		t.Errorf("redirect = %+v", a)
	} else if raw, _ := a.Value.Raw(); raw != "/fr/" {
		t.Errorf("redirect to %q", raw)
	}
	if a := r.Actions[3]; a.MaxAge != 36*time.Hour || !a.HTTPOnly {
		t.Errorf("set_cookie = %+v", a)
	}
	if f.Rules[1].When != nil {
		t.Errorf("a rule without when has a condition")
	}
	if tt := f.Tests[0]; len(tt.Context) != 2 || len(tt.Match) != 1 || len(tt.NoMatch) != 1 {
		t.Errorf("test = %+v", tt)
	}
}

// TestErrorPositions checks that every error names the exact line and
// column, including inside quoted and folded YAML values.
func TestErrorPositions(t *testing.T) {
	tests := []struct {
		name, src string
		line, col int
		msg, hint string
	}{
		{"unknown top field", "version: 1\nrule:\n  - name: x\n", 2, 1, `unknown field "rule"`, `did you mean "rules"?`},
		{"unknown rule field", "rules:\n  - name: x\n    wen: a\n    actions: [remove: a]\n", 3, 5, `unknown field "wen"`, `"when"`},
		{"unknown action", "rules:\n  - name: x\n    actions:\n      - set_iner: { select: a, text: b }\n", 4, 9, `unknown action "set_iner"`, `"set_inner"`},
		{"missing select", "rules:\n  - name: x\n    actions:\n      - set_inner: { text: b }\n", 4, 9, "needs `select`", "select:"},
		{"text and html", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: a, text: b, html: c }\n", 4, 9, "exactly one of", ""},
		{"bad expr plain", "rules:\n  - name: x\n    when: geo.country = \"FR\"\n    actions: [remove: a]\n", 3, 23, "unexpected `=`", "=="},
		{"bad expr quoted", "rules:\n  - name: x\n    when: 'a && b'\n    actions: [remove: a]\n", 3, 14, "`&&`", "and"},
		{"bad expr folded", "rules:\n  - name: x\n    when: >-\n      a and\n      b c\n    actions: [remove: a]\n", 5, 9, "after a complete condition", ""},
		{"bad template", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: a, text: \"Hi {{ geo.city\" }\n", 4, 43, "`{{` is not closed", ""},
		{"backslashes kept", "rules:\n  - name: x\n    actions:\n      - append: { select: body, html: '<a href=\"/x?c={{ cookie(\\\"plan\\\") }}\">x</a>' }\n", 4, 54, "`{{` is not closed", `a \ escapes nothing in a '...' YAML value, which keeps it: write the quotes alone, {{ cookie("plan") }}`},
		// Braces the text means to show, as a visitor's or a log's text
		// holds them: the error says how to write them.
		{"closing braces alone", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: a, text: \"a }} b\" }\n", 4, 42, "`}}` without a matching `{{`", `write them as a quoted text in braces: {{ "}}" }}`},
		{"opening braces alone", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: a, text: \"a {{ b\" }\n", 4, 42, "`{{` is not closed", `write them as a quoted text in braces: {{ "{{" }}`},
		{"braces in braces", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: a, text: \"{{{{}}}}\" }\n", 4, 42, "unexpected character '{'", `write them as a quoted text in braces: {{ "{{" }}`},
		{"backslashes kept in text", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: a, text: 'Hi {{ cookie(\\\"plan\\\") }}' }\n", 4, 53, "a backslash escapes nothing here", `write it without: cookie("plan")`},
		{"tabs", "rules:\n\t- name: x\n", 2, 1, "a tab in the indentation", "replace the tab with spaces"},
		// An anchor or a tag before a value: the position is the value's,
		// where YAML gives the anchor's or the tag's.
		{"anchor before a condition", "rules:\n  - name: x\n    when: &fr geo.country = \"FR\"\n    actions: [remove: a]\n", 3, 27, "unexpected `=`", "=="},
		{"anchor before a quoted condition", "rules:\n  - name: x\n    when: &fr 'a && b'\n    actions: [remove: a]\n", 3, 18, "`&&`", "and"},
		{"tag before a condition", "rules:\n  - name: x\n    when: !!str geo.country = \"FR\"\n    actions: [remove: a]\n", 3, 29, "unexpected `=`", "=="},
		{"anchor and tag in flow", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: &s !!str a, text: \"Hi {{ geo.city\" }\n", 4, 52, "`{{` is not closed", ""},
		{"anchor, the value on the next line", "rules:\n  - name: x\n    when: &w\n      geo.country = \"FR\"\n    actions: [remove: a]\n", 4, 19, "unexpected `=`", "=="},
		{"anchor and a comment, the quoted value on the next line", "rules:\n  - name: x\n    when: &w # why\n\n      'a && b'\n    actions: [remove: a]\n", 5, 10, "`&&`", "and"},
		{"anchor before an open quote", "rules:\n  - name: x\n    when: &w \"geo.country\n  - name: y\n    actions: [remove: a]\n", 3, 0, "quoted value", ""},
		{"quote open in flow", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: a, text: \"Hi }\n  - name: y\n    actions:\n      - remove: \"#x\"\n", 4, 39, "this \" starts a quoted value that is never closed", "close the value with \""},
		{"single quote open in flow", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: a, text: 'Hi }\n  - name: y\n    actions:\n      - remove: \"#x\"\n", 4, 39, "this ' starts a quoted value that is never closed", "close the value with '"},
		{"unknown escape", "rules:\n  - name: x\n    actions:\n      - remove: \"#\\31 hero\"\n", 4, 19, `\3 is not an escape YAML reads`, `quote the value with single quotes: remove: '#\31 hero'`},
		{"unknown escape in flow", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: \"#\\31 hero\", text: a }\n", 4, 32, `\3 is not an escape YAML reads`, `select: '#\31 hero'`},
		{"quote inside a selector in flow", "rules:\n  - name: x\n    actions:\n      - add_class: { select: \"li[data-id=\"3\"]\", class: x }\n", 4, 42, "the \" before 3 ends the quoted value early", `select: 'li[data-id="3"]'`},
		// A comma left out between two fields of a { }: not a quote
		// inside the value, nor a colon inside it.
		{"comma missing after a quoted value", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: \"#x\" text: \"a\" }\n", 4, 35, "`text:` follows the value of select without a comma between them", `separate the fields with a comma: select: "#x", text: …`},
		{"comma missing after a plain value", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: h1 text: a }\n", 4, 33, "`text:` follows the value of select without a comma between them", `select: h1, text: …; or, if the colon is the value's, quote the whole value: select: "h1 text: a"`},
		{"comma missing in a test", "rules:\n  - name: x\n    actions: [remove: a]\ntests:\n  - name: t\n    request: { url: \"/\" headers: { A: b } }\n", 6, 25, "`headers:` follows the value of url without a comma", ""},
		{"a colon inside a plain value", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: h1, text: Free shipping: today }\n", 4, 53, "`: ` inside a value that is not quoted", `text: "Free shipping: today"`},
		{"quote inside a long value", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: a, text: \"" + strings.Repeat("{{ query(\"q\") }} ", 20) + "\" }\n", 4, 49, "the \" before q ends the quoted value early", "quote the value with the other kind of quote"},
		{"list item one space in", "rules:\n  - name: x\n    actions:\n      - remove: a\n       - remove: b\n", 5, 8, "this list item is indented by 7 spaces", "indent the - by 6 spaces"},
		{"list item one space out", "rules:\n  - name: x\n    actions:\n      - remove: a\n     - remove: b\n", 5, 6, "this list item is indented by 5 spaces", "indent the - by 6 spaces"},
		{"list closed by brace", "rules:\n  - name: x\n    actions:\n      - reorder: { select: a, id: \"@id\", order: [x, y }\n", 4, 49, "this [ is never closed", "close it with ] before the }"},
		{"colon in value", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: a, text: Note: b }\n", 4, 0, "YAML", ""},
		{"duplicate key", "rules:\n  - name: x\n    name: y\n    actions: [remove: a]\n", 3, 5, "given twice", ""},
		{"no actions", "rules:\n  - name: x\n    when: a\n", 2, 5, "has no actions", "actions:"},
		{"no name", "rules:\n  - when: a\n    actions: [remove: a]\n", 2, 5, "no name", "name:"},
		{"bad name", "rules:\n  - name: \"two words\"\n    actions: [remove: a]\n", 2, 11, "must start with a letter", ""},
		{"accented name", "rules:\n  - name: élan\n    actions: [remove: a]\n", 2, 11, `rule name "élan" must start with a letter a-z and hold only letters a-z (no accents), digits, - and _`, "for example: elan"},
		{"name with spaces", "rules:\n  - name: \"Soldes d'été\"\n    actions: [remove: a]\n", 2, 11, "letters a-z (no accents)", "for example: Soldes-d-ete"},
		{"accented segment", "segments:\n  été: geo.country == \"FR\"\nrules:\n  - name: x\n    actions: [remove: a]\n", 2, 3, `segment name "été"`, "for example: ete"},
		{"accented variant", "experiments:\n  - name: x\n    variants: { contrôle: 50, b: 50 }\nrules:\n  - name: x\n    actions: [remove: a]\n", 3, 17, `variant name "contrôle"`, "for example: controle"},
		{"version", "version: 2\nrules: []\n", 1, 10, "version 2", "version 1"},
		{"rollout as a fraction", "rules:\n  - name: x\n    rollout: 0.5\n    actions: [remove: a]\n", 3, 14, "rollout: 0.5 would be 0.5% of visitors, not 50%", "write rollout: 50%, or rollout: 0.5% if 0.5% is meant"},
		{"weight as a fraction", "experiments:\n  - name: x\n    variants: { a: 0.5, b: 0.5 }\nrules:\n  - name: x\n    actions: [remove: a]\n", 3, 20, "a: 0.5 would be 0.5% of visitors", "write a: 50%"},
		{"rollout not a number", "rules:\n  - name: x\n    rollout: NaN\n    actions: [remove: a]\n", 3, 14, `expected a percentage from 0% to 100%, found "NaN"`, "write rollout: 20%"},
		{"weight not a number", "experiments:\n  - name: x\n    variants: { a: nan%, b: 50 }\nrules:\n  - name: x\n    actions: [remove: a]\n", 3, 20, `expected a percentage from 0% to 100%, found "nan%"`, "write a: 20%"},
		{"cap window too long", "rules:\n  - name: x\n    at_most: 3 per 100000w\n    actions: [remove: a]\n", 3, 14, `the window "100000w" is longer than any duration bespoke can hold`, "7d"},
		{"cap window too long, as a mapping", "rules:\n  - name: x\n    at_most: { times: 3, per: 99999999w }\n    actions: [remove: a]\n", 3, 31, `the window "99999999w" is longer than any duration bespoke can hold`, "7d"},
		{"max_age too long", "rules:\n  - name: x\n    actions:\n      - set_cookie: { name: a, value: b, max_age: 99999999w }\n", 4, 51, "longer than any duration bespoke can hold", "7d"},
		{"bad duration", "rules:\n  - name: x\n    actions:\n      - set_cookie: { name: a, value: b, max_age: 3q }\n", 4, 51, "unknown unit", "7d"},
		{"duration in years", "rules:\n  - name: x\n    actions:\n      - set_cookie: { name: a, value: b, max_age: 1y }\n", 4, 51, "in years, which are not a unit", "write 365d"},
		{"cap window in years", "rules:\n  - name: x\n    at_most: 3 per 1y\n    actions: [remove: a]\n", 3, 14, `the window "1y" is in years`, "write 365d"},
		{"cap window in years, as a mapping", "rules:\n  - name: x\n    at_most: { times: 3, per: 2y }\n    actions: [remove: a]\n", 3, 31, `the window "2y" is in years`, "write 730d"},
		{"not a list", "rules:\n  name: x\n", 2, 3, "must be a list", ""},
		// A field under another name, as other tools call it: the field
		// it stands for, and not also that field missing.
		{"attr for name", "rules:\n  - name: x\n    actions:\n      - set_attr: { select: a, attr: href, value: /x }\n", 4, 32, `unknown field "attr" in action set_attr`, `did you mean "name"?`},
		{"url for to", "rules:\n  - name: x\n    actions:\n      - redirect: { url: /x, status: 301 }\n", 4, 21, `unknown field "url" in action redirect`, `did you mean "to"?`},
		{"count for n", "rules:\n  - name: x\n    actions:\n      - limit: { select: li, count: 3 }\n", 4, 30, `unknown field "count" in action limit`, `did you mean "n"?`},
		{"expires for max_age", "rules:\n  - name: x\n    actions:\n      - set_cookie: { name: a, value: b, expires: 7d }\n", 4, 42, `unknown field "expires" in action set_cookie`, `did you mean "max_age"?`},
		{"content for text", "rules:\n  - name: x\n    actions:\n      - set_inner: { select: a, content: hi }\n", 4, 33, `unknown field "content" in action set_inner`, `did you mean "text"?`},
		// Conditions listed, as filters are: one condition joins them.
		{"condition as a list", "rules:\n  - name: x\n    when:\n      - geo.country == \"FR\"\n      - device.type == \"mobile\"\n    actions: [remove: a]\n", 4, 7, "a condition is one expression, not a list", `join the items with and, for all of them: when: geo.country == "FR" and device.type == "mobile" (or with or, for any of them)`},
		{"condition as a flow list", "rules:\n  - name: x\n    when: [visitor.new, 'path == \"/\"']\n    actions: [remove: a]\n", 3, 11, "a condition is one expression, not a list", `when: visitor.new and path == "/"`},
		{"segment as a list", "segments:\n  fr:\n    - geo.country == \"FR\"\n    - language == \"fr\"\nrules:\n  - name: x\n    when: fr\n    actions: [remove: a]\n", 3, 5, "a segment's condition is one expression, not a list", `fr: geo.country == "FR" and language == "fr"`},
		{"empty", "", 1, 1, "empty rule file", ""},
		{"no rules", "version: 1\n", 1, 1, "no `rules:`", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tt.src))
			var list diag.List
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("err = %v, want a diag.List", err)
			}
			e := list[0]
			if e.Pos.File != "r.yaml" || e.Pos.Line != tt.line || (tt.col != 0 && e.Pos.Col != tt.col) {
				t.Errorf("position %s, want r.yaml:%d:%d (%v)", e.Pos, tt.line, tt.col, e)
			}
			if !strings.Contains(e.Msg, tt.msg) || !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("got %q (hint %q), want %q (hint %q)", e.Msg, e.Hint, tt.msg, tt.hint)
			}
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	src := "rules:\n  - name: a\n    wen: x\n    actions: [remove: a]\n  - name: b\n    actions:\n      - sett_attr: {}\n"
	_, err := Parse("r.yaml", []byte(src))
	var list diag.List
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("err = %v, want two errors", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "30m": 30 * time.Minute, "7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s = %v, %v", in, got, err)
		}
	}
	// Past what a time.Duration holds, a duration would wrap around to
	// another length: 100000w to some 163 years, 9999999999999m to 38.
	for _, bad := range []string{"", "d", "5", "3y", "-1d", "100000w", "9999999999999m", "15250w1w", "99999999w"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	// Years, whose lengths vary, are told in days.
	for in, want := range map[string]string{"1y": "write 365d", "3Y": "write 1095d", "1d1y": "write 366d"} {
		if _, err := ParseDuration(in); err == nil || durationHint(err, "") != want {
			t.Errorf("%q: %v, hint %q, want %q", in, err, durationHint(err, ""), want)
		}
	}
	// Units written as words are refused, with the duration as it is
	// written.
	for in, fix := range map[string]string{
		"7 days": "7d", "2 hours 30 minutes": "2h30m", "90 secs": "90s", "1 week, 2 days": "1w2d", "3 jours": "3d", "12hours": "12h", "5 Min": "5m",
		"3 years": "", "7 dayz": "", "days 7": "",
	} {
		_, err := ParseDuration(in)
		switch {
		case err == nil:
			t.Errorf("%q parsed", in)
		case fix != "" && !strings.HasSuffix(err.Error(), ": a unit is one letter right after its number: "+fix):
			t.Errorf("%q: %v, want the fix %s", in, err, fix)
		case fix == "" && strings.Contains(err.Error(), "right after its number"):
			t.Errorf("%q: %v, want no fix", in, err)
		}
	}
}

// readsSecondDocument reports whether src holds a second YAML document that
// YAML reads.
func readsSecondDocument(src []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var first, second yaml.Node
	return dec.Decode(&first) == nil && dec.Decode(&second) == nil
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodFile))
	f.Add([]byte("rules:\n  - name: x\n    actions: [remove: a]\n"))
	f.Add([]byte("rules: &a\n  - *a\n"))
	// The YAML traps recovery recognizes, so the fuzzer starts from them.
	f.Add([]byte("rules:\n  - name: a\n\twhen: x\n    actions:\n      - set_inner: { select: #h, text: Note: b }\n"))
	f.Add([]byte("rules:\n  - name: a\n    when: \"x == \"FR\"\"\n      actions:\n    - name: b\n   when: \"y\n"))
	f.Add([]byte("rules\n  - name: a\n    when:x\n    actions: [remove: \"#a\"\n"))
	f.Add([]byte("# c\n---\nrules: []\n---\nrules: []\n"))
	f.Add([]byte("version: 1\nrules: []\u2028---\nrules: []\n"))
	f.Add([]byte("# c\n---\n...\nrules: []\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("f.yaml", src)
		// What the scan for document markers spares is never lost: a
		// second document the full read finds is one the scan does not
		// rule out. (A file whose YAML breaks past what the first read
		// took, 0\n: or ! !, is no second document: what it holds is
		// told, or nothing.)
		if line := decodeSecondDocument(src); line != 0 && !mayHoldDocuments(src) && readsSecondDocument(src) {
			t.Fatalf("a second document at line %d, which mayHoldDocuments rules out (parse error: %v)", line, err)
		}
		if err != nil {
			var list diag.List
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, not a diag.List", err)
			}
			for _, e := range list {
				if e.Pos.Line < 1 {
					t.Fatalf("error without a line: %v", e)
				}
			}
			return
		}
		if file == nil {
			t.Fatal("nil file without error")
		}
	})
}

// TestMayHoldDocuments: the scan that spares a second read of a file
// with one document says "maybe" for every file with two, and "no" for
// the usual one-document files.
func TestMayHoldDocuments(t *testing.T) {
	for _, tt := range []struct {
		src  string
		may  bool
		line int // of the second document, when there is one
	}{
		{goodFile, false, 0},
		{"---\n" + goodFile, false, 0},
		{"# rules\n\n--- # start\n" + goodFile, false, 0},
		{"--- {version: 1}\n", false, 0},
		{goodFile + "---\n", true, 0},
		{goodFile + "...\n", true, 0},
		{"version: 1\n---\nrules: []\n", true, 2},
		{"---\nversion: 1\n...\n---\nrules: []\n", true, 4},
		{"version: 1\nrules: []\n--- x\n", true, 3},
		{"a: |\n  ---\n", false, 0},                              // indented: inside the scalar
		{"version: 1\nrules: []\u2028---\nrules: []\n", true, 4}, // YAML breaks lines at LS too
		{"version: 1\nrules: []\u0085---\nrules: []\n", true, 4},
		{"# c\n---\n...\nrules: []\n", true, 4}, // after ..., a document without ---
		{"version: 1\n...\n# the end\n", true, 0},
	} {
		if got := mayHoldDocuments([]byte(tt.src)); got != tt.may {
			t.Errorf("mayHoldDocuments(%q) = %v, want %v", tt.src, got, tt.may)
		}
		if got := decodeSecondDocument([]byte(tt.src)); got != tt.line {
			t.Errorf("decodeSecondDocument(%q) = %d, want %d", tt.src, got, tt.line)
		}
		if got := secondDocument([]byte(tt.src)); got != tt.line {
			t.Errorf("secondDocument(%q) = %d, want %d", tt.src, got, tt.line)
		}
	}
}

// TestYAMLErrors: a YAML document other than a rule file gets its
// syntax errors at their position, with the fix; one that parses, none.
func TestYAMLErrors(t *testing.T) {
	if errs := YAMLErrors("ok.yaml", []byte("listen: \":80\"\nroutes: []\n")); errs != nil {
		t.Errorf("a document that parses: %v", errs)
	}
	errs := YAMLErrors("b.yaml", []byte("routes:\n\t- origin: http://a\n"))
	if len(errs) != 1 || errs[0].Pos.Line != 2 || errs[0].Pos.Col != 1 || !strings.Contains(errs[0].Error(), "replace the tab with spaces") {
		t.Errorf("a tab: %v", errs)
	}
}

// TestAnchorsAndAliases: a value written once with an anchor, quoted or
// not, and used again through an alias reads the same in both places, and
// errors in such a value are at the value (see TestErrorPositions).
func TestAnchorsAndAliases(t *testing.T) {
	src := `rules:
  - name: a
    when: &fr 'geo.country == "FR"'
    actions: &acts [ remove: "#promo" ]
  - name: b
    when: *fr
    actions: *acts
  - name: c
    when: !!str &de geo.country == "DE"
    actions:
      - set_inner: { select: &h "#hero h1", text: Hallo }
      - add_class: { select: *h, class: de }
`
	f, err := Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rules) != 3 {
		t.Fatalf("%d rules", len(f.Rules))
	}
	a, b := fmt.Sprint(f.Rules[0].When), fmt.Sprint(f.Rules[1].When)
	if a != b || !strings.Contains(a, "FR") {
		t.Errorf("rule a's condition is %s, b's %s", a, b)
	}
	if p := f.Rules[0].When.Pos(); p.Line != 3 || p.Col != 16 {
		t.Errorf("rule a's condition is at %d:%d, want 3:16", p.Line, p.Col)
	}
	if p := f.Rules[2].When.Pos(); p.Line != 9 || p.Col != 21 {
		t.Errorf("rule c's condition is at %d:%d, want 9:21", p.Line, p.Col)
	}
}
