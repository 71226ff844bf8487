// Package eval is the reference evaluator of the rule IR: a direct,
// deliberately plain interpretation of every node, written independently of
// the code generator. The compiled Wasm module must agree with it on every
// context; tests and fuzzing hold them to that, and `bespoke explain` uses it
// to say why a rule matched.
package eval

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Env is the input of one evaluation.
type Env struct {
	// Values holds one value per slot of the program.
	Values []plugin.Value
	// Seen reports whether the visitor has seen an item; nil means nothing
	// has been seen.
	Seen func(item string) bool
}

// Evaluator evaluates one program. It is safe for concurrent use.
type Evaluator struct {
	prog     *ir.Program
	patterns []*regexp.Regexp
}

// New prepares an evaluator for p, compiling its patterns.
func New(p *ir.Program) (*Evaluator, error) {
	e := &Evaluator{prog: p}
	for _, s := range p.Patterns {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", s, err)
		}
		e.patterns = append(e.patterns, re)
	}
	return e, nil
}

// Program returns the program the evaluator runs.
func (e *Evaluator) Program() *ir.Program { return e.prog }

// Eval decides which rules match env.
func (e *Evaluator) Eval(env *Env) plugin.Decision {
	d := plugin.Decision{Matched: make([]uint64, plugin.DecisionWords(len(e.prog.Rules)))}
	st := e.newState(env, false)
	d.Variants = append(d.Variants, st.variants...)
	for i, r := range e.prog.Rules {
		if st.eval(r.Cond, nil) {
			d.Set(i)
		}
	}
	return d
}

// Trace is the evaluation of one node, for explanations.
type Trace struct {
	// Text is the condition in the rule language.
	Text string
	// Result is its value; Evaluated is false when evaluation stopped before
	// reaching it (and/or stop at the first operand that decides).
	Result, Evaluated bool
	// Values describes the attribute values the node read ("geo.country =
	// \"FR\"").
	Values []string
	// Segment names the segment a reference led to.
	Segment  string
	Children []*Trace
}

// RuleTrace explains one rule.
type RuleTrace struct {
	Rule    *ir.Rule
	Matched bool
	Cond    *Trace
}

// Explain evaluates every rule and records why each matched or not.
func (e *Evaluator) Explain(env *Env) []RuleTrace {
	st := e.newState(env, true)
	out := make([]RuleTrace, len(e.prog.Rules))
	for i, r := range e.prog.Rules {
		t := &Trace{}
		out[i] = RuleTrace{Rule: r, Matched: st.eval(r.Cond, t), Cond: t}
	}
	return out
}

type state struct {
	e        *Evaluator
	env      *Env
	segs     []int8 // -1 not evaluated, 0 false, 1 true
	trace    bool
	variants []int32
}

func (e *Evaluator) newState(env *Env, trace bool) *state {
	segs := make([]int8, len(e.prog.Segments))
	for i := range segs {
		segs[i] = -1
	}
	st := &state{e: e, env: env, segs: segs, trace: trace}
	// Experiments are decided before rules, which may depend on them.
	for _, x := range e.prog.Experiments {
		st.variants = append(st.variants, st.assign(x))
	}
	return st
}

// assign picks the variant of experiment x: the range of buckets the
// visitor's bucket falls in, or -1.
func (s *state) assign(x *ir.Experiment) int32 {
	if !s.eval(x.Cond, nil) {
		return -1
	}
	v := s.value(x.Bucket)
	if !v.Present || !v.Number {
		return -1
	}
	upper := 0.0
	for i, w := range x.Weights {
		upper += float64(w)
		if v.Num < upper {
			return int32(i)
		}
	}
	return -1
}

// Variants returns the variant each experiment assigns env, by index (-1:
// not enrolled).
func (e *Evaluator) Variants(env *Env) []int32 {
	return e.newState(env, false).variants
}

func (s *state) value(slot int) plugin.Value {
	if slot < len(s.env.Values) {
		return s.env.Values[slot]
	}
	return plugin.Value{}
}

// eval evaluates n; when t is not nil it records the trace of n into t.
func (s *state) eval(n ir.Node, t *Trace) bool {
	r := s.eval1(n, t)
	if t != nil {
		t.Text = s.e.prog.Format(n)
		t.Result, t.Evaluated = r, true
	}
	return r
}

func (s *state) child(t *Trace) *Trace {
	if t == nil {
		return nil
	}
	c := &Trace{}
	t.Children = append(t.Children, c)
	return c
}

func (s *state) describe(t *Trace, slot int) {
	if t == nil {
		return
	}
	v := s.value(slot)
	sl := s.e.prog.Slots[slot]
	name := sl.String()
	if !v.Present {
		t.Values = append(t.Values, name+" is missing")
	} else {
		t.Values = append(t.Values, name+" = "+sl.Show(v.Str))
	}
}

func (s *state) eval1(n ir.Node, t *Trace) bool {
	p := s.e.prog
	switch n := n.(type) {
	case *ir.Const:
		return n.Value
	case *ir.And:
		for i, x := range n.X {
			if !s.eval(x, s.child(t)) {
				s.skipped(t, n.X[i+1:])
				return false
			}
		}
		return true
	case *ir.Or:
		for i, x := range n.X {
			if s.eval(x, s.child(t)) {
				s.skipped(t, n.X[i+1:])
				return true
			}
		}
		return false
	case *ir.Not:
		return !s.eval(n.X, s.child(t))
	case *ir.SegmentRef:
		if t != nil {
			t.Segment = p.Segments[n.Index].Name
			// Explanations show the segment's own condition each time.
			return s.eval(p.Segments[n.Index].Cond, s.child(t))
		}
		if s.segs[n.Index] < 0 {
			s.segs[n.Index] = 0
			if s.eval(p.Segments[n.Index].Cond, nil) {
				s.segs[n.Index] = 1
			}
		}
		return s.segs[n.Index] == 1
	case *ir.Exists:
		s.describe(t, n.Slot)
		return s.value(n.Slot).Present
	case *ir.Truthy:
		s.describe(t, n.Slot)
		v := s.value(n.Slot)
		return v.Present && v.Number && v.Num != 0
	case *ir.SymIn:
		s.describe(t, n.Slot)
		v := s.value(n.Slot)
		if !v.Present {
			return false
		}
		for _, sym := range n.Syms {
			if v.Str == p.Symbols[sym] {
				return true
			}
		}
		return false
	case *ir.StrTest:
		s.describe(t, n.Slot)
		v := s.value(n.Slot)
		if !v.Present {
			return false
		}
		switch n.Op {
		case ir.Prefix:
			return strings.HasPrefix(v.Str, n.Arg)
		case ir.Suffix:
			return strings.HasSuffix(v.Str, n.Arg)
		case ir.Contains:
			return strings.Contains(v.Str, n.Arg)
		}
	case *ir.NumCmp:
		s.describe(t, n.Slot)
		v := s.value(n.Slot)
		if !v.Present || !v.Number {
			return false
		}
		switch n.Op {
		case ir.EQ:
			return v.Num == n.Value
		case ir.LT:
			return v.Num < n.Value
		case ir.LE:
			return v.Num <= n.Value
		case ir.GT:
			return v.Num > n.Value
		case ir.GE:
			return v.Num >= n.Value
		}
	case *ir.Match:
		s.describe(t, n.Slot)
		v := s.value(n.Slot)
		return v.Present && s.e.patterns[n.Pattern].MatchString(v.Str)
	case *ir.Seen:
		item := p.Symbols[n.Item]
		seen := s.env.Seen != nil && s.env.Seen(item)
		if t != nil {
			if seen {
				t.Values = append(t.Values, fmt.Sprintf("%q was seen", item))
			} else {
				t.Values = append(t.Values, fmt.Sprintf("%q was not seen", item))
			}
		}
		return seen
	case *ir.VariantIs:
		got := s.variants[n.Exp]
		if t != nil {
			x := p.Experiments[n.Exp]
			if got < 0 {
				t.Values = append(t.Values, fmt.Sprintf("not enrolled in %s", x.Name))
			} else {
				t.Values = append(t.Values, fmt.Sprintf("variant(%q) = %q", x.Name, x.Variants[got]))
			}
		}
		for _, v := range n.Variants {
			if int32(v) == got {
				return true
			}
		}
		return false
	}
	panic(fmt.Sprintf("eval: unknown node %T", n))
}

func (s *state) skipped(t *Trace, rest []ir.Node) {
	if t == nil {
		return
	}
	for _, x := range rest {
		t.Children = append(t.Children, &Trace{Text: s.e.prog.Format(x)})
	}
}
