package check

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/plugin"
)

func TestContradictions(t *testing.T) {
	const head = "experiments:\n  - name: hero\n    variants: { a: 50, b: 50 }\nsegments:\n  fr: geo.country == \"FR\"\n  nowhere: geo.country == \"FR\" and geo.country == \"IT\"\n"
	for _, tc := range []struct {
		when string
		want string // the tests the warning names, "" for none
	}{
		{`geo.country == "FR" and geo.country == "DE"`, "`geo.country == \"FR\"` and `geo.country == \"DE\"`"},
		{`geo.country == "FR" or geo.country == "DE"`, ""},
		{`geo.country in ["FR", "DE"] and geo.country != "FR"`, ""},
		{`geo.country in ["FR", "DE"] and geo.country not in ["FR", "DE"]`, "not in"},
		{`geo.country in ["FR", "DE"] and geo.country in ["DE", "IT"]`, ""},
		{`geo.country in ["FR", "DE"] and geo.country in ["BE", "IT"]`, "cannot both hold"},
		{`cookie("n") > 3 and cookie("n") < 5`, ""},
		{`cookie("n") > 3 and cookie("n") < 4`, ""}, // 3.5
		{`visitor.hour > 22 and visitor.hour < 23`, "cannot both hold; no whole number"},
		{`visitor.hour > 21 and visitor.hour < 23`, ""},
		{`visitor.hour >= 22.5 and visitor.hour < 23`, "cannot both hold; no whole number"},
		{`visitor.hour >= 21.5 and visitor.hour <= 22`, ""},
		{`now > "2027-01-01T00:00:00Z" and now < "2027-01-01T00:00:01Z"`, "cannot both hold; no whole number"},
		{`now > "2027-01-01T00:00:00Z" and now < "2027-01-01T00:00:02Z"`, ""},
		{`now >= "2027-01-01T00:00:00Z" and now < "2027-01-01T00:00:01Z"`, ""},
		{`now > "2027-01-01T00:00:00+01:00" and now < "2027-01-01T00:00:00Z"`, ""},
		{`cookie("n") > 5 and cookie("n") < 3`, "`cookie(\"n\") > 5` and `cookie(\"n\") < 3`"},
		{`cookie("n") >= 3 and cookie("n") <= 3`, ""},
		{`cookie("n") > 3 and cookie("n") <= 3`, "cannot both hold"},
		{`cookie("n") >= 3 and cookie("n") <= 3 and cookie("n") != 3`, "cannot all hold"},
		{`cookie("n") >= 3 and cookie("n") <= 3 and cookie("n") != 4`, ""},
		{`cookie("n") > 3 and not cookie("n") > 2`, "cannot both hold"},
		{`not cookie("n") > 2`, ""},                      // a missing or non-numeric value passes
		{`cookie("n") == "abc" and cookie("n") > 2`, ""}, // texts and numbers are told apart per request
		{`not cookie("x") exists or cookie("x") == "a"`, ""},
		{`cookie("x") == "a" and not cookie("x") exists`, "not cookie(\"x\") exists"},
		{`cookie("x") starts_with "a" and not cookie("x") exists`, "cannot both hold"},
		{`cookie("x") starts_with "a" and cookie("x") starts_with "b"`, ""}, // substrings alone are not looked at
		{`path == "/sale" and path starts_with "/fr/"`, "`path == \"/sale\"` and `path starts_with \"/fr/\"`"},
		{`path in ["/fr/a", "/de/b"] and path starts_with "/fr/"`, ""},
		{`path == "/sale" and path matches "^/fr"`, "cannot both hold"},
		{`path == "/sale" and not path starts_with "/sa"`, "cannot both hold"},
		{`path in ["/fr/a", "/de/b"] and path != "/fr/a" and path starts_with "/fr/"`, "cannot all hold"},
		{`geo.country == "FR" and geo.country starts_with "F"`, ""},
		{`visitor.new and not visitor.new`, "`visitor.new` and `not visitor.new`"},
		{`fr and geo.country == "DE"`, "cannot both hold"},
		{`fr and not fr`, "cannot both hold"},
		{`nowhere`, ""}, // the segment is reported, not each rule using it
		{`(geo.country == "FR" or geo.country == "DE") and geo.country == "US"`, "in every way its condition can hold"},
		{`(geo.country == "FR" or geo.country == "DE") and geo.country == "DE"`, ""},
		{`not (geo.country != "FR" or geo.country != "DE")`, "cannot both hold"},
		{`variant("hero") == "a" and variant("hero") == "b"`, "cannot both hold"},
		{`variant("hero") == "a" and variant("hero") != "b"`, ""},
		{`geo.country in ["FR", "DE"] and not (geo.country == "FR" and visitor.new)`, ""},
	} {
		t.Run(tc.when, func(t *testing.T) {
			src := head + "rules:\n  - name: r\n    when: '" + tc.when + "'\n    actions:\n      - remove: \"#x\"\n"
			f, err := syntax.Parse("r.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, list := Run(f)
			if errs := list.Errors(); len(errs) > 0 {
				t.Fatal(errs)
			}
			var got []string
			for _, w := range list.Warnings() {
				if strings.Contains(w.Msg, `rule "r" never matches`) {
					got = append(got, w.Error())
				}
			}
			if tc.want == "" {
				if len(got) > 0 {
					t.Fatalf("warned %q", got)
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0], tc.want) {
				t.Fatalf("warned %q, want one naming %q", got, tc.want)
			}
		})
	}
}

// TestContradictionsNeverMatch holds the search to the reference
// evaluator on random programs (rulegen's, as the Wasm differential has
// them): no request makes a rule match that the search says never does.
// Requests are made of the values the program compares each slot with
// (symbols, numbers and their neighbours, yes and no, a variant's bucket,
// missing), among which is one that makes each test hold or fail that the
// search looks at.
func TestContradictionsNeverMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	flagged, total, shown, unshown := 0, 0, 0, 0
	programs := 400
	if testing.Short() || raceEnabled {
		programs = 50
	}
	for range programs {
		p := rulegen.Program(r)
		_, rules := contradictions(p)
		ev, err := eval.New(p)
		if err != nil {
			t.Fatal(err)
		}
		cands := candidates(p)
		matched := make([]bool, len(p.Rules))
		for range 2000 {
			vals := make([]plugin.Value, len(p.Slots))
			for s := range vals {
				vals[s] = cands[s][r.IntN(len(cands[s]))]
			}
			seen := rulegen.SeenFilter(r)
			d := ev.Eval(&eval.Env{Values: vals, Seen: func(item string) bool { return seen[item] }})
			for i := range p.Rules {
				if !d.Has(i) {
					continue
				}
				if rules[i] != nil {
					t.Fatalf("rule %d, said never to match, matches %v:\n%s", i, vals, p.Format(p.Rules[i].Cond))
				}
				matched[i] = true
			}
		}
		flagged += len(rules)
		total += len(p.Rules)
		for i, m := range matched {
			if m {
				shown++
			} else if rules[i] == nil {
				unshown++
			}
		}
	}
	if flagged == 0 {
		t.Fatal("no random rule was found never to match: the test tried nothing")
	}
	// The requests tried must be able to show a rule matches: else a rule
	// wrongly said never to would pass unseen.
	if shown < 4*unshown {
		t.Errorf("the requests made %d of the rules not said never to match match, and not %d", shown, unshown)
	}
	t.Logf("%d programs, %d rules: %d never match, %d matched a request, %d neither", programs, total, flagged, shown, unshown)
}

// candidates returns, per slot of p, the values worth trying.
func candidates(p *ir.Program) [][]plugin.Value {
	out := make([][]plugin.Value, len(p.Slots))
	for s := range out {
		out[s] = []plugin.Value{{}, text("zz-other"), number(0), number(1)}
	}
	var walk func(n ir.Node)
	walk = func(n ir.Node) {
		switch n := n.(type) {
		case *ir.And:
			for _, x := range n.X {
				walk(x)
			}
		case *ir.Or:
			for _, x := range n.X {
				walk(x)
			}
		case *ir.Not:
			walk(n.X)
		case *ir.SymIn:
			for _, y := range n.Syms {
				out[n.Slot] = append(out[n.Slot], text(p.Symbols[y]))
			}
		case *ir.NumCmp:
			for _, d := range []float64{-1, -0.5, 0, 0.5, 1} {
				out[n.Slot] = append(out[n.Slot], number(n.Value+d))
			}
		case *ir.StrTest:
			out[n.Slot] = append(out[n.Slot], text(n.Arg), text("a"+n.Arg+"z"))
		}
	}
	for _, s := range p.Segments {
		walk(s.Cond)
	}
	for _, r := range p.Rules {
		walk(r.Cond)
	}
	for _, x := range p.Experiments {
		walk(x.Cond)
		upper := 0
		for _, w := range x.Weights {
			out[x.Bucket] = append(out[x.Bucket], number(float64(upper)))
			upper += w
		}
	}
	for s := range out {
		out[s] = slices.CompactFunc(out[s], func(a, b plugin.Value) bool { return a == b })
	}
	return out
}

func text(s string) plugin.Value {
	v := plugin.Value{Str: s, Present: true}
	v.Num, v.Number = plugin.ParseNumber(s)
	return v
}

func number(f float64) plugin.Value {
	return plugin.Value{Str: strconv.FormatFloat(f, 'g', -1, 64), Num: f, Number: true, Present: true}
}
