package site

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/codegen"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestNarrowedPageNamesWhatDecides: for random programs whose first
// slot is the path (rules, segments, experiments with conditions and
// conditions on their variants, values the actions insert), random
// contexts and a slot the page's narrowed list leaves out for the
// context (its path, the rules that matched), giving that slot another
// value changes neither the rules that match nor the variants, by the
// reference evaluator; and the rules that matched insert no value of
// it. A slot left out that did either would let a shared cache give a
// page made for one value to a visitor with another.
func TestNarrowedPageNamesWhatDecides(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	left, tried, byValue := 0, 0, 0
	for range 400 {
		p := rulegen.Program(r)
		p.Slots[0] = plugin.Slot{Attr: "path"}
		// Most rules confined to some paths, as editors write them, and
		// some inserting values (a header naming a slot's value, or a
		// variant) that their condition may not read.
		for _, rule := range p.Rules {
			if r.IntN(2) == 0 {
				part := plugin.Part{Slot: r.IntN(len(p.Slots))}
				if len(p.Experiments) > 0 && r.IntN(3) == 0 {
					part = plugin.Part{Slot: -1, Experiment: 1 + r.IntN(len(p.Experiments))}
				}
				rule.Actions = append(rule.Actions, plugin.Action{Op: plugin.OpSetHeader, Select: -1, Name: "X-Value", Value: plugin.Template{part}})
			}
			switch r.IntN(4) {
			case 0:
				rule.Cond = &ir.And{X: []ir.Node{&ir.StrTest{Slot: 0, Op: ir.Prefix, Arg: "/shop"}, rule.Cond}}
			case 1:
				rule.Cond = &ir.And{X: []ir.Node{rule.Cond, &ir.StrTest{Slot: 0, Op: ir.Suffix, Arg: "b"}}}
			case 2:
				rule.Cond = &ir.Or{X: []ir.Node{&ir.And{X: []ir.Node{&ir.StrTest{Slot: 0, Op: ir.Contains, Arg: "a"}, rule.Cond}}, &ir.Const{Value: false}}}
			}
		}
		art, err := codegen.GenerateArtifact(p)
		if err != nil {
			t.Fatal(err)
		}
		m := art.Manifest
		ev, err := eval.New(p)
		if err != nil {
			t.Fatal(err)
		}
		var res []*regexp.Regexp
		for _, s := range m.Patterns {
			res = append(res, regexp.MustCompile(s))
		}
		match := func(i int, s string) bool { return res[i].MatchString(s) }
		for range 10 {
			vals := rulegen.Values(r, p)
			vals[0].Present = true
			path := vals[0].Str
			seen := rulegen.SeenFilter(r)
			decide := func(vals []plugin.Value) plugin.Decision {
				return ev.Eval(&eval.Env{Values: vals, Seen: func(item string) bool { return seen[item] }})
			}
			env := func(vals []plugin.Value) string {
				d := decide(vals)
				return fmt.Sprint(d.Matched, d.Variants)
			}
			d := decide(vals)
			all := func(int) bool { return true }
			page, _, _, _, _ := narrowSlots(m, func(ri int) bool { return !m.Rules[ri].Path.Holds(path, match) }, func(ri int) bool { return !d.Has(ri) }, all, all)
			want := env(vals)
			for i := 1; i < len(p.Slots); i++ {
				if slices.Contains(page, i) {
					continue
				}
				left++
				for ri := range m.Rules {
					if slices.Contains(m.Rules[ri].ValueReads, i) {
						byValue++
						break
					}
				}
				for ri := range m.Rules {
					if d.Has(ri) && slices.Contains(m.Rules[ri].Reads, i) {
						t.Fatalf("on %q, slot %d (%s) is left out of the page's Vary, but rule %d, which matched, reads it", path, i, p.Slots[i], ri)
					}
				}
				for range 5 {
					other := slices.Clone(vals)
					other[i] = rulegen.Values(r, p)[i]
					tried++
					if got := env(other); got != want {
						t.Fatalf("on %q, slot %d (%s) is left out of the page's Vary, but %v for %v decides %s against %s", path, i, p.Slots[i], other[i], vals[i], got, want)
					}
				}
			}
		}
	}
	t.Logf("%d slots left out for their path and decision (%d a value of a rule that did not apply), %d other values tried", left, byValue, tried)
	if left == 0 || byValue == 0 {
		t.Error("no slot was left out, or none for a rule that did not apply: the test tests nothing")
	}
}
