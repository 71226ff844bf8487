package check

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/bespoke-edge/bespoke/internal/ir"
)

// contradictions warns of the segments and rules whose condition holds on
// no request: in every way it can hold, two of its tests (or more) ask
// for values of one attribute that no value has at once, such as
// geo.country == "FR" and geo.country == "DE". Each test is checked on
// its own as it is read; only their combination is checked here. The
// search is exact for what it looks at (equality with symbols, numeric
// comparisons, presence, yes/no values, variants, and substring tests and
// patterns on the symbols an equality leaves) and takes every other test
// (other substrings and patterns, seen items) for one that may hold: it
// never calls a condition that can hold contradictory.
func (c *checker) contradictions() {
	segs, rules := contradictions(c.prog)
	for i, s := range c.prog.Segments {
		if cf := segs[i]; cf != nil {
			c.contradiction(fmt.Sprintf("segment %q", s.Name), s.Cond, cf)
		}
	}
	for i, r := range c.prog.Rules {
		if cf := rules[i]; cf != nil {
			c.contradiction(fmt.Sprintf("rule %q", r.Name), r.Cond, cf)
		}
	}
}

// contradictions returns, by index, the segments and rules of p whose
// condition holds on no request, with the tests that show it. A rule
// disabled (a constant condition) or that never holds only because a
// segment it uses never does is not among them.
func contradictions(p *ir.Program) (segs, rules map[int]*conflict) {
	segs, rules = map[int]*conflict{}, map[int]*conflict{}
	never := make([]bool, len(p.Segments))
	tx := &texts{prog: p, patterns: map[int]*regexp.Regexp{}} // shared: patterns compile once
	for i, s := range p.Segments {
		if cf, unsat := unsatisfiable(p, s.Cond, never, tx); unsat && cf != nil {
			never[i] = true
			segs[i] = cf
		}
	}
	for i, r := range p.Rules {
		if _, disabled := r.Cond.(*ir.Const); disabled {
			continue
		}
		if cf, unsat := unsatisfiable(p, r.Cond, never, tx); unsat && cf != nil {
			rules[i] = cf
		}
	}
	return segs, rules
}

// contradiction reports that the condition cond of what never holds,
// for the tests of cf.
func (c *checker) contradiction(what string, cond ir.Node, cf *conflict) {
	tests := make([]string, len(cf.lits))
	for i, l := range cf.lits {
		tests[i] = "`" + c.formatLit(l) + "`"
	}
	both := "both"
	if len(tests) > 2 {
		both = "all"
	}
	list := strings.Join(tests[:len(tests)-1], ", ") + " and " + tests[len(tests)-1]
	// The test written last: a rule's own, rather than one of a segment
	// it uses (segments come first in a file).
	pos := cf.lits[0].n.Position()
	for _, l := range cf.lits[1:] {
		if p := l.n.Position(); p.Line > pos.Line || p.Line == pos.Line && p.Col > pos.Col {
			pos = p
		}
	}
	msg := fmt.Sprintf("%s never matches: %s cannot %s hold", what, list, both)
	if cf.branched {
		// The tests are those of one way the condition can hold; the
		// others contradict themselves too.
		pos = cond.Position()
		msg = fmt.Sprintf("%s never matches: in every way its condition can hold, two of its tests contradict each other (for one: %s)", what, list)
	}
	// A warning: the file is valid, and generated rule files may hold
	// such rules; but no request will ever see what the rule does.
	c.warnf(pos, "%s", msg).WithHint("%s", cf.hint).WithCode("never-matches")
}

func (c *checker) formatLit(l lit) string {
	if l.neg {
		return c.prog.Format(&ir.Not{Pos: l.n.Position(), X: l.n})
	}
	return c.prog.Format(l.n)
}

// lit is a test of a condition, or its negation.
type lit struct {
	n   ir.Node
	neg bool
}

// conflict is the tests found to contradict each other, and how to fix
// them.
type conflict struct {
	lits     []lit
	hint     string
	branched bool // found in one alternative of an or
}

// solveBudget bounds the alternatives the search tries: a condition with
// more is taken for one that may hold.
const solveBudget = 4096

// unsatisfiable reports whether cond holds on no request, and the
// conflict that shows it (nil when cond is false for a reason other than
// contradicting tests: a constant, a segment that never holds).
func unsatisfiable(p *ir.Program, cond ir.Node, never []bool, tx *texts) (*conflict, bool) {
	s := &solver{prog: p, never: never, budget: solveBudget}
	sat, cf := s.sat(newFacts(tx), []lit{{n: cond}}, false)
	if sat || s.budget <= 0 {
		return nil, false
	}
	return cf, true
}

type solver struct {
	prog   *ir.Program
	never  []bool // segments known never to hold
	budget int
	depth  int // segments being expanded
}

// sat reports whether the tests of todo can all hold together with f, or
// else a conflict among them.
func (s *solver) sat(f *facts, todo []lit, branched bool) (bool, *conflict) {
	for len(todo) > 0 {
		l := todo[0]
		todo = todo[1:]
		// A negation is read in place: put back at the front of todo, it
		// cost a copy of the rest, per negation.
		for {
			n, ok := l.n.(*ir.Not)
			if !ok {
				break
			}
			l = lit{n: n.X, neg: !l.neg}
		}
		switch n := l.n.(type) {
		case *ir.And, *ir.Or:
			var xs []ir.Node
			conj := false
			if a, ok := n.(*ir.And); ok {
				xs, conj = a.X, !l.neg
			} else {
				xs, conj = n.(*ir.Or).X, l.neg
			}
			if conj {
				front := make([]lit, 0, len(xs)+len(todo))
				for _, x := range xs {
					front = append(front, lit{n: x, neg: l.neg})
				}
				todo = append(front, todo...)
				continue
			}
			var first *conflict
			for _, x := range xs {
				if s.budget--; s.budget <= 0 {
					return true, nil // too many ways to hold: taken for one that may
				}
				rest := append([]lit{{n: x, neg: l.neg}}, todo...)
				ok, cf := s.sat(f.clone(), rest, true)
				if ok {
					return true, nil
				}
				if first == nil {
					first = cf
				}
			}
			return false, first
		case *ir.SegmentRef:
			if s.never[n.Index] || s.depth > 16 {
				if s.never[n.Index] && !l.neg {
					return false, nil // reported with the segment
				}
				continue
			}
			s.depth++
			ok, cf := s.sat(f, append([]lit{{n: s.prog.Segments[n.Index].Cond, neg: l.neg}}, todo...), branched)
			s.depth--
			return ok, cf
		case *ir.Const:
			if n.Value == l.neg {
				return false, nil
			}
		default:
			if cf := f.add(l); cf != nil {
				cf.branched = branched
				return false, cf
			}
		}
	}
	return true, nil
}

// facts is what the tests read so far require of the request's values.
type facts struct {
	slots    map[int]*slotFacts
	variants map[int]*symFacts // by experiment
	texts    *texts
}

// texts evaluates substring tests and patterns on the program's symbols.
type texts struct {
	prog     *ir.Program
	patterns map[int]*regexp.Regexp // compiled as asked
}

// holds reports whether the value sym passes test l (a StrTest or a
// Match, or its negation), as the evaluator decides it.
func (t *texts) holds(l lit, sym string) bool {
	var ok bool
	switch n := l.n.(type) {
	case *ir.StrTest:
		switch n.Op {
		case ir.Prefix:
			ok = strings.HasPrefix(sym, n.Arg)
		case ir.Suffix:
			ok = strings.HasSuffix(sym, n.Arg)
		case ir.Contains:
			ok = strings.Contains(sym, n.Arg)
		}
	case *ir.Match:
		re, seen := t.patterns[n.Pattern]
		if !seen {
			re, _ = regexp.Compile(t.prog.Patterns[n.Pattern])
			t.patterns[n.Pattern] = re
		}
		if re == nil {
			return true // not read: taken for one that may hold
		}
		ok = re.MatchString(sym)
	}
	return ok != l.neg
}

// slotFacts is what the tests require of one slot's value.
type slotFacts struct {
	present, absent []lit // tests that need a value, or none
	isTrue, notTrue []lit // yes/no tests
	syms            symFacts
	num             numFacts
	// strs are the substring tests and patterns the value must pass (or,
	// negated, fail): exact on the symbols syms leaves it.
	strs []lit
}

// symFacts is the symbols a value may be: those of every set it must be
// in (all when none), but those it must not be.
type symFacts struct {
	in    map[int]bool // nil: any
	out   map[int]bool
	inBy  []lit
	outBy []lit
}

// numFacts is the interval a number must lie in, and the comparisons it
// must fail (each only when the value is a number).
type numFacts struct {
	// whole: the slot's values are whole numbers (wholeAttrs), so an
	// interval holding none, (22, 23), is empty too.
	whole bool
	set   bool
	iv    interval
	by    []lit
	not   []*ir.NumCmp
	notBy []lit
}

// interval is the numbers between lo and hi, each bound when it is set.
type interval struct {
	lo, hi         float64
	loOpen, hiOpen bool
	loSet, hiSet   bool
}

func newFacts(tx *texts) *facts {
	return &facts{slots: map[int]*slotFacts{}, texts: tx}
}

func (f *facts) clone() *facts {
	g := newFacts(f.texts)
	for k, v := range f.slots {
		w := *v
		w.syms = v.syms.clone()
		w.num.by = slices.Clone(v.num.by)
		w.num.not = slices.Clone(v.num.not)
		w.num.notBy = slices.Clone(v.num.notBy)
		w.present, w.absent = slices.Clone(v.present), slices.Clone(v.absent)
		w.isTrue, w.notTrue = slices.Clone(v.isTrue), slices.Clone(v.notTrue)
		w.strs = slices.Clone(v.strs)
		g.slots[k] = &w
	}
	if f.variants != nil {
		g.variants = make(map[int]*symFacts, len(f.variants))
	}
	for k, v := range f.variants {
		w := v.clone()
		g.variants[k] = &w
	}
	return g
}

func (s symFacts) clone() symFacts {
	t := s
	if s.in != nil {
		t.in = maps.Clone(s.in)
	}
	t.out = maps.Clone(s.out)
	t.inBy, t.outBy = slices.Clone(s.inBy), slices.Clone(s.outBy)
	return t
}

func (f *facts) slot(i int) *slotFacts {
	sf := f.slots[i]
	if sf == nil {
		sf = &slotFacts{}
		if f.texts != nil && f.texts.prog != nil && i >= 0 && i < len(f.texts.prog.Slots) {
			sf.num.whole = wholeAttrs[f.texts.prog.Slots[i].Attr]
		}
		f.slots[i] = sf
	}
	return sf
}

// add records test l, and returns the conflict it makes with the tests
// before it, if any.
func (f *facts) add(l lit) *conflict {
	switch n := l.n.(type) {
	case *ir.Exists:
		sf := f.slot(n.Slot)
		if l.neg {
			return sf.needAbsent(l)
		}
		return sf.needPresent(l)
	case *ir.Truthy:
		sf := f.slot(n.Slot)
		if l.neg {
			sf.notTrue = append(sf.notTrue, l)
			if len(sf.isTrue) > 0 {
				return &conflict{lits: []lit{sf.isTrue[0], l}, hint: "remove one of them"}
			}
			return nil
		}
		sf.isTrue = append(sf.isTrue, l)
		if len(sf.notTrue) > 0 {
			return &conflict{lits: []lit{sf.notTrue[0], l}, hint: "remove one of them"}
		}
		return sf.needPresent(l)
	case *ir.SymIn:
		sf := f.slot(n.Slot)
		if l.neg {
			if cf := sf.syms.exclude(n.Syms, l); cf != nil {
				return cf
			}
			return f.checkTexts(sf)
		}
		if cf := sf.needPresent(l); cf != nil {
			return cf
		}
		if cf := sf.syms.restrict(n.Syms, l); cf != nil {
			return cf
		}
		return f.checkTexts(sf)
	case *ir.NumCmp:
		sf := f.slot(n.Slot)
		if l.neg {
			sf.num.not = append(sf.num.not, n)
			sf.num.notBy = append(sf.num.notBy, l)
			return sf.num.check()
		}
		if cf := sf.needPresent(l); cf != nil {
			return cf
		}
		sf.num.restrict(n, l)
		return sf.num.check()
	case *ir.StrTest:
		return f.addText(f.slot(n.Slot), l)
	case *ir.Match:
		return f.addText(f.slot(n.Slot), l)
	case *ir.VariantIs:
		v := f.variants[n.Exp]
		if v == nil {
			if f.variants == nil {
				f.variants = map[int]*symFacts{}
			}
			v = &symFacts{}
			f.variants[n.Exp] = v
		}
		if l.neg {
			return v.exclude(n.Variants, l)
		}
		return v.restrict(n.Variants, l)
	}
	return nil
}

// addText records a substring test or pattern.
func (f *facts) addText(sf *slotFacts, l lit) *conflict {
	if !l.neg {
		if cf := sf.needPresent(l); cf != nil {
			return cf
		}
	}
	sf.strs = append(sf.strs, l)
	return f.checkTexts(sf)
}

// checkTexts reports whether none of the symbols the value may be (when
// an equality or in test bounds them) passes its substring tests and
// patterns.
func (f *facts) checkTexts(sf *slotFacts) *conflict {
	if sf.syms.in == nil || len(sf.strs) == 0 {
		return nil
	}
	used := map[int]bool{}
	for sym := range sf.syms.in {
		if sf.syms.out[sym] {
			continue
		}
		failed := -1
		for i, l := range sf.strs {
			if !f.texts.holds(l, f.texts.prog.Symbols[sym]) {
				failed = i
				break
			}
		}
		if failed < 0 {
			return nil
		}
		used[failed] = true
	}
	lits := slices.Clone(sf.syms.inBy)
	if len(sf.syms.out) > 0 {
		lits = append(lits, sf.syms.outBy...)
	}
	for i, l := range sf.strs {
		if used[i] {
			lits = append(lits, l)
		}
	}
	return &conflict{lits: lits, hint: "no value it may be passes the other test: check the texts, or join the tests with or"}
}

func (sf *slotFacts) needPresent(l lit) *conflict {
	sf.present = append(sf.present, l)
	if len(sf.absent) > 0 {
		return &conflict{lits: []lit{sf.absent[0], l}, hint: "a value that is missing has no other test to pass: remove one of them"}
	}
	return nil
}

func (sf *slotFacts) needAbsent(l lit) *conflict {
	sf.absent = append(sf.absent, l)
	if len(sf.present) > 0 {
		return &conflict{lits: []lit{sf.present[0], l}, hint: "a value that is missing has no other test to pass: remove one of them"}
	}
	return nil
}

// restrict requires the value to be one of syms.
func (s *symFacts) restrict(syms []int, l lit) *conflict {
	s.inBy = append(s.inBy, l)
	if s.in == nil {
		s.in = map[int]bool{}
		for _, x := range syms {
			s.in[x] = true
		}
	} else {
		keep := map[int]bool{}
		for _, x := range syms {
			if s.in[x] {
				keep[x] = true
			}
		}
		s.in = keep
	}
	return s.check()
}

// exclude requires the value not to be one of syms.
func (s *symFacts) exclude(syms []int, l lit) *conflict {
	s.outBy = append(s.outBy, l)
	if s.out == nil {
		s.out = map[int]bool{}
	}
	for _, x := range syms {
		s.out[x] = true
	}
	return s.check()
}

func (s *symFacts) check() *conflict {
	if s.in == nil {
		return nil
	}
	for x := range s.in {
		if !s.out[x] {
			return nil
		}
	}
	lits := slices.Clone(s.inBy)
	if len(s.in) > 0 {
		lits = append(lits, s.outBy...) // the exclusions took what was left
	}
	hint := "a value is one at a time: to accept either, join the tests with or, or list the values with in"
	if len(s.inBy) == 1 {
		hint = "remove the value the other test excludes, or one of the tests"
	}
	return &conflict{lits: lits, hint: hint}
}

// restrict narrows the interval to what n accepts.
func (nf *numFacts) restrict(n *ir.NumCmp, l lit) {
	nf.set = true
	nf.by = append(nf.by, l)
	v := n.Value
	switch n.Op {
	case ir.EQ:
		nf.iv.lower(v, false)
		nf.iv.upper(v, false)
	case ir.LT:
		nf.iv.upper(v, true)
	case ir.LE:
		nf.iv.upper(v, false)
	case ir.GT:
		nf.iv.lower(v, true)
	case ir.GE:
		nf.iv.lower(v, false)
	}
}

func (iv *interval) lower(v float64, open bool) {
	if !iv.loSet || v > iv.lo || v == iv.lo && open {
		iv.lo, iv.loOpen, iv.loSet = v, open, true
	}
}

func (iv *interval) upper(v float64, open bool) {
	if !iv.hiSet || v < iv.hi || v == iv.hi && open {
		iv.hi, iv.hiOpen, iv.hiSet = v, open, true
	}
}

func (iv interval) empty() bool {
	return iv.loSet && iv.hiSet && (iv.lo > iv.hi || iv.lo == iv.hi && (iv.loOpen || iv.hiOpen))
}

// wholeAttrs are the attributes whose values are whole numbers: an hour
// of the day, and the request time in seconds (check refuses a fraction).
var wholeAttrs = map[string]bool{"visitor.hour": true, "now": true}

// noWhole reports whether no whole number lies in the interval.
func (iv interval) noWhole() bool {
	if !iv.loSet || !iv.hiSet {
		return false
	}
	lo, hi := math.Ceil(iv.lo), math.Floor(iv.hi)
	if iv.loOpen && lo == iv.lo {
		lo++
	}
	if iv.hiOpen && hi == iv.hi {
		hi--
	}
	return lo > hi
}

// check reports whether no number lies in the interval, out of the
// comparisons the value must fail (which only apply to a number: a
// value some positive comparison made one).
func (nf *numFacts) check() *conflict {
	if !nf.set {
		return nil
	}
	iv := nf.iv
	lits := slices.Clone(nf.by)
	for i, n := range nf.not {
		before := iv
		switch n.Op {
		case ir.LT: // not < v: >= v
			iv.lower(n.Value, false)
		case ir.LE:
			iv.lower(n.Value, true)
		case ir.GT:
			iv.upper(n.Value, false)
		case ir.GE:
			iv.upper(n.Value, true)
		case ir.EQ:
			if iv.loSet && iv.hiSet && iv.lo == n.Value && iv.hi == n.Value && !iv.loOpen && !iv.hiOpen {
				return &conflict{lits: append(lits, nf.notBy[i]), hint: "remove one of them"}
			}
		}
		if iv != before {
			lits = append(lits, nf.notBy[i])
		}
	}
	if iv.empty() {
		return &conflict{lits: lits, hint: "no number passes all of them: check the bounds, or join the tests with or"}
	}
	if nf.whole && iv.noWhole() {
		return &conflict{lits: lits, hint: "no whole number passes all of them: check the bounds, or join the tests with or"}
	}
	return nil
}
