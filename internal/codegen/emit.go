package codegen

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/wasm"
	"github.com/bespoke-edge/bespoke/plugin"
)

// fn is a function under construction: its body, its locals, and the
// values its prologue loads once at entry (atom words, slot values),
// which its body may then read anywhere, branches or not.
type fn struct {
	g      *gen
	locals []wasm.ValType
	body   *wasm.Code
	// cacheWords copies the atom words the body reads into locals at
	// entry; decide cannot, the atoms being computed after it starts.
	cacheWords bool
	words      map[int]uint32
	slotVals   map[slotValue]uint32
	// building is the atom word the function computes into local acc, or
	// -1.
	building int
	acc      uint32
	// memoOf is the remembered condition the function computes, or -1.
	memoOf  int
	scratch int // an i32 local, or -1 until needed
}

// slotValue is a value of a slot a prologue loads.
type slotValue struct {
	slot int
	what valueKind
}

type valueKind uint8

const (
	// symOffset (i32) is the value's symbol minus the first id of its
	// slot's run: past the run when the value has no symbol (-1).
	symOffset valueKind = iota
	// oneHot (i64) is 1 << symOffset, or 0 when symOffset is not below 64.
	oneHot
	flagBits // i32: the slot's flags
	isNum    // i32: 1 when the value is present and a number
	number   // f64: the number
)

func (g *gen) newFn(cacheWords bool) *fn {
	return &fn{g: g, body: &wasm.Code{}, cacheWords: cacheWords, words: map[int]uint32{}, slotVals: map[slotValue]uint32{}, building: -1, memoOf: -1, scratch: -1}
}

func (f *fn) local(t wasm.ValType) uint32 {
	f.locals = append(f.locals, t)
	return uint32(len(f.locals) - 1)
}

func (f *fn) scratchLocal() uint32 {
	if f.scratch < 0 {
		f.scratch = int(f.local(wasm.I32))
	}
	return uint32(f.scratch)
}

// slot returns the local holding a value of a slot, loaded by the
// prologue.
func (f *fn) slot(slot int, what valueKind) uint32 {
	k := slotValue{slot, what}
	if l, ok := f.slotVals[k]; ok {
		return l
	}
	t := wasm.I32
	switch what {
	case oneHot:
		f.slot(slot, symOffset)
		t = wasm.I64
	case number:
		t = wasm.F64
	}
	l := f.local(t)
	f.slotVals[k] = l
	return l
}

// finish prepends the prologue to the body and returns the function.
func (f *fn) finish(name string, params, results []wasm.ValType) wasm.Func {
	g := f.g
	pro := &wasm.Code{}
	for _, w := range slices.Sorted(mapKeys(f.words)) {
		pro.GlobalGet(g.gAtoms + uint32(w)).LocalSet(f.words[w])
	}
	// In slot order, a slot's symbol offset before its one-hot mask.
	vals := slices.SortedFunc(mapKeys(f.slotVals), func(a, b slotValue) int {
		return cmp.Or(cmp.Compare(a.slot, b.slot), cmp.Compare(a.what, b.what))
	})
	for _, v := range vals {
		switch v.what {
		case symOffset:
			g.slotField(pro, v.slot, plugin.SlotSym)
			if b := g.syms.base[v.slot]; b != 0 {
				pro.I32Const(int32(b)).I32Sub()
			}
		case oneHot:
			off := f.slotVals[slotValue{v.slot, symOffset}]
			pro.I64Const(1).LocalGet(off).I64ExtendI32U().I64Shl()
			pro.I64Const(0)
			pro.LocalGet(off).I32Const(64).I32LtU().Select()
		case flagBits:
			g.slotField(pro, v.slot, plugin.SlotFlags)
		case isNum:
			g.isNumber(pro, v.slot)
		case number:
			g.slotField(pro, v.slot, plugin.SlotNum)
		}
		pro.LocalSet(f.slotVals[v])
	}
	pro.Append(f.body)
	return wasm.Func{Name: name, Type: g.mod.Type(params, results), Locals: f.locals, Body: pro}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// word pushes atom word w.
func (f *fn) word(w int) {
	c := f.body
	switch {
	case w == f.building:
		c.LocalGet(f.acc)
	case f.cacheWords:
		l, ok := f.words[w]
		if !ok {
			l = f.local(wasm.I64)
			f.words[w] = l
		}
		c.LocalGet(l)
	default:
		c.GlobalGet(f.g.gAtoms + uint32(w))
	}
}

// bits pushes an i64 whose bit p is eager node k (the other bits are
// anything): atoms are rotated into place, and, or, not are bitwise.
func (f *fn) bits(k, p int) {
	g, c := f.g, f.body
	if a := g.atom[k]; a >= 0 {
		f.word(a / 64)
		if r := (p - a%64) & 63; r != 0 {
			c.I64Const(int64(r)).I64Rotl()
		}
		return
	}
	sn := g.sh.Nodes[k]
	switch sn.Op {
	case ir.SConst:
		if sn.Value {
			c.I64Const(-1)
		} else {
			c.I64Const(0)
		}
	case ir.SAnd, ir.SOr:
		for i, x := range sn.X {
			f.bits(x, p)
			if i == 0 {
				continue
			}
			if sn.Op == ir.SAnd {
				c.I64And()
			} else {
				c.I64Or()
			}
		}
	case ir.SNot:
		f.bits(sn.X[0], p)
		c.I64Const(-1).I64Xor()
	default:
		f.eagerDef(k)
		c.I64ExtendI32U()
		if p > 0 {
			c.I64Const(int64(p)).I64Shl()
		}
	}
}

// eagerValue pushes eager node k as an i32 0 or 1.
func (f *fn) eagerValue(k int) {
	if a := f.g.atom[k]; a >= 0 {
		f.word(a / 64)
		f.body.I64Const(int64(uint64(1) << (a % 64))).I64And().I64Const(0).I64Ne()
		return
	}
	f.eagerDef(k)
}

// eagerDef computes eager node k from its definition, as an i32 0 or 1.
func (f *fn) eagerDef(k int) {
	g, c := f.g, f.body
	sn := g.sh.Nodes[k]
	switch sn.Op {
	case ir.SConst:
		c.I32Const(b2i(sn.Value))
		return
	case ir.SAnd, ir.SOr:
		for i, x := range sn.X {
			f.eagerValue(x)
			if i == 0 {
				continue
			}
			if sn.Op == ir.SAnd {
				c.I32And()
			} else {
				c.I32Or()
			}
		}
		return
	case ir.SNot:
		f.eagerValue(sn.X[0])
		c.I32Eqz()
		return
	}
	switch n := sn.Leaf.(type) {
	case *ir.Exists:
		c.LocalGet(f.slot(n.Slot, flagBits)).I32Const(plugin.FlagPresent).I32And()
	case *ir.Truthy:
		c.LocalGet(f.slot(n.Slot, isNum)).LocalGet(f.slot(n.Slot, number)).F64Const(0).F64Ne().I32And()
	case *ir.NumCmp:
		c.LocalGet(f.slot(n.Slot, isNum)).LocalGet(f.slot(n.Slot, number)).F64Const(n.Value)
		switch n.Op {
		case ir.EQ:
			c.F64Eq()
		case ir.LT:
			c.F64Lt()
		case ir.LE:
			c.F64Le()
		case ir.GT:
			c.F64Gt()
		case ir.GE:
			c.F64Ge()
		}
		c.I32And()
	case *ir.SymIn:
		f.symIn(k, n)
	default:
		// A substring test, regular expression or seen() that enough
		// conditions use to be computed with the atoms.
		f.def(k)
	}
}

// symIn tests a value's symbol against an `in` list: one compare for one
// symbol, a 64-bit mask when its slot has at most 64 symbols, else a
// bitmap in the module's data.
func (f *fn) symIn(k int, n *ir.SymIn) {
	g, c := f.g, f.body
	t := &g.syms
	size := t.count[n.Slot]
	switch {
	case len(n.Syms) == 1:
		c.LocalGet(f.slot(n.Slot, symOffset)).I32Const(int32(t.local[n.Slot][n.Syms[0]])).I32Eq()
	case size <= 64:
		c.LocalGet(f.slot(n.Slot, oneHot)).I64Const(int64(t.mask(n))).I64And().I64Const(0).I64Ne()
	default:
		// The offset, clamped to the bitmap's last, clear bit.
		off, s := f.slot(n.Slot, symOffset), f.scratchLocal()
		c.LocalGet(off).I32Const(int32(size)).LocalGet(off).I32Const(int32(size)).I32LtU().Select().LocalTee(s)
		c.I32Const(3).I32ShrU().I32Load8U(g.bitmaps[k])
		c.LocalGet(s).I32Const(7).I32And().I32ShrU().I32Const(1).I32And()
	}
}

// cond pushes node k as an i32 0 or 1, whatever its class: eager nodes
// from the atom bits, remembered ones from memory once known.
func (f *fn) cond(k int) {
	g, c := f.g, f.body
	sn := g.sh.Nodes[k]
	switch {
	case g.class[k] == eager && sn.Op == ir.SConst:
		c.I32Const(b2i(sn.Value))
	case g.class[k] == eager && g.atom[k] >= 0:
		f.eagerValue(k)
	case g.class[k] == eager:
		f.bits(k, 0)
		c.I32WrapI64().I32Const(1).I32And()
	case g.memo[k] >= 0 && f.memoOf != k:
		m := g.memo[k]
		word, bit := uint32(m/64), int64(uint64(1)<<(m%64))
		c.GlobalGet(g.gKnown + word).I64Const(bit).I64And().I64Eqz()
		c.If(wasm.BlockI32).Call(g.fnMemos + uint32(m))
		c.Else().GlobalGet(g.gValue + word).I64Const(bit).I64And().I64Const(0).I64Ne()
		c.End()
	default:
		f.def(k)
	}
}

// def computes node k, inline or costly, from its definition. And and or
// stop at the first operand that decides, like the reference evaluator,
// and test their eager operands first, all at once: they cost a few
// instructions, a costly operand a call.
func (f *fn) def(k int) {
	g, c := f.g, f.body
	sn := g.sh.Nodes[k]
	switch sn.Op {
	case ir.SNot:
		f.cond(sn.X[0])
		c.I32Eqz()
		return
	case ir.SAnd, ir.SOr:
		var now []int
		rest := slices.Clone(sn.X)
		rest = slices.DeleteFunc(rest, func(x int) bool {
			if g.class[x] == eager {
				now = append(now, x)
				return true
			}
			return false
		})
		slices.SortStableFunc(rest, func(a, b int) int { return cmp.Compare(g.class[a], g.class[b]) })
		var ops []func()
		if len(now) > 0 {
			ops = append(ops, func() {
				for i, x := range now {
					f.bits(x, 0)
					if i == 0 {
						continue
					}
					if sn.Op == ir.SAnd {
						c.I64And()
					} else {
						c.I64Or()
					}
				}
				c.I32WrapI64().I32Const(1).I32And()
			})
		}
		for _, x := range rest {
			ops = append(ops, func() { f.cond(x) })
		}
		stop := int32(0)
		if sn.Op == ir.SOr {
			stop = 1
		}
		c.Block(wasm.BlockI32)
		for i, op := range ops {
			if i == len(ops)-1 {
				op()
				break
			}
			c.I32Const(stop)
			op()
			if stop == 0 {
				c.I32Eqz()
			}
			c.BrIf(0).Drop()
		}
		c.End()
		return
	}
	switch n := sn.Leaf.(type) {
	case *ir.VariantIs:
		c.I32Const(0).I32Load(g.layout.Variants + uint32(4*n.Exp))
		if len(n.Variants) == 1 {
			c.I32Const(int32(n.Variants[0])).I32Eq()
			return
		}
		s := f.scratchLocal()
		c.LocalSet(s)
		for i, v := range n.Variants {
			c.LocalGet(s).I32Const(int32(v)).I32Eq()
			if i > 0 {
				c.I32Or()
			}
		}
	case *ir.StrTest:
		// The helper's arguments are loaded from the slot table where
		// they are used: the verifier checks that a helper's length is
		// one the host wrote.
		g.slotField(c, n.Slot, plugin.SlotFlags)
		c.I32Const(plugin.FlagPresent).I32And().If(wasm.BlockI32)
		g.slotField(c, n.Slot, plugin.SlotPtr)
		g.slotField(c, n.Slot, plugin.SlotLen)
		c.I32Const(int32(g.consts[n.Arg])).I32Const(int32(len(n.Arg)))
		switch n.Op {
		case ir.Prefix:
			c.Call(g.fnPrefix)
		case ir.Suffix:
			c.Call(g.fnSuffix)
		default:
			c.Call(g.fnContains)
		}
		c.Else().I32Const(0).End()
	case *ir.Match:
		g.slotField(c, n.Slot, plugin.SlotFlags)
		c.I32Const(plugin.FlagPresent).I32And().If(wasm.BlockI32)
		c.I32Const(int32(n.Pattern)).I32Const(int32(n.Slot)).Call(g.fnRegex).I32Const(0).I32Ne()
		c.Else().I32Const(0).End()
	case *ir.Seen:
		c.I32Const(int32(g.syms.seen[n.Item])).Call(g.fnSeen).I32Const(0).I32Ne()
	default:
		panic(fmt.Sprintf("codegen: %T is not a costly or inline test", n))
	}
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}
