package eval_test

import (
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestExplainListsAsWritten: a condition on a list (languages, a JSON
// array) is explained as the editor wrote it, with the list's items, as
// bespoke explain and bespoke test show it: the separator lists are
// stored with ("\x00de\x00fr\x00") is the module's business, and an
// explanation that showed it read `languages contains "\x00de\x00"`.
func TestExplainListsAsWritten(t *testing.T) {
	src := `rules:
  - name: german
    when: languages contains "de"
    actions: [remove: x]
  - name: runner
    when: json(cookie("p"), "segs") contains "run"
    actions: [remove: x]
  - name: tier
    when: json(cookie("p"), "tier") in ["gold", "silver"]
    actions: [remove: x]
`
	p, err := compiler.Check("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e, err := eval.New(p)
	if err != nil {
		t.Fatal(err)
	}
	env := &eval.Env{Values: make([]plugin.Value, len(p.Slots))}
	for i, s := range p.Slots {
		switch {
		case s.Attr == "languages":
			env.Values[i] = plugin.Value{Str: plugin.ListValue([]string{"fr", "de"}), Present: true}
		case s.Attr == "json" && s.Arg == "segs":
			env.Values[i] = plugin.Value{Str: plugin.ListValue([]string{"run", "swim"}), Present: true}
		case s.Attr == "json" && s.Arg == "tier":
			env.Values[i] = plugin.Value{Str: plugin.ListValue([]string{"gold"}), Present: true}
		}
	}
	var lines []string
	var walk func(tr *eval.Trace)
	walk = func(tr *eval.Trace) {
		lines = append(lines, tr.Text+"  "+strings.Join(tr.Values, "; "))
		for _, c := range tr.Children {
			walk(c)
		}
	}
	for _, rt := range e.Explain(env) {
		if !rt.Matched {
			t.Errorf("%s did not match", rt.Rule.Name)
		}
		walk(rt.Cond)
	}
	got := strings.Join(lines, "\n")
	if strings.Contains(got, "\x00") || strings.Contains(got, `\x00`) {
		t.Errorf("the explanation shows the list's separators:\n%s", got)
	}
	for _, want := range []string{
		`languages contains "de"  languages = ["fr", "de"]`,
		`json(cookie("p"), "segs") contains "run"  json(cookie("p"), "segs") = ["run", "swim"]`,
		`json(cookie("p"), "tier") contains "gold"  json(cookie("p"), "tier") = ["gold"]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no line %q in\n%s", want, got)
		}
	}
}
