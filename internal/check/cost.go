package check

import (
	"github.com/bespoke-edge/bespoke/internal/bounded"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// valueCost warns when the rules' text tests cost so much per byte of
// the value they read that the proxy bounds that value below what a long
// header or cookie holds. A contains test runs the length of its text per
// byte of the value, a regex the size of its program: the plugin runs
// without a deadline only while a decision stays within bounded.MaxCost,
// so it is not run for a longer value (the visitor gets the page as the
// origin sent it), or, when the bound would be under
// bounded.MinValueBound, it runs with a deadline. The cost is estimated
// as the verifier counts it in the module: each distinct test once.
func (c *checker) valueCost() {
	p := c.prog
	var (
		perByte int64
		most    int64
		at      diag.Pos
		seen    = map[any]bool{}
		sizes   = make([]int, len(p.Patterns))
	)
	add := func(key any, cost int64, pos diag.Pos) {
		if seen[key] {
			return
		}
		seen[key] = true
		perByte += cost
		if cost > most {
			most, at = cost, pos
		}
	}
	visit := func(n ir.Node) {
		switch n := n.(type) {
		case *ir.StrTest:
			if n.Op == ir.Contains {
				type key struct {
					slot int
					arg  string
				}
				add(key{n.Slot, n.Arg}, 32+20*int64(len(n.Arg)), n.Pos)
			}
		case *ir.Match:
			// A pattern's size is its compiled program's: counted once
			// for every test of it, not once for every rule repeating one.
			if key := [2]int{n.Slot, n.Pattern}; n.Pattern >= 0 && n.Pattern < len(p.Patterns) && !seen[key] {
				if sizes[n.Pattern] == 0 {
					sizes[n.Pattern] = max(bounded.PatternSize(p.Patterns[n.Pattern]), 1)
				}
				add(key, bounded.RegexByteCost*int64(sizes[n.Pattern]), n.Pos)
			}
		}
	}
	for _, s := range p.Segments {
		ir.Inspect(s.Cond, visit)
	}
	for _, x := range p.Experiments {
		ir.Inspect(x.Cond, visit)
	}
	for _, r := range p.Rules {
		ir.Inspect(r.Cond, visit)
	}
	if perByte == 0 || !at.IsValid() {
		return
	}
	limit := bounded.MaxCost / perByte
	switch {
	case limit >= warnValueBound:
		return
	case limit < bounded.MinValueBound:
		c.warnf(at, "the rules' contains texts and patterns cost %d steps per byte of the value they test: too many for a plugin that runs without a deadline, so this one runs with decide_timeout, a few µs more per decision", perByte).
			WithHint("the costliest is this test: shorten contains texts and patterns, or test fewer values with them").WithCode("value-cost")
	default:
		c.warnf(at, "the rules' contains texts and patterns cost %d steps per byte of the value they test: a value over %d bytes (a long header or cookie) is not decided, and its visitor gets the page as the origin sent it", perByte, limit).
			WithHint("the costliest is this test: shorten contains texts and patterns, or test fewer values with them").WithCode("value-cost")
	}
}

// warnValueBound is the value length under which valueCost warns: a
// header or cookie of 16 KiB is rare, one of a few KiB is not.
const warnValueBound = 16 << 10
