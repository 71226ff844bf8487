package bounded

import (
	"bytes"
	"fmt"
	"regexp/syntax"
	"slices"

	"github.com/bespoke-edge/bespoke/plugin"
)

// kind is what the verifier knows of a value on the operand stack.
type kind uint8

const (
	unknown kind = iota
	constant
	slotLen // the len field of a slot entry, which only the host writes
)

// aval is an operand: its type and what is known of its value.
type aval struct {
	t valType
	k kind
	c uint32 // the constant, or the slot index
}

// frame is an open block, loop, if, or the function itself.
type frame struct {
	op          byte // 0x02 block, 0x04 if, 0 the function
	results     []valType
	height      int
	unreachable bool
	hasElse     bool
}

// call is a call site, for the call graph and the cost.
type call struct {
	callee uint32 // function index (imports first)
	// The callee's cost when it is a helper or an import: fixed, and per
	// byte of the longest value.
	cost, perByte int64
}

// fnInfo is what the validation of one ordinary function found.
type fnInfo struct {
	instrs int64
	calls  []call
}

// Costs of the helpers in instructions, from their bodies: StartsWith
// runs 20 instructions per byte compared, EndsWith adds a call, Contains
// repeats a StartsWith per byte of the value (perByte).
func helperCost(h Helper, clen uint32) (fixed, perByte int64) {
	sw := 12 + 20*int64(clen)
	switch h {
	case EndsWith:
		return 10 + sw, 0
	case Contains:
		return 20, 20 + sw
	}
	return sw, 0
}

// RegexByteCost is what the host's regex_match costs, in instructions, per
// byte of the value and per instruction of the pattern's program: Go's
// regexp runs in time linear in both (measured on this machine's class:
// some 7 ns a step, where an instruction of compiled Wasm takes 0.6).
const RegexByteCost = 16

// regexCallCost is the fixed part of a regex_match call.
const regexCallCost = 200

// SeenByteCost is what the host's seen costs, in instructions, per byte
// of the item id it is asked about (a symbol of the manifest), which it
// hashes: some 2 ns a byte. seenCallCost is the fixed part (the call and
// the filter's probes).
const (
	SeenByteCost = 4
	seenCallCost = 200
)

// What an instruction counts for in the static cost when it can take
// the time of many simple ones: MaxCost is some 10 ms at 0.6 ns an
// instruction, but a chain of steps each waiting for the one before runs
// at the latency of its slowest instruction. Measured on this machine's
// class (AMD EPYC, wazero's compiler): a square root 5.6 ns, a 64-bit
// division 4.6, a float division 3.7, a conversion between integers and
// floats 2, a load at an address the load before read (a pointer chase
// through 3 MiB of data, beside other processes) 6 to 20; a load at a
// constant address, the compiled rules' way of reading a slot, hits the
// same line every time.
const (
	// DivideCost is what an integer division or remainder, a float
	// division or a square root counts for.
	DivideCost = 16
	// ConvertCost is what a conversion between an integer and a float
	// (trunc, convert) counts for.
	ConvertCost = 4
	// LoadCost is what a load at an address computed at run time counts
	// for (a load at a constant address counts 1).
	LoadCost = 32
)

// PatternSize is the size of a pattern's program (regexp/syntax's
// instructions), what a match costs per byte of its input; -1 when the
// pattern does not compile.
func PatternSize(p string) int {
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return -1
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return -1
	}
	return len(prog.Inst)
}

// code classifies the functions, validates every ordinary one, and checks
// the call graph and the cost.
func (v *verifier) code() (*Result, error) {
	mod := v.mod
	nimp := uint32(len(mod.imports))
	v.kinds = make([]Helper, len(mod.funcs))
	sw := helperBody(StartsWith, 0)
	canon := map[string]Helper{}
	for i, b := range mod.bodies {
		if v.isHelperType(i) && bytes.Equal(b.bytes, sw) {
			v.kinds[i] = StartsWith
			idx := nimp + uint32(i)
			canon[string(helperBody(EndsWith, idx))] = EndsWith
			canon[string(helperBody(Contains, idx))] = Contains
		}
	}
	res := &Result{Funcs: len(mod.funcs)}
	for i, b := range mod.bodies {
		if v.kinds[i] == 0 && v.isHelperType(i) {
			v.kinds[i] = canon[string(b.bytes)]
		}
		if v.kinds[i] != 0 {
			res.Helpers++
		}
	}
	infos := make([]fnInfo, len(mod.funcs))
	for i := range mod.bodies {
		if v.kinds[i] != 0 {
			continue
		}
		info, err := v.function(i)
		if err != nil {
			return nil, &Error{Func: int(nimp) + i, Name: mod.names[nimp+uint32(i)], Msg: err.Error()}
		}
		infos[i] = info
	}
	// Costs in reverse topological order of the call graph, found by an
	// iterative depth-first walk; a function met again while it is on the
	// walk's path closes a cycle.
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(mod.funcs))
	cost := make([]int64, len(mod.funcs))
	perByte := make([]int64, len(mod.funcs))
	depth := make([]int, len(mod.funcs)) // of the calls below each function
	type step struct {
		f    int
		next int // next call site to visit
	}
	for root := range mod.funcs {
		if color[root] != white || v.kinds[root] != 0 {
			continue
		}
		stack := []step{{f: root}}
		color[root] = grey
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			calls := infos[top.f].calls
			if top.next < len(calls) {
				c := calls[top.next]
				top.next++
				if c.callee < nimp {
					continue
				}
				g := int(c.callee - nimp)
				if v.kinds[g] != 0 {
					continue
				}
				switch color[g] {
				case grey:
					return nil, &Error{Func: int(nimp) + top.f, Name: mod.names[nimp+uint32(top.f)], Msg: fmt.Sprintf("calls function %d, which leads back to it: a call cycle", c.callee)}
				case white:
					color[g] = grey
					stack = append(stack, step{f: g})
				}
				continue
			}
			total, byByte := infos[top.f].instrs, int64(0)
			for _, c := range calls {
				add, addByte := c.cost, c.perByte
				if c.callee >= nimp && v.kinds[c.callee-nimp] == 0 {
					add, addByte = cost[c.callee-nimp], perByte[c.callee-nimp]
					depth[top.f] = max(depth[top.f], 1+depth[c.callee-nimp])
				}
				total = min(total+add, MaxCost+1)
				byByte = min(byByte+addByte, MaxCost+1)
			}
			cost[top.f], perByte[top.f] = total, byByte
			color[top.f] = black
			stack = stack[:len(stack)-1]
		}
	}
	nest := 0
	for _, e := range mod.exports {
		if e.name == plugin.ExportDecide {
			res.Cost, res.PerByte = cost[e.index-nimp], perByte[e.index-nimp]
			nest = depth[e.index-nimp]
		}
	}
	if nest > MaxCallDepth {
		return nil, structErr("%s: calls nest %d deep, over the subset's %d", plugin.ExportDecide, nest, MaxCallDepth)
	}
	if res.Cost > MaxCost {
		return nil, structErr("%s may execute more than %d instructions (its calls multiply): over the subset's static cost", plugin.ExportDecide, MaxCost)
	}
	if res.PerByte > MaxCost {
		return nil, structErr("%s may execute more than %d instructions per byte of a value: over the subset's static cost", plugin.ExportDecide, MaxCost)
	}
	return res, nil
}

func (v *verifier) isHelperType(i int) bool {
	return v.mod.types[v.mod.funcs[i]].equal([]valType{tI32, tI32, tI32, tI32}, []valType{tI32})
}

// numeric gives the operand and result types of the numeric instructions
// (0x45 to 0xbf), two operands when in2 is set, and what those that count
// for more than one instruction cost (0 for one).
var numeric [256]struct {
	in1, in2, out valType
	cost          int64
}

func init() {
	set := func(lo, hi byte, in1, in2, out valType) {
		for op := int(lo); op <= int(hi); op++ {
			numeric[op].in1, numeric[op].in2, numeric[op].out = in1, in2, out
		}
	}
	set(0x45, 0x45, tI32, 0, tI32)    // i32.eqz
	set(0x46, 0x4f, tI32, tI32, tI32) // i32 comparisons
	set(0x50, 0x50, tI64, 0, tI32)    // i64.eqz
	set(0x51, 0x5a, tI64, tI64, tI32) // i64 comparisons
	set(0x5b, 0x60, tF32, tF32, tI32) // f32 comparisons
	set(0x61, 0x66, tF64, tF64, tI32) // f64 comparisons
	set(0x67, 0x69, tI32, 0, tI32)    // i32 clz ctz popcnt
	set(0x6a, 0x78, tI32, tI32, tI32) // i32 arithmetic
	set(0x79, 0x7b, tI64, 0, tI64)    // i64 clz ctz popcnt
	set(0x7c, 0x8a, tI64, tI64, tI64) // i64 arithmetic
	set(0x8b, 0x91, tF32, 0, tF32)    // f32 unary
	set(0x92, 0x98, tF32, tF32, tF32) // f32 binary
	set(0x99, 0x9f, tF64, 0, tF64)    // f64 unary
	set(0xa0, 0xa6, tF64, tF64, tF64) // f64 binary
	set(0xa7, 0xa7, tI64, 0, tI32)    // i32.wrap_i64
	set(0xa8, 0xa9, tF32, 0, tI32)    // i32.trunc_f32
	set(0xaa, 0xab, tF64, 0, tI32)    // i32.trunc_f64
	set(0xac, 0xad, tI32, 0, tI64)    // i64.extend_i32
	set(0xae, 0xaf, tF32, 0, tI64)    // i64.trunc_f32
	set(0xb0, 0xb1, tF64, 0, tI64)    // i64.trunc_f64
	set(0xb2, 0xb3, tI32, 0, tF32)    // f32.convert_i32
	set(0xb4, 0xb5, tI64, 0, tF32)    // f32.convert_i64
	set(0xb6, 0xb6, tF64, 0, tF32)    // f32.demote_f64
	set(0xb7, 0xb8, tI32, 0, tF64)    // f64.convert_i32
	set(0xb9, 0xba, tI64, 0, tF64)    // f64.convert_i64
	set(0xbb, 0xbb, tF32, 0, tF64)    // f64.promote_f32
	set(0xbc, 0xbc, tF32, 0, tI32)    // i32.reinterpret_f32
	set(0xbd, 0xbd, tF64, 0, tI64)    // i64.reinterpret_f64
	set(0xbe, 0xbe, tI32, 0, tF32)    // f32.reinterpret_i32
	set(0xbf, 0xbf, tI64, 0, tF64)    // f64.reinterpret_i64
	for _, op := range []byte{0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82, 0x91, 0x95, 0x9f, 0xa3} {
		numeric[op].cost = DivideCost // div, rem, sqrt
	}
	for op := 0xa8; op <= 0xba; op++ {
		if op != 0xac && op != 0xad && op != 0xb6 { // extend, demote
			numeric[op].cost = ConvertCost // trunc, convert
		}
	}
}

// memOp describes a load or a store: its value type, the bytes it
// accesses and its natural alignment (log2).
type memOp struct {
	t     valType
	size  uint32
	align uint32
}

var memOps = map[byte]memOp{
	0x28: {tI32, 4, 2}, 0x29: {tI64, 8, 3}, 0x2a: {tF32, 4, 2}, 0x2b: {tF64, 8, 3},
	0x2c: {tI32, 1, 0}, 0x2d: {tI32, 1, 0}, 0x2e: {tI32, 2, 1}, 0x2f: {tI32, 2, 1},
	0x30: {tI64, 1, 0}, 0x31: {tI64, 1, 0}, 0x32: {tI64, 2, 1}, 0x33: {tI64, 2, 1},
	0x34: {tI64, 4, 2}, 0x35: {tI64, 4, 2},
	0x36: {tI32, 4, 2}, 0x37: {tI64, 8, 3}, 0x38: {tF32, 4, 2}, 0x39: {tF64, 8, 3},
	0x3a: {tI32, 1, 0}, 0x3b: {tI32, 2, 1}, 0x3c: {tI64, 1, 0}, 0x3d: {tI64, 2, 1}, 0x3e: {tI64, 4, 2},
}

// localRun is a run of locals of type t, up to local end (excluded).
type localRun struct {
	end uint32
	t   valType
}

// local returns the type of local x.
func (f *fn) local(x uint32) (valType, bool) {
	if x >= f.nlocal {
		return 0, false
	}
	i, _ := slices.BinarySearchFunc(f.locals, x, func(r localRun, x uint32) int {
		if r.end <= x {
			return -1
		}
		return 1
	})
	return f.locals[i].t, true
}

// fn is the validation state of one function body.
type fn struct {
	v *verifier
	r *reader
	// locals are runs of locals of one type, as declared (parameters one
	// each): memory in proportion to the declarations' bytes, however
	// many locals they declare.
	locals []localRun
	nlocal uint32
	vals   []aval
	ctrl   []frame
	info   fnInfo
}

// function validates ordinary function i (not a helper): the
// specification's validation algorithm over the subset's instructions,
// with constants and slot lengths tracked.
func (v *verifier) function(i int) (fnInfo, error) {
	mod := v.mod
	t := mod.types[mod.funcs[i]]
	b := mod.bodies[i]
	f := &fn{v: v, r: &reader{b: b.bytes, off: b.off}}
	for _, p := range t.params {
		f.nlocal++
		f.locals = append(f.locals, localRun{end: f.nlocal, t: p})
	}
	runs, err := f.r.count(2)
	if err != nil {
		return fnInfo{}, err
	}
	for range runs {
		n, err := f.r.u32()
		if err != nil {
			return fnInfo{}, err
		}
		lt, err := f.r.valType()
		if err != nil {
			return fnInfo{}, err
		}
		if uint64(f.nlocal)+uint64(n) > maxLocals {
			return fnInfo{}, f.r.errorf("more than %d locals", maxLocals)
		}
		if n > 0 {
			f.nlocal += n
			f.locals = append(f.locals, localRun{end: f.nlocal, t: lt})
		}
	}
	f.ctrl = append(f.ctrl, frame{results: t.results})
	for len(f.ctrl) > 0 {
		if err := f.instr(); err != nil {
			return fnInfo{}, err
		}
		f.info.instrs++
	}
	if !f.r.done() {
		return fnInfo{}, f.r.errorf("code after the function's end")
	}
	return f.info, nil
}

func (f *fn) push(t valType) { f.vals = append(f.vals, aval{t: t}) }

func (f *fn) popAny() (aval, error) {
	top := &f.ctrl[len(f.ctrl)-1]
	if len(f.vals) == top.height {
		if top.unreachable {
			return aval{t: anyType}, nil
		}
		return aval{}, f.r.errorf("operand stack underflow")
	}
	x := f.vals[len(f.vals)-1]
	f.vals = f.vals[:len(f.vals)-1]
	return x, nil
}

func (f *fn) pop(t valType) (aval, error) {
	x, err := f.popAny()
	if err != nil {
		return x, err
	}
	if x.t != t && x.t != anyType {
		return x, f.r.errorf("type mismatch: %s where %s is expected", x.t, t)
	}
	return x, nil
}

// popTypes pops ts, the last on top.
func (f *fn) popTypes(ts []valType) error {
	for i := len(ts) - 1; i >= 0; i-- {
		if _, err := f.pop(ts[i]); err != nil {
			return err
		}
	}
	return nil
}

func (f *fn) setUnreachable() {
	top := &f.ctrl[len(f.ctrl)-1]
	f.vals = f.vals[:top.height]
	top.unreachable = true
}

// label returns the types a branch to depth l carries (no loop can be a
// target outside the helpers, so a label's types are its block's results).
func (f *fn) label(l uint32) ([]valType, error) {
	if uint64(l) >= uint64(len(f.ctrl)) {
		return nil, f.r.errorf("branch depth %d out of range", l)
	}
	return f.ctrl[len(f.ctrl)-1-int(l)].results, nil
}

func (f *fn) blockType() ([]valType, error) {
	c, err := f.r.byte()
	if err != nil {
		return nil, err
	}
	switch t := valType(c); t {
	case 0x40:
		return nil, nil
	case tI32, tI64, tF32, tF64:
		return []valType{t}, nil
	}
	return nil, f.r.errorf("block type 0x%02x is outside the subset", c)
}

func (f *fn) memarg(op memOp) (offset uint32, err error) {
	align, err := f.r.u32()
	if err != nil {
		return 0, err
	}
	if align > op.align {
		return 0, f.r.errorf("alignment 2^%d over the natural 2^%d", align, op.align)
	}
	return f.r.u32()
}

// instr validates one instruction.
func (f *fn) instr() error {
	r := f.r
	op, err := r.byte()
	if err != nil {
		return err
	}
	v := f.v
	mod := v.mod
	switch {
	case op == 0x00: // unreachable
		f.setUnreachable()
	case op == 0x01: // nop
	case op == 0x02 || op == 0x04: // block, if
		results, err := f.blockType()
		if err != nil {
			return err
		}
		if op == 0x04 {
			if _, err := f.pop(tI32); err != nil {
				return err
			}
		}
		f.ctrl = append(f.ctrl, frame{op: op, results: results, height: len(f.vals)})
	case op == 0x03:
		return r.errorf("loop outside the string helpers")
	case op == 0x05: // else
		top := &f.ctrl[len(f.ctrl)-1]
		if top.op != 0x04 || top.hasElse {
			return r.errorf("else without if")
		}
		if err := f.popTypes(top.results); err != nil {
			return err
		}
		if len(f.vals) != top.height {
			return r.errorf("values left on the stack at else")
		}
		top.hasElse, top.unreachable = true, false
	case op == 0x0b: // end
		top := f.ctrl[len(f.ctrl)-1]
		if err := f.popTypes(top.results); err != nil {
			return err
		}
		if len(f.vals) != top.height {
			return r.errorf("values left on the stack at end")
		}
		if top.op == 0x04 && !top.hasElse && len(top.results) > 0 {
			return r.errorf("if with a result and no else")
		}
		f.ctrl = f.ctrl[:len(f.ctrl)-1]
		for _, t := range top.results {
			f.push(t)
		}
	case op == 0x0c || op == 0x0d: // br, br_if
		l, err := r.u32()
		if err != nil {
			return err
		}
		ts, err := f.label(l)
		if err != nil {
			return err
		}
		if op == 0x0d {
			if _, err := f.pop(tI32); err != nil {
				return err
			}
		}
		if err := f.popTypes(ts); err != nil {
			return err
		}
		if op == 0x0c {
			f.setUnreachable()
		} else {
			for _, t := range ts {
				f.push(t)
			}
		}
	case op == 0x0e: // br_table
		n, err := r.count(1)
		if err != nil {
			return err
		}
		var want []valType
		for i := uint32(0); i <= n; i++ {
			l, err := r.u32()
			if err != nil {
				return err
			}
			ts, err := f.label(l)
			if err != nil {
				return err
			}
			if i > 0 && !bytes.Equal(valBytes(ts), valBytes(want)) {
				return r.errorf("br_table targets of different types")
			}
			want = ts
		}
		if _, err := f.pop(tI32); err != nil {
			return err
		}
		if err := f.popTypes(want); err != nil {
			return err
		}
		f.setUnreachable()
	case op == 0x0f: // return
		if err := f.popTypes(f.ctrl[0].results); err != nil {
			return err
		}
		f.setUnreachable()
	case op == 0x10: // call
		idx, err := r.u32()
		if err != nil {
			return err
		}
		return f.call(idx)
	case op == 0x11:
		return r.errorf("call_indirect is outside the subset")
	case op == 0x1a: // drop
		_, err := f.popAny()
		return err
	case op == 0x1b: // select
		if _, err := f.pop(tI32); err != nil {
			return err
		}
		a, err := f.popAny()
		if err != nil {
			return err
		}
		b, err := f.popAny()
		if err != nil {
			return err
		}
		if a.t != b.t && a.t != anyType && b.t != anyType {
			return r.errorf("select between %s and %s", b.t, a.t)
		}
		t := a.t
		if t == anyType {
			t = b.t
		}
		f.push(t)
	case op >= 0x20 && op <= 0x22: // local.get, local.set, local.tee
		x, err := r.u32()
		if err != nil {
			return err
		}
		t, ok := f.local(x)
		if !ok {
			return r.errorf("local %d out of range", x)
		}
		if op != 0x20 {
			if _, err := f.pop(t); err != nil {
				return err
			}
		}
		if op != 0x21 {
			f.push(t)
		}
	case op == 0x23 || op == 0x24: // global.get, global.set
		x, err := r.u32()
		if err != nil {
			return err
		}
		if uint64(x) >= uint64(len(mod.globals)) {
			return r.errorf("global %d out of range", x)
		}
		g := mod.globals[x]
		if op == 0x23 {
			f.push(g.t)
			return nil
		}
		if !g.mutable {
			return r.errorf("global.set of immutable global %d", x)
		}
		_, err = f.pop(g.t)
		return err
	case op >= 0x28 && op <= 0x35: // loads
		m := memOps[op]
		offset, err := f.memarg(m)
		if err != nil {
			return err
		}
		addr, err := f.pop(tI32)
		if err != nil {
			return err
		}
		if addr.k != constant {
			f.info.instrs += LoadCost - 1
		}
		out := aval{t: m.t}
		if op == 0x28 && addr.k == constant {
			l := v.m.Layout
			ea := uint64(addr.c) + uint64(offset)
			table := uint64(len(v.m.Slots)) * plugin.SlotSize
			if ea >= uint64(l.Slots) && ea < uint64(l.Slots)+table && (ea-uint64(l.Slots))%plugin.SlotSize == plugin.SlotLen {
				out = aval{t: tI32, k: slotLen, c: uint32((ea - uint64(l.Slots)) / plugin.SlotSize)}
			}
		}
		f.vals = append(f.vals, out)
	case op >= 0x36 && op <= 0x3e: // stores
		m := memOps[op]
		offset, err := f.memarg(m)
		if err != nil {
			return err
		}
		if _, err := f.pop(m.t); err != nil {
			return err
		}
		addr, err := f.pop(tI32)
		if err != nil {
			return err
		}
		l := v.m.Layout
		ea := uint64(addr.c) + uint64(offset)
		if addr.k != constant {
			return r.errorf("store to a computed address: the subset writes only at constant addresses in the Decision")
		}
		if ea < uint64(l.Decision) || ea+uint64(m.size) > uint64(l.Data) {
			return r.errorf("store at %d..%d, outside the Decision and scratch space (%d..%d)", ea, ea+uint64(m.size), l.Decision, l.Data)
		}
	case op == 0x3f:
		return r.errorf("memory.size is outside the subset")
	case op == 0x40:
		return r.errorf("memory.grow is outside the subset")
	case op == 0x41:
		c, err := r.s32()
		if err != nil {
			return err
		}
		f.vals = append(f.vals, aval{t: tI32, k: constant, c: uint32(c)})
	case op == 0x42:
		if _, err := r.s64(); err != nil {
			return err
		}
		f.push(tI64)
	case op == 0x43:
		if _, err := r.bytes(4); err != nil {
			return err
		}
		f.push(tF32)
	case op == 0x44:
		if _, err := r.bytes(8); err != nil {
			return err
		}
		f.push(tF64)
	case op >= 0x45 && op <= 0xbf:
		n := numeric[op]
		if n.cost > 0 {
			f.info.instrs += n.cost - 1
		}
		if n.in2 != 0 {
			if _, err := f.pop(n.in2); err != nil {
				return err
			}
		}
		if _, err := f.pop(n.in1); err != nil {
			return err
		}
		f.push(n.out)
	default:
		return r.errorf("opcode 0x%02x is outside the subset", op)
	}
	return nil
}

// call validates a direct call and records it. A call to a string helper
// must pass a value's length as the host wrote it (loaded from the slot
// table) and a constant no longer than the module's data: the helper's
// loops then run at most as long as the value, times the constant.
func (f *fn) call(idx uint32) error {
	mod := f.v.mod
	nimp := uint32(len(mod.imports))
	var t funcType
	switch {
	case idx < nimp:
		t = mod.types[mod.impTypes[idx]]
	case uint64(idx-nimp) < uint64(len(mod.funcs)):
		t = mod.types[mod.funcs[idx-nimp]]
	default:
		return f.r.errorf("call of function %d, out of range", idx)
	}
	c := call{callee: idx, cost: 1}
	if idx < nimp && mod.imports[idx] == plugin.ImportRegexMatch {
		// (pattern, slot): a constant pattern costs its own program's
		// size per byte, another the largest of the manifest's.
		n := len(f.vals)
		if n-f.ctrl[len(f.ctrl)-1].height < 2 {
			return f.r.errorf("call of %s with its arguments not in view", plugin.ImportRegexMatch)
		}
		size := f.v.maxPattern
		if pat := f.vals[n-2]; pat.k == constant && int(pat.c) < len(f.v.patternSize) {
			size = f.v.patternSize[pat.c]
		}
		c.cost, c.perByte = regexCallCost, RegexByteCost*int64(size)
	}
	if idx < nimp && mod.imports[idx] == plugin.ImportSeen {
		// (symbol): a constant symbol costs its own length, another the
		// longest of the manifest's.
		n := len(f.vals)
		if n-f.ctrl[len(f.ctrl)-1].height < 1 {
			return f.r.errorf("call of %s with its argument not in view", plugin.ImportSeen)
		}
		size := f.v.maxSymbol
		if sym := f.vals[n-1]; sym.k == constant && int64(sym.c) < int64(len(f.v.m.Symbols)) {
			size = len(f.v.m.Symbols[sym.c])
		}
		c.cost = seenCallCost + SeenByteCost*int64(size)
	}
	if idx >= nimp {
		if h := f.v.kinds[idx-nimp]; h != 0 {
			n := len(f.vals)
			if n-f.ctrl[len(f.ctrl)-1].height < 4 {
				return f.r.errorf("call of %s with its arguments not in view", h)
			}
			length, clen := f.vals[n-3], f.vals[n-1]
			if length.k != slotLen {
				return f.r.errorf("call of %s on a length that is not a slot's (read from the slot table)", h)
			}
			if clen.k != constant || uint64(clen.c) > mod.dataBytes {
				return f.r.errorf("call of %s with a constant length over the module's %d bytes of data", h, mod.dataBytes)
			}
			c.cost, c.perByte = helperCost(h, clen.c)
		}
	}
	if err := f.popTypes(t.params); err != nil {
		return err
	}
	for _, r := range t.results {
		f.push(r)
	}
	f.info.calls = append(f.info.calls, c)
	return nil
}
