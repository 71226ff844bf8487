package rulegen

import (
	"math/rand/v2"
	"strconv"

	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Words are the strings random programs compare with and random contexts
// hold, few enough that comparisons often hold.
var Words = []string{"", "FR", "US", "fr", "mobile", "desktop", "pro", "a", "ab", "abc", "b", "bca", "/shop", "/shop/tents", "3", "-2.5", "10", " 7 ", "x y", "é", "0"}

// wide is the vocabulary of a slot compared with more symbols than a
// 64-bit mask holds.
var wide = func() []string {
	w := make([]string, 100)
	for i := range w {
		w[i] = "w" + strconv.Itoa(i)
	}
	return w
}()

// Items are the items seen() asks about in random programs.
var Items = []string{"sku-1", "sku-2", "sku-3", "sku-4", "sku-5"}

// Program returns a random program in IR, for the differential tests of
// the compiled module against the reference evaluator. Programs are small
// enough to run thousands of times and varied enough to reach every path
// of the code generator: every kind of test, and/or/not, segments that
// refer to earlier ones, experiments bucketed by slots of their own (and
// conditions on their variants), conditions repeated across rules and
// segments (computed once when compiled), `in` lists over a slot with more
// symbols than a 64-bit mask holds, the same regular expression on the
// same slot in many rules, and seen().
func Program(r *rand.Rand) *ir.Program {
	p := &ir.Program{Source: "random.yaml"}
	nslots := 1 + r.IntN(6)
	for i := range nslots {
		if i == 0 && r.IntN(3) == 0 {
			p.Slots = append(p.Slots, plugin.Slot{Attr: "visitor.new"})
			continue
		}
		p.Slots = append(p.Slots, plugin.Slot{Attr: "cookie", Arg: "c" + strconv.Itoa(i)})
	}
	wideSlot := -1
	if r.IntN(2) == 0 {
		wideSlot = len(p.Slots)
		p.Slots = append(p.Slots, plugin.Slot{Attr: "cookie", Arg: "wide"})
	}
	syms := map[string]int{}
	sym := func(s string) int {
		if i, ok := syms[s]; ok {
			return i
		}
		syms[s] = len(p.Symbols)
		p.Symbols = append(p.Symbols, s)
		return syms[s]
	}
	pats := []string{"^a", "b$", "[0-9]+", "^/shop(/.*)?$", "é", "^w[0-9]$"}
	pat := map[string]int{}
	pattern := func() int {
		s := pats[r.IntN(len(pats))]
		if i, ok := pat[s]; ok {
			return i
		}
		pat[s] = len(p.Patterns)
		p.Patterns = append(p.Patterns, s)
		return pat[s]
	}
	// Conditions already made, which later ones reuse as they are: a
	// rule file repeats itself, and the compiler shares what repeats.
	var made []ir.Node
	var gen func(depth int) ir.Node
	gen = func(depth int) ir.Node {
		if len(made) > 0 && r.IntN(5) == 0 {
			return made[r.IntN(len(made))]
		}
		n := genNode(r, p, depth, gen, sym, pattern, wideSlot, nslots)
		made = append(made, n)
		return n
	}
	for i := range r.IntN(4) {
		p.Segments = append(p.Segments, &ir.Segment{Name: "s" + strconv.Itoa(i), Cond: gen(2)})
	}
	for i := range r.IntN(3) {
		// Each experiment buckets by a slot of its own; weights may leave
		// part of the traffic out.
		p.Slots = append(p.Slots, plugin.Slot{Attr: "bucket", Arg: "seed" + strconv.Itoa(i), From: &plugin.Slot{Attr: "visitor.id"}})
		x := &ir.Experiment{Name: "x" + strconv.Itoa(i), Bucket: len(p.Slots) - 1, Cond: &ir.Const{Value: true}}
		if r.IntN(2) == 0 {
			x.Cond = gen(1)
		}
		left := plugin.Buckets
		for v := range 1 + r.IntN(4) {
			w := r.IntN(left + 1)
			left -= w
			x.Variants = append(x.Variants, "v"+strconv.Itoa(v))
			x.Weights = append(x.Weights, w)
		}
		p.Experiments = append(p.Experiments, x)
	}
	nrules := 1 + r.IntN(140) // more than two decision words now and then
	for i := range nrules {
		p.Rules = append(p.Rules, &ir.Rule{Name: "r" + strconv.Itoa(i), Pos: diag.Pos{Line: i + 1, Col: 1}, Cond: gen(3)})
	}
	return p
}

func genNode(r *rand.Rand, p *ir.Program, depth int, gen func(int) ir.Node, sym func(string) int, pattern func() int, wideSlot, nslots int) ir.Node {
	slot := r.IntN(nslots)
	k := r.IntN(15)
	if k == 12 {
		if len(p.Experiments) == 0 {
			k = r.IntN(12)
		} else {
			e := r.IntN(len(p.Experiments))
			vs := []int{r.IntN(len(p.Experiments[e].Variants))}
			if r.IntN(2) == 0 {
				vs = append(vs, r.IntN(len(p.Experiments[e].Variants)))
			}
			return &ir.VariantIs{Exp: e, Variants: vs}
		}
	}
	if depth <= 0 && k < 4 {
		k += 4
	}
	switch k {
	case 0, 1:
		n := 2 + r.IntN(3)
		var xs []ir.Node
		for range n {
			xs = append(xs, gen(depth-1))
		}
		if k == 0 {
			return &ir.And{X: xs}
		}
		return &ir.Or{X: xs}
	case 2:
		return &ir.Not{X: gen(depth - 1)}
	case 3:
		if len(p.Segments) > 0 {
			return &ir.SegmentRef{Index: r.IntN(len(p.Segments))}
		}
		return &ir.Const{Value: r.IntN(2) == 0}
	case 4:
		return &ir.Exists{Slot: slot}
	case 5:
		return &ir.Truthy{Slot: slot}
	case 6, 7:
		if wideSlot >= 0 && r.IntN(2) == 0 {
			var ss []int
			for range 1 + r.IntN(40) {
				ss = append(ss, sym(wide[r.IntN(len(wide))]))
			}
			return &ir.SymIn{Slot: wideSlot, Syms: ss}
		}
		var ss []int
		for range 1 + r.IntN(3) {
			ss = append(ss, sym(Words[r.IntN(len(Words))]))
		}
		return &ir.SymIn{Slot: slot, Syms: ss}
	case 8:
		return &ir.StrTest{Slot: slot, Op: ir.StrOp(1 + r.IntN(3)), Arg: Words[r.IntN(len(Words))]}
	case 9, 10:
		vals := []float64{-2.5, 0, 3, 7, 10, 1e9}
		return &ir.NumCmp{Slot: slot, Op: ir.NumOp(1 + r.IntN(5)), Value: vals[r.IntN(len(vals))]}
	case 13:
		return &ir.Seen{Item: sym(Items[r.IntN(len(Items))])}
	case 14:
		if wideSlot >= 0 && r.IntN(2) == 0 {
			slot = wideSlot
		}
		return &ir.Match{Slot: slot, Pattern: pattern()}
	default:
		return &ir.Match{Slot: slot, Pattern: pattern()}
	}
}

// Values returns a random context for p: one value per slot, about one
// in five missing.
func Values(r *rand.Rand, p *ir.Program) []plugin.Value {
	vals := make([]plugin.Value, len(p.Slots))
	for i, s := range p.Slots {
		if r.IntN(5) == 0 {
			continue // missing
		}
		switch {
		case s.Attr == "bucket":
			b := float64(r.IntN(plugin.Buckets))
			vals[i] = plugin.Value{Present: true, Number: true, Num: b, Str: strconv.Itoa(int(b))}
			continue
		case s.Attr == "visitor.new":
			t := r.IntN(2) == 0
			vals[i] = plugin.Value{Present: true, Number: true, Str: strconv.FormatBool(t)}
			if t {
				vals[i].Num = 1
			}
			continue
		case s.Arg == "wide" && r.IntN(4) != 0:
			vals[i] = plugin.Value{Present: true, Str: wide[r.IntN(len(wide))]}
			continue
		}
		str := Words[r.IntN(len(Words))]
		if r.IntN(4) == 0 {
			str += Words[r.IntN(len(Words))]
		}
		v := plugin.Value{Str: str, Present: true}
		v.Num, v.Number = plugin.ParseNumber(str)
		vals[i] = v
	}
	return vals
}

// SeenFilter returns a random seen-filter: each of Items seen or not.
func SeenFilter(r *rand.Rand) map[string]bool {
	seen := map[string]bool{}
	for _, it := range Items {
		seen[it] = r.IntN(2) == 0
	}
	return seen
}
