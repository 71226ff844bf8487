package ir

import (
	"slices"

	"github.com/bespoke-edge/bespoke/plugin"
)

// Reads returns what rule ri's decision and its actions' values depend
// on: the slots its condition tests, with those of the segments and
// experiments it names (an experiment's condition and bucket), and
// those its actions' templates insert, sorted, each once; and whether it
// asks the visitor's seen-filter. A response that only some rules can
// shape varies with the request headers those slots come from and no
// others (the host's Vary).
func (p *Program) Reads(ri int) (slots []int, seen bool) {
	r := p.Rules[ri]
	return p.reads(r.Cond, r.Actions, -1)
}

// ValueReads returns the slots of Reads(ri) that only rule ri's actions'
// values read, not its condition (nor the segments and experiments it
// names), sorted: a response the rule did not apply to does not depend on
// them, so its Vary need not name them.
func (p *Program) ValueReads(ri int) []int {
	r := p.Rules[ri]
	cond, _ := p.reads(r.Cond, nil, -1)
	vals, _ := p.reads(nil, r.Actions, -1)
	var out []int
	for _, i := range vals {
		if !slices.Contains(cond, i) {
			out = append(out, i)
		}
	}
	return out
}

// ExperimentReads returns the slots experiment i's variant depends on:
// its bucket and what its condition tests (with the segments and
// experiments it names), sorted, each once.
func (p *Program) ExperimentReads(i int) []int {
	slots, _ := p.reads(nil, nil, i)
	return slots
}

// reads is what cond and acts depend on, and experiment exp0's variant
// when exp0 ≥ 0.
func (p *Program) reads(cond Node, acts []plugin.Action, exp0 int) (slots []int, seen bool) {
	var (
		set  = map[int]bool{}
		segs = map[int]bool{}
		exps = map[int]bool{}
		walk func(Node)
	)
	exp := func(i int) {
		if i < 0 || i >= len(p.Experiments) || exps[i] {
			return
		}
		exps[i] = true
		set[p.Experiments[i].Bucket] = true
		walk(p.Experiments[i].Cond)
	}
	walk = func(n Node) {
		switch n := n.(type) {
		case *And:
			for _, x := range n.X {
				walk(x)
			}
		case *Or:
			for _, x := range n.X {
				walk(x)
			}
		case *Not:
			walk(n.X)
		case *SegmentRef:
			if !segs[n.Index] {
				segs[n.Index] = true
				walk(p.Segments[n.Index].Cond)
			}
		case *Exists:
			set[n.Slot] = true
		case *Truthy:
			set[n.Slot] = true
		case *SymIn:
			set[n.Slot] = true
		case *StrTest:
			set[n.Slot] = true
		case *NumCmp:
			set[n.Slot] = true
		case *Match:
			set[n.Slot] = true
		case *VariantIs:
			exp(n.Exp)
		case *Seen:
			seen = true
		case *Const, nil:
		default:
			// A node this walk does not know: every slot, to be safe.
			for i := range p.Slots {
				set[i] = true
			}
			seen = true
		}
	}
	if exp0 >= 0 {
		exp(exp0)
	}
	walk(cond)
	for _, a := range acts {
		for _, t := range []plugin.Template{a.Content, a.Value, a.Order, a.Item} {
			for _, part := range t {
				if part.Slot >= 0 {
					set[part.Slot] = true
				}
				if part.Experiment > 0 {
					exp(part.Experiment - 1)
				}
			}
		}
	}
	for i := range set {
		if i >= 0 && i < len(p.Slots) {
			slots = append(slots, i)
		}
	}
	slices.Sort(slots)
	return slots, seen
}

// Inspect calls f for n and, through And, Or and Not, for every node
// under it, parents first. Segment and experiment references are not
// followed: their conditions are the program's, inspected on their own.
func Inspect(n Node, f func(Node)) {
	f(n)
	switch n := n.(type) {
	case *And:
		for _, x := range n.X {
			Inspect(x, f)
		}
	case *Or:
		for _, x := range n.X {
			Inspect(x, f)
		}
	case *Not:
		Inspect(n.X, f)
	}
}
