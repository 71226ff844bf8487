package ir

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Shared is a program's conditions with every distinct condition once: a
// condition written in several rules, or a segment several rules refer to,
// is one node with several uses. The code generator computes each node at
// most once per decision; the reference evaluator keeps evaluating the
// trees as written, so that the two stay independent.
//
// Conditions have no side effects (the host functions they ask are pure
// for one decision), so sharing them, dropping repeated operands and
// folding constants cannot change a decision.
type Shared struct {
	// Nodes are the distinct conditions, each after the nodes it is made
	// of.
	Nodes []*SNode
	// Rules, Experiments and Segments give the node of each one's
	// condition, by index. A segment no condition refers to has a node
	// all the same.
	Rules, Experiments, Segments []int
}

// SOp is what a shared node is.
type SOp uint8

// Shared node operations.
const (
	// SLeaf is a test of the context: Leaf holds it.
	SLeaf SOp = iota + 1
	// SAnd holds when every operand holds.
	SAnd
	// SOr holds when one operand holds.
	SOr
	// SNot holds when its one operand does not.
	SNot
	// SConst is the constant Value.
	SConst
)

// SNode is one distinct condition.
type SNode struct {
	Op SOp
	// Leaf is the test, for SLeaf: *Exists, *Truthy, *SymIn (its Syms
	// sorted, without repeats), *StrTest, *NumCmp, *Match, *Seen or
	// *VariantIs (its Variants sorted, without repeats).
	Leaf Node
	// X are the operands (indexes in Shared.Nodes), in the order written,
	// without repeats; And and Or have at least two.
	X []int
	// Value is the constant, for SConst.
	Value bool
	// Uses counts the references to the node from rules, experiments and
	// the nodes they are made of. A node no rule or experiment needs (an
	// unused segment, an operand folded away) has none.
	Uses int
}

// Share builds the shared form of p's conditions.
func Share(p *Program) *Shared {
	b := &sharer{p: p, s: &Shared{}, index: map[string]int{}, segs: make([]int, len(p.Segments))}
	for i := range b.segs {
		b.segs[i] = -1
	}
	for i := range p.Segments {
		b.s.Segments = append(b.s.Segments, b.segment(i, nil))
	}
	for _, x := range p.Experiments {
		b.s.Experiments = append(b.s.Experiments, b.node(x.Cond))
	}
	for _, r := range p.Rules {
		b.s.Rules = append(b.s.Rules, b.node(r.Cond))
	}
	b.s.countUses()
	return b.s
}

// countUses counts the references to each node from the rules, the
// experiments, and the nodes they need. Operands come before the nodes
// made of them, so one backward pass sees every user before its operands.
func (s *Shared) countUses() {
	for _, i := range s.Rules {
		s.Nodes[i].Uses++
	}
	for _, i := range s.Experiments {
		s.Nodes[i].Uses++
	}
	for i := len(s.Nodes) - 1; i >= 0; i-- {
		if n := s.Nodes[i]; n.Uses > 0 {
			for _, x := range n.X {
				s.Nodes[x].Uses++
			}
		}
	}
}

type sharer struct {
	p     *Program
	s     *Shared
	index map[string]int // node key -> index
	segs  []int          // node of each segment, -1 while unknown
	key   []byte         // scratch for keys
}

// segment returns segment i's node. A segment that refers to itself,
// which the checker refuses, would be a constant false here rather than
// an endless recursion.
func (b *sharer) segment(i int, path []int) int {
	if b.segs[i] >= 0 {
		return b.segs[i]
	}
	if slices.Contains(path, i) {
		return b.constant(false)
	}
	b.segs[i] = b.nodeIn(b.p.Segments[i].Cond, append(path, i))
	return b.segs[i]
}

func (b *sharer) node(n Node) int { return b.nodeIn(n, nil) }

// nodeIn returns the node of n, interning it and what it is made of;
// path is the segments being resolved.
func (b *sharer) nodeIn(n Node, path []int) int {
	switch n := n.(type) {
	case *Const:
		return b.constant(n.Value)
	case *SegmentRef:
		return b.segment(n.Index, path)
	case *Not:
		x := b.nodeIn(n.X, path)
		switch xn := b.s.Nodes[x]; xn.Op {
		case SConst:
			return b.constant(!xn.Value)
		case SNot:
			return xn.X[0]
		}
		return b.intern(&SNode{Op: SNot, X: []int{x}}, "!"+strconv.Itoa(x))
	case *And, *Or:
		op, xs := SAnd, []Node(nil)
		if a, ok := n.(*And); ok {
			xs = a.X
		} else {
			op, xs = SOr, n.(*Or).X
		}
		// and: true operands drop out, a false one decides; or: the
		// reverse. Operands of the same operation are spliced in.
		decides := op == SOr
		var ops []int
		var add func(i int) bool
		add = func(i int) bool {
			xn := b.s.Nodes[i]
			switch {
			case xn.Op == SConst && xn.Value == decides:
				return true
			case xn.Op == SConst:
			case xn.Op == op:
				for _, y := range xn.X {
					if add(y) {
						return true
					}
				}
			case !slices.Contains(ops, i):
				ops = append(ops, i)
			}
			return false
		}
		for _, x := range xs {
			if add(b.nodeIn(x, path)) {
				return b.constant(decides)
			}
		}
		switch len(ops) {
		case 0:
			return b.constant(!decides)
		case 1:
			return ops[0]
		}
		k := append(b.key[:0], 'a')
		if op == SOr {
			k[0] = 'o'
		}
		for _, x := range ops {
			k = strconv.AppendInt(append(k, ' '), int64(x), 10)
		}
		b.key = k
		return b.intern(&SNode{Op: op, X: ops}, string(k))
	}
	leaf, key := b.leafKey(n)
	return b.intern(&SNode{Op: SLeaf, Leaf: leaf}, key)
}

func (b *sharer) constant(v bool) int {
	if v {
		return b.intern(&SNode{Op: SConst, Value: true}, "c1")
	}
	return b.intern(&SNode{Op: SConst}, "c0")
}

// intern returns the node with the key, adding sn when there is none.
func (b *sharer) intern(sn *SNode, key string) int {
	if i, ok := b.index[key]; ok {
		return i
	}
	b.s.Nodes = append(b.s.Nodes, sn)
	b.index[key] = len(b.s.Nodes) - 1
	return len(b.s.Nodes) - 1
}

// leafKey returns a leaf in normal form and a key that two leaves share
// exactly when they test the same thing.
func (b *sharer) leafKey(n Node) (Node, string) {
	k := b.key[:0]
	num := func(tag byte, xs ...int) {
		k = append(k, tag)
		for _, x := range xs {
			k = strconv.AppendInt(append(k, ' '), int64(x), 10)
		}
	}
	var leaf Node = n
	switch n := n.(type) {
	case *Exists:
		num('e', n.Slot)
	case *Truthy:
		num('t', n.Slot)
	case *SymIn:
		syms := n.Syms
		if !isSet(syms) {
			syms = slices.Compact(slices.Sorted(slices.Values(syms)))
			leaf = &SymIn{Pos: n.Pos, Slot: n.Slot, Syms: syms}
		}
		num('i', n.Slot)
		num(':', syms...)
	case *StrTest:
		num('s', n.Slot, int(n.Op), len(n.Arg))
		k = append(append(k, ' '), n.Arg...)
	case *NumCmp:
		num('n', n.Slot, int(n.Op))
		k = strconv.AppendUint(append(k, ' '), math.Float64bits(n.Value), 16)
	case *Match:
		num('m', n.Slot, n.Pattern)
	case *Seen:
		num('x', n.Item)
	case *VariantIs:
		vs := n.Variants
		if !isSet(vs) {
			vs = slices.Compact(slices.Sorted(slices.Values(vs)))
			leaf = &VariantIs{Pos: n.Pos, Exp: n.Exp, Variants: vs}
		}
		num('v', n.Exp)
		num(':', vs...)
	default:
		panic(fmt.Sprintf("ir: unknown node %T", n))
	}
	b.key = k
	return leaf, string(k)
}

// isSet reports whether xs is sorted without repeats.
func isSet(xs []int) bool {
	for i := 1; i < len(xs); i++ {
		if xs[i] <= xs[i-1] {
			return false
		}
	}
	return true
}
